import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_TREE_SIZE } from '../src/bytes.js'
import { CompactRange } from '../src/compact-range.js'
import { rootFromLeafHashes } from '../src/merkle.js'
import {
  codeOf,
  hex,
  loadVectors,
  REF_EMPTY_ROOT,
  ruleLeafHashes,
  ReferenceTree,
  type RootCase,
} from './vectors.js'

const rootCases = loadVectors<RootCase>('merkle-roots.json').filter((c) => c.kind === 'root' && c.valid)

function popcount(n: bigint): number {
  let count = 0
  for (; n > 0n; n >>= 1n) count += Number(n & 1n)
  return count
}

describe('CompactRange against merkle-roots.json', () => {
  it('reaches every valid vector root while appending the rule leaves', () => {
    const wanted = new Map(rootCases.map((c) => [BigInt(c.tree_size), c.root]))
    const maxSize = Math.max(...rootCases.map((c) => Number(c.tree_size)))
    const leafHashes = ruleLeafHashes(maxSize)
    const range = CompactRange.empty()
    let checked = 0
    for (let i = 0; ; i++) {
      const root = wanted.get(range.size)
      if (root !== undefined) {
        expect(hex(range.root()), `size ${range.size}`).toBe(root)
        checked++
      }
      if (i === maxSize) break
      range.append(leafHashes[i]!)
    }
    expect(checked).toBe(wanted.size)
    expect(range.size).toBe(65793n)
  })
})

describe('CompactRange properties', () => {
  const leafHashList = fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 300 })

  it('root equals rootFromLeafHashes for every prefix', () => {
    fc.assert(
      fc.property(leafHashList, (leafHashes) => {
        const range = CompactRange.empty()
        expect(hex(range.root())).toBe(hex(REF_EMPTY_ROOT))
        leafHashes.forEach((leafHash, i) => {
          range.append(leafHash)
          expect(range.size).toBe(BigInt(i + 1))
          expect(hex(range.root())).toBe(hex(rootFromLeafHashes(leafHashes.slice(0, i + 1))))
        })
      }),
      { numRuns: 40 },
    )
  })

  it('onNode reports exactly the complete subtrees, each once, leaf first, with the reference hashes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3000 }), (size) => {
        const ref = new ReferenceTree(ruleLeafHashes(size))
        const range = CompactRange.empty()
        const seen = new Set<string>()
        for (let i = 0; i < size; i++) {
          const reported: [number, bigint][] = []
          range.append(ref.subtree(0, i), (level, index, hash) => {
            expect(hex(hash)).toBe(hex(ref.subtree(level, Number(index))))
            reported.push([level, index])
            const key = `${level}/${index}`
            expect(seen.has(key)).toBe(false)
            seen.add(key)
          })
          // Level 0 first, then one level up each time, each node ending at leaf i.
          reported.forEach(([level, index], k) => {
            expect(level).toBe(k)
            expect((index + 1n) << BigInt(level)).toBe(BigInt(i + 1))
          })
        }
        // Every complete subtree of the tree of `size` leaves was reported: the model has exactly those.
        const expected = ref.levels.reduce((sum, level) => sum + level.length, 0)
        expect(seen.size).toBe(size === 0 ? 0 : expected)
      }),
      { numRuns: 20 },
    )
  })

  it('serialize/deserialize round-trips, with the canonical layout', () => {
    fc.assert(
      fc.property(leafHashList, (leafHashes) => {
        const range = CompactRange.empty()
        for (const leafHash of leafHashes) range.append(leafHash)
        const bytes = range.serialize()
        expect(bytes.length).toBe(8 + 32 * popcount(BigInt(leafHashes.length)))
        expect(new DataView(bytes.buffer).getBigUint64(0)).toBe(BigInt(leafHashes.length))
        const back = CompactRange.deserialize(bytes)
        expect(back.size).toBe(range.size)
        expect(hex(back.root())).toBe(hex(range.root()))
        expect(hex(back.serialize())).toBe(hex(bytes))
        // And it keeps growing like the original.
        const extra = new Uint8Array(32).fill(9)
        back.append(extra)
        range.append(extra)
        expect(hex(back.root())).toBe(hex(range.root()))
      }),
      { numRuns: 100 },
    )
  })

  it('round-trips huge sizes', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: MAX_TREE_SIZE }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (size, seed) => {
          const hashes = Array.from({ length: popcount(size) }, (_, i) => seed.map((b) => b ^ i))
          const range = CompactRange.fromHashes(size, hashes)
          const back = CompactRange.deserialize(range.serialize())
          expect(back.size).toBe(size)
          expect(back.hashes.map(hex)).toEqual(hashes.map(hex))
        },
      ),
      { numRuns: 100 },
    )
  })
})

describe('CompactRange edge cases', () => {
  it('edge hashes are the rootSubtrees hashes, and fromHashes rebuilds the same range', () => {
    const ref = new ReferenceTree(ruleLeafHashes(13))
    const range = CompactRange.empty()
    for (let i = 0; i < 13; i++) range.append(ref.subtree(0, i))
    // 13 = 8 + 4 + 1: subtrees 3/0, 2/2, 0/12.
    expect(range.hashes.map(hex)).toEqual([ref.subtree(3, 0), ref.subtree(2, 2), ref.subtree(0, 12)].map(hex))
    const rebuilt = CompactRange.fromHashes(13n, range.hashes)
    expect(hex(rebuilt.root())).toBe(hex(ref.root(13)))
    expect(codeOf(() => CompactRange.fromHashes(13n, range.hashes.slice(1)))).toBe('INVALID_ARGUMENT')
  })

  it('rejects malformed serializations', () => {
    const good = CompactRange.empty()
    good.append(new Uint8Array(32))
    good.append(new Uint8Array(32).fill(1))
    good.append(new Uint8Array(32).fill(2))
    const bytes = good.serialize()
    expect(bytes.length).toBe(8 + 64)
    expect(codeOf(() => CompactRange.deserialize(bytes.slice(0, -1)))).toBe('MALFORMED_COMPACT_RANGE')
    expect(codeOf(() => CompactRange.deserialize(new Uint8Array([...bytes, 0])))).toBe(
      'MALFORMED_COMPACT_RANGE',
    )
    expect(codeOf(() => CompactRange.deserialize(bytes.slice(0, 7)))).toBe('MALFORMED_COMPACT_RANGE')
    const tooBig = new Uint8Array(8 + 64 * 32)
    new DataView(tooBig.buffer).setBigUint64(0, 1n << 63n)
    expect(codeOf(() => CompactRange.deserialize(tooBig.subarray(0, 8 + 32)))).toBe('MALFORMED_COMPACT_RANGE')
    expect(CompactRange.deserialize(new Uint8Array(8)).size).toBe(0n)
    // A serialization inside a larger buffer (offset view) decodes too.
    const padded = new Uint8Array(bytes.length + 5)
    padded.set(bytes, 5)
    expect(hex(CompactRange.deserialize(padded.subarray(5)).root())).toBe(hex(good.root()))
  })

  it('copies the caller leaf hash, and clones are independent', () => {
    const leaf = new Uint8Array(32).fill(3)
    const range = CompactRange.empty()
    range.append(leaf)
    const before = hex(range.root())
    leaf.fill(4)
    expect(hex(range.root())).toBe(before)
    const clone = range.clone()
    clone.append(leaf)
    expect(range.size).toBe(1n)
    expect(hex(range.root())).toBe(before)
    expect(clone.size).toBe(2n)
  })

  it('rejects bad leaf hashes and growth past 2^63-1', () => {
    const range = CompactRange.empty()
    expect(codeOf(() => range.append(new Uint8Array(31)))).toBe('INVALID_ARGUMENT')
    const hashes = Array.from({ length: 63 }, () => new Uint8Array(32))
    const full = CompactRange.fromHashes(MAX_TREE_SIZE, hashes)
    expect(codeOf(() => full.append(new Uint8Array(32)))).toBe('SIZE_OUT_OF_RANGE')
    const almost = CompactRange.fromHashes(MAX_TREE_SIZE - 1n, hashes.slice(1))
    const nodes: number[] = []
    almost.append(new Uint8Array(32), (level) => nodes.push(level))
    expect(almost.size).toBe(MAX_TREE_SIZE)
    expect(nodes).toEqual([0])
  })
})
