import { MAX_TREE_SIZE } from './bytes.js'
import { TlogError } from './errors.js'
import { EMPTY_ROOT, HASH_SIZE, hashChildren } from './hash.js'
import type { Hash } from './hash.js'
import { MAX_SUBTREE_LEVEL, assertTreeSize } from './merkle.js'

/** Levels of the set bits of `size`, highest first: the levels of the right-edge subtrees, left to right. */
function edgeLevels(size: bigint): number[] {
  const levels: number[] = []
  for (let level = MAX_SUBTREE_LEVEL; level >= 0; level--) {
    if (((size >> BigInt(level)) & 1n) === 1n) levels.push(level)
  }
  return levels
}

/**
 * The right edge of a tree: the hashes of the complete subtrees that make up [0, size), one per set bit of
 * size, largest (leftmost) first. Appending a leaf costs one hash per trailing one bit of the size: one
 * hash amortized, O(log n) at worst, whatever the size; the root costs popcount(size) - 1 hashes.
 * Not safe for concurrent use without the caller's own ordering (it is plain mutable state).
 */
export class CompactRange {
  #size: bigint
  readonly #hashes: Hash[]
  readonly #levels: number[]

  private constructor(size: bigint, hashes: Hash[], levels: number[]) {
    this.#size = size
    this.#hashes = hashes
    this.#levels = levels
  }

  /** The range of the empty tree. */
  static empty(): CompactRange {
    return new CompactRange(0n, [], [])
  }

  /**
   * The range of the tree of `size` leaves from the hashes of `rootSubtrees(size)`, in that order (e.g. read
   * back from storage after a restart). Trusts the hashes. Throws SIZE_OUT_OF_RANGE, INVALID_ARGUMENT.
   */
  static fromHashes(size: bigint, hashes: readonly Hash[]): CompactRange {
    assertTreeSize(size)
    const levels = edgeLevels(size)
    if (hashes.length !== levels.length) {
      throw new TlogError('INVALID_ARGUMENT', `a tree of size ${size} has ${levels.length} edge hashes`)
    }
    for (const hash of hashes) {
      if (hash.length !== HASH_SIZE) throw new TlogError('INVALID_ARGUMENT', 'edge hashes must be 32 bytes')
    }
    return new CompactRange(
      size,
      hashes.map((hash) => hash.slice()),
      levels,
    )
  }

  /**
   * Decodes `serialize()` output: 8-byte big-endian size, then exactly popcount(size) hashes. Throws
   * MALFORMED_COMPACT_RANGE on any other length or a size above 2^63-1. Trusts the hashes.
   */
  static deserialize(bytes: Uint8Array): CompactRange {
    if (bytes.length < 8) throw new TlogError('MALFORMED_COMPACT_RANGE', 'shorter than its 8-byte size')
    const size = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0)
    if (size > MAX_TREE_SIZE) throw new TlogError('MALFORMED_COMPACT_RANGE', `size ${size} above 2^63-1`)
    const levels = edgeLevels(size)
    if (bytes.length !== 8 + levels.length * HASH_SIZE) {
      throw new TlogError(
        'MALFORMED_COMPACT_RANGE',
        `size ${size} needs ${levels.length} hashes, got ${bytes.length - 8} bytes of hashes`,
      )
    }
    const hashes: Hash[] = []
    for (let i = 0; i < levels.length; i++)
      hashes.push(bytes.slice(8 + i * HASH_SIZE, 8 + (i + 1) * HASH_SIZE))
    return new CompactRange(size, hashes, levels)
  }

  /** Number of leaves appended so far. */
  get size(): bigint {
    return this.#size
  }

  /** Copies of the edge hashes, leftmost first: the hashes of `rootSubtrees(size)`. */
  get hashes(): Hash[] {
    return this.#hashes.map((hash) => hash.slice())
  }

  /**
   * Appends a leaf hash. Calls `onNode` for every complete subtree the append completes, level 0 (the leaf
   * itself) first, then each new parent up to the highest: exactly the new nodes of the tree, so a log can
   * store every subtree hash (or its tiles) from it. The hashes passed are shared: do not mutate them.
   * Throws INVALID_ARGUMENT for a hash not 32 bytes, SIZE_OUT_OF_RANGE past 2^63-1 leaves.
   */
  append(leafHash: Hash, onNode?: (level: number, index: bigint, hash: Hash) => void): void {
    if (leafHash.length !== HASH_SIZE) throw new TlogError('INVALID_ARGUMENT', 'leaf hash must be 32 bytes')
    const index = this.#size
    if (index >= MAX_TREE_SIZE) throw new TlogError('SIZE_OUT_OF_RANGE', 'the tree is full')
    const hashes = this.#hashes
    const levels = this.#levels
    onNode?.(0, index, leafHash)
    // The stored subtrees have distinct, decreasing levels; the new leaf merges with each of the same level.
    let hash = leafHash
    let level = 0
    while (levels.length > 0 && levels[levels.length - 1] === level) {
      levels.pop()
      hash = hashChildren(hashes.pop()!, hash)
      level++
      onNode?.(level, index >> BigInt(level), hash)
    }
    // Only the leaf hash belongs to the caller, who may reuse its buffer.
    hashes.push(level === 0 ? leafHash.slice() : hash)
    levels.push(level)
    this.#size = index + 1n
  }

  /** The RFC 6962 root of the tree so far (SHA-256 of the empty string when empty). A fresh copy. */
  root(): Hash {
    const hashes = this.#hashes
    if (hashes.length === 0) return EMPTY_ROOT.slice()
    let hash = hashes[hashes.length - 1]!
    if (hashes.length === 1) return hash.slice()
    for (let i = hashes.length - 2; i >= 0; i--) hash = hashChildren(hashes[i]!, hash)
    return hash
  }

  /** Canonical encoding: the size as 8 big-endian bytes, then the edge hashes, leftmost first. */
  serialize(): Uint8Array {
    const out = new Uint8Array(8 + this.#hashes.length * HASH_SIZE)
    new DataView(out.buffer).setBigUint64(0, this.#size)
    this.#hashes.forEach((hash, i) => out.set(hash, 8 + i * HASH_SIZE))
    return out
  }

  /** An independent copy: appends to one do not affect the other. */
  clone(): CompactRange {
    return new CompactRange(this.#size, this.#hashes.slice(), this.#levels.slice())
  }
}
