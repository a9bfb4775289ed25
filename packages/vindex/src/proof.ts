// Map proofs (docs/design/verifiable-index.md §3): the encoding and the verifier.
import { bytesEqual, type Hash, HASH_SIZE } from '@ledger/tlog'
import { EMPTY, innerHash, isEmpty, keyBit, mapLeafHash } from './hashing.js'

export const PROOF_PRESENT = 0
export const PROOF_ABSENT_EMPTY = 1
export const PROOF_ABSENT_OTHER = 2

/** A decoded map proof: the siblings from the root down (EMPTY included) and what ends the path. */
export interface MapProof {
  kind: 0 | 1 | 2
  /** s_0 … s_{d-1}; d = siblings.length. */
  siblings: Hash[]
  /** Kind 2: the other key at the end of the path and its value hash. */
  other?: { key: Hash; valueHash: Hash }
}

export class MapProofError extends Error {
  override name = 'MapProofError'
}

export function encodeMapProof(proof: MapProof): Uint8Array {
  const d = proof.siblings.length
  if (d > 256) throw new MapProofError('a map proof is at most 256 deep')
  const present = proof.siblings.filter((s) => !isEmpty(s))
  const bitmapBytes = (d + 7) >> 3
  const size = 3 + bitmapBytes + HASH_SIZE * present.length + (proof.kind === 2 ? 2 * HASH_SIZE : 0)
  const out = new Uint8Array(size)
  out[0] = proof.kind
  out[1] = d >> 8
  out[2] = d & 0xff
  let at = 3 + bitmapBytes
  proof.siblings.forEach((sibling, j) => {
    if (isEmpty(sibling)) return
    out[3 + (j >> 3)]! |= 0x80 >> (j & 7)
    out.set(sibling, at)
    at += HASH_SIZE
  })
  if (proof.kind === 2) {
    if (proof.other === undefined) throw new MapProofError('a kind 2 proof names the other key')
    out.set(proof.other.key, at)
    out.set(proof.other.valueHash, at + HASH_SIZE)
  }
  return out
}

/** Decodes strictly: any byte the format does not call for, or a listed sibling equal to EMPTY, is refused. */
export function decodeMapProof(bytes: Uint8Array): MapProof {
  if (bytes.length < 3) throw new MapProofError('a map proof is at least 3 bytes')
  const kind = bytes[0]!
  if (kind !== 0 && kind !== 1 && kind !== 2) throw new MapProofError(`unknown map proof kind ${kind}`)
  const d = (bytes[1]! << 8) | bytes[2]!
  if (d > 256) throw new MapProofError(`map proof depth ${d} is over 256`)
  const bitmapBytes = (d + 7) >> 3
  if (bytes.length < 3 + bitmapBytes) throw new MapProofError('map proof bitmap is cut short')
  const bitmap = bytes.subarray(3, 3 + bitmapBytes)
  if (d % 8 !== 0 && (bitmap[bitmapBytes - 1]! & (0xff >> (d % 8))) !== 0) {
    throw new MapProofError('map proof bitmap has bits set past its depth')
  }
  let count = 0
  for (let j = 0; j < d; j++) count += keyBit(bitmap, j)
  const expected = 3 + bitmapBytes + HASH_SIZE * count + (kind === 2 ? 2 * HASH_SIZE : 0)
  if (bytes.length !== expected) {
    throw new MapProofError(`map proof is ${bytes.length} bytes; its fields call for ${expected}`)
  }
  let at = 3 + bitmapBytes
  const siblings: Hash[] = []
  for (let j = 0; j < d; j++) {
    if (keyBit(bitmap, j) === 0) {
      siblings.push(EMPTY)
      continue
    }
    const sibling = bytes.slice(at, at + HASH_SIZE)
    if (isEmpty(sibling)) throw new MapProofError(`map proof lists sibling ${j} though it is EMPTY`)
    siblings.push(sibling)
    at += HASH_SIZE
  }
  if (kind !== 2) return { kind, siblings }
  return {
    kind,
    siblings,
    other: {
      key: bytes.slice(at, at + HASH_SIZE),
      valueHash: bytes.slice(at + HASH_SIZE, at + 2 * HASH_SIZE),
    },
  }
}

/**
 * Verifies a map proof for `key` against `root`. With `valueHash`, the key must be present with that
 * value; without, it must be absent. Throws MapProofError saying what failed.
 */
export function verifyMapProof(root: Hash, key: Hash, proofBytes: Uint8Array, valueHash?: Hash): void {
  const proof = decodeMapProof(proofBytes)
  const d = proof.siblings.length
  let node: Hash
  if (proof.kind === PROOF_PRESENT) {
    if (valueHash === undefined)
      throw new MapProofError('the proof says the key is present; absence was claimed')
    node = mapLeafHash(key, valueHash)
  } else {
    if (valueHash !== undefined)
      throw new MapProofError('the proof says the key is absent; a value was claimed')
    if (proof.kind === PROOF_ABSENT_EMPTY) node = EMPTY
    else {
      const other = proof.other!
      if (bytesEqual(other.key, key)) throw new MapProofError('an absence proof names the key itself')
      for (let j = 0; j < d; j++) {
        if (keyBit(other.key, j) !== keyBit(key, j)) {
          throw new MapProofError(`the other key leaves the path at bit ${j}, above depth ${d}`)
        }
      }
      node = mapLeafHash(other.key, other.valueHash)
    }
  }
  for (let j = d - 1; j >= 0; j--) {
    node = keyBit(key, j) === 0 ? innerHash(node, proof.siblings[j]!) : innerHash(proof.siblings[j]!, node)
  }
  if (!bytesEqual(node, root)) throw new MapProofError('the proof does not lead to the map root')
}
