// The map's hashes (docs/design/verifiable-index.md §2).
import { HASH_SIZE, hashChildren, hashLeaf, sha256, type Hash } from '@ledger/tlog'

/** The hash of an empty subtree: 32 zero bytes. */
export const EMPTY: Hash = new Uint8Array(HASH_SIZE)

/** H(u64(n) || u64(i_1) || ... || u64(i_n)) of an ascending, non-empty list of log indexes. */
export function valueHash(indexes: readonly (bigint | number)[]): Hash {
  if (indexes.length === 0) throw new RangeError('a map value lists at least one index')
  const bytes = new Uint8Array(8 * (indexes.length + 1))
  const view = new DataView(bytes.buffer)
  view.setBigUint64(0, BigInt(indexes.length))
  let previous = -1n
  indexes.forEach((index, i) => {
    const value = BigInt(index)
    if (value <= previous) throw new RangeError('map value indexes must ascend strictly')
    if (value >= 1n << 64n) throw new RangeError('an index is a u64')
    view.setBigUint64(8 * (i + 1), value)
    previous = value
  })
  return sha256(bytes)
}

/** leaf(k, vh) = H(0x00 || k || vh). */
export function mapLeafHash(key: Hash, value: Hash): Hash {
  const input = new Uint8Array(2 * HASH_SIZE)
  input.set(key, 0)
  input.set(value, HASH_SIZE)
  return hashLeaf(input)
}

/** inner(l, r) = H(0x01 || l || r). */
export const innerHash: (left: Hash, right: Hash) => Hash = hashChildren

/** Bit `j` of a 256-bit key, most significant bit of byte 0 first. */
export function keyBit(key: Uint8Array, j: number): number {
  return (key[j >> 3]! >> (7 - (j & 7))) & 1
}

export function isEmpty(hash: Hash): boolean {
  for (let i = 0; i < HASH_SIZE; i++) if (hash[i] !== 0) return false
  return true
}
