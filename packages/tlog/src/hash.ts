import { createHash, hash as oneShotHash } from 'node:crypto'
import { TlogError } from './errors.js'

/** A SHA-256 digest: always exactly {@link HASH_SIZE} bytes. Treat hashes as immutable values. */
export type Hash = Uint8Array

/** Size of a SHA-256 hash in bytes (RFC 6962 §2.1 uses SHA-256). */
export const HASH_SIZE = 32

/** RFC 6962 §2.1 domain separation prefixes: a leaf hash can never be confused with an interior node hash. */
const LEAF_PREFIX = 0x00
const NODE_PREFIX = 0x01

// Node's Buffer has a different toString and JSON form; callers get plain Uint8Arrays.
function asHash(digest: Buffer): Hash {
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
}

/** SHA-256 of the concatenation of `parts`, without building the concatenation. */
export function sha256(...parts: readonly Uint8Array[]): Hash {
  if (parts.length === 1) return asHash(oneShotHash('sha256', parts[0]!, 'buffer'))
  const hasher = createHash('sha256')
  for (const part of parts) hasher.update(part)
  return asHash(hasher.digest())
}

// One reused input buffer for the hot paths: the one-shot hash of a single buffer is much faster than
// createHash().update().update().digest(), and a synchronous call cannot be interleaved with another.
const nodeInput = Buffer.allocUnsafeSlow(1 + 2 * HASH_SIZE)
nodeInput[0] = NODE_PREFIX
const LEAF_SCRATCH_SIZE = 4096
const leafInput = Buffer.allocUnsafeSlow(1 + LEAF_SCRATCH_SIZE)
leafInput[0] = LEAF_PREFIX
const LEAF_PREFIX_BYTES = new Uint8Array([LEAF_PREFIX])

/** The RFC 6962 §2.1 leaf hash: SHA-256(0x00 || leaf). */
export function hashLeaf(leaf: Uint8Array): Hash {
  if (leaf.length <= LEAF_SCRATCH_SIZE) {
    leafInput.set(leaf, 1)
    return asHash(oneShotHash('sha256', leafInput.subarray(0, 1 + leaf.length), 'buffer'))
  }
  return sha256(LEAF_PREFIX_BYTES, leaf)
}

/**
 * The RFC 6962 §2.1 interior node hash: SHA-256(0x01 || left || right).
 * Throws TlogError INVALID_ARGUMENT unless both children are 32-byte hashes.
 */
export function hashChildren(left: Hash, right: Hash): Hash {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    throw new TlogError('INVALID_ARGUMENT', 'child hashes must be 32 bytes')
  }
  nodeInput.set(left, 1)
  nodeInput.set(right, 1 + HASH_SIZE)
  return asHash(oneShotHash('sha256', nodeInput, 'buffer'))
}

/**
 * The root of the empty tree, MTH({}) = SHA-256() (RFC 6962 §2.1). Go's x/mod tlog.TreeHash(0) returns 32
 * zero bytes instead; logs publish the RFC value. Shared: never mutate it (functions return copies).
 */
export const EMPTY_ROOT: Hash = sha256(new Uint8Array(0))
