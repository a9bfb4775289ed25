// TreeEdge, the pure layout of a log's writes, against the Go team's vectors (tiles.json: which tiles a
// growth writes, and their content) and an independent reference tree.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CompactRange } from '../src/compact-range.js'
import {
  TreeEdge,
  bundleEntryAt,
  bundlePrefixLength,
  countBundleEntries,
  decodeEntryBundle,
  encodeEntryBundle,
  entryBundlePath,
  newEntryBundlesForGrowth,
  newTilesForGrowth,
  partialBundleForSize,
  tilePath,
  type TileContent,
} from '../src/index.js'
import { codeOf, hex, loadVectors, ruleLeaves, ruleReferenceTree, type TileCase } from './vectors.js'

const cases = loadVectors<TileCase>('tiles.json')
const ref = ruleReferenceTree()

/** The edge of the rule tree at `size`, grown in the given steps. */
function grown(steps: readonly number[]): {
  edge: TreeEdge
  writes: TileContent[][]
  bundles: TileContent[][]
} {
  let edge = TreeEdge.empty()
  const writes: TileContent[][] = []
  const bundles: TileContent[][] = []
  const leaves = ruleLeaves(steps[steps.length - 1] ?? 0)
  for (const size of steps) {
    const growth = edge.append(leaves.slice(Number(edge.size), size).map((leaf) => ({ leaf })))
    edge = growth.edge
    writes.push(growth.tiles)
    bundles.push(growth.bundles)
  }
  return { edge, writes, bundles }
}

/** The honest content of a tile of the rule tree, from the reference model. */
function honest(level: number, index: bigint, width: number): string {
  const hashes: string[] = []
  for (let i = 0; i < width; i++) {
    const span = 256 ** level
    const first = (Number(index) * 256 + i) * span
    hashes.push(hex(ref.mth(first, first + span)))
  }
  return hashes.join('')
}

describe('TreeEdge writes what tlog-tiles says a growth writes (tiles.json tile_growth)', () => {
  for (const c of cases.filter((v) => v.kind === 'tile_growth')) {
    it(`${c.old_size} -> ${c.new_size}`, () => {
      const [oldSize, newSize] = [Number(c.old_size), Number(c.new_size)]
      const { writes, bundles, edge } = grown(oldSize === 0 ? [newSize] : [oldSize, newSize])
      const written = writes[writes.length - 1]!
      // Every tile of new_tiles_final whose content changed, at its final width; never one that did not.
      const changed = newTilesForGrowth(BigInt(oldSize), BigInt(newSize)).filter(
        (tile) => !newTilesForGrowth(0n, BigInt(oldSize)).some((t) => tilePath(t) === tilePath(tile)),
      )
      expect(
        written.map((t) => tilePath({ level: t.level, index: t.index, width: t.data.length / 32 })),
      ).toEqual(expect.arrayContaining(changed.map(tilePath)))
      for (const tile of written) {
        expect(c.new_tiles_final).toContain(
          tilePath({ level: tile.level, index: tile.index, width: tile.data.length / 32 }),
        )
        expect(hex(tile.data)).toBe(honest(tile.level, tile.index, tile.data.length / 32))
      }
      const bundlePaths = bundles[bundles.length - 1]!.map((b) =>
        entryBundlePath({ index: b.index, width: countBundleEntries(b.data) }),
      )
      expect(bundlePaths).toEqual(
        newEntryBundlesForGrowth(BigInt(oldSize), BigInt(newSize)).map(entryBundlePath),
      )
      expect(c.new_entry_bundles_final).toEqual(bundlePaths)
      expect(hex(edge.root())).toBe(hex(ref.mth(0, newSize)))
    })
  }
})

describe('TreeEdge tile content (tiles.json tile_content)', () => {
  for (const c of cases.filter((v) => v.kind === 'tile_content' && v.valid)) {
    it(`${c.path} of ${c.tree_size}`, () => {
      const { writes } = grown([Number(c.tree_size)])
      const tile = writes[0]!.find((t) => t.level === c.level && t.index === BigInt(c.n!))
      expect(tile, c.path).toBeDefined()
      expect(hex(tile!.data)).toBe(c.content_hex)
    })
  }
})

describe('TreeEdge restore and append', () => {
  it('any sequence of appends and restarts stores each full tile once and ends at the reference tree', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2000 }), { minLength: 1, maxLength: 6 }), (sizes) => {
        sizes.sort((a, b) => a - b)
        const leaves = ruleLeaves(sizes[sizes.length - 1]!)
        const stored = new Map<string, Uint8Array>()
        const full = new Set<string>()
        let edge = TreeEdge.empty()
        for (const size of sizes) {
          const growth = edge.append(leaves.slice(Number(edge.size), size).map((leaf) => ({ leaf })))
          for (const tile of growth.tiles) {
            const key = `${tile.level}/${tile.index}`
            expect(full.has(key), `full tile ${key} written twice`).toBe(false)
            if (tile.data.length === 256 * 32) full.add(key)
            stored.set(key, tile.data)
          }
          // A restart: the edge from what a store would hold.
          const range = growth.edge.compactRange()
          const partial = growth.edge
            .partialTiles()
            .map((t) => ({ ...t, data: stored.get(`${t.level}/${t.index}`)! }))
          const bundle = partialBundleForSize(range.size)
          const edgeLeaves = bundle === undefined ? [] : leaves.slice(Number(bundle.index) * 256, size)
          edge = TreeEdge.restore(CompactRange.deserialize(range.serialize()), partial, edgeLeaves)
          expect(hex(edge.root())).toBe(hex(ref.mth(0, size)))
        }
      }),
      { numRuns: 40 },
    )
  })

  it('refuses a stored edge that does not fit its size', () => {
    const { edge } = grown([300])
    const range = edge.compactRange()
    const tiles = edge.partialTiles()
    const leaves = ruleLeaves(300).slice(256)
    expect(TreeEdge.restore(range, tiles, leaves).size).toBe(300n)
    expect(codeOf(() => TreeEdge.restore(range, tiles.slice(1), leaves))).toBe('MALFORMED_TILE')
    const narrow = tiles.map((t) => (t.level === 0 ? { ...t, data: t.data.subarray(32) } : t))
    expect(codeOf(() => TreeEdge.restore(range, narrow, leaves))).toBe('MALFORMED_TILE')
    expect(codeOf(() => TreeEdge.restore(range, tiles, leaves.slice(1)))).toBe('MALFORMED_ENTRY_BUNDLE')
    expect(codeOf(() => TreeEdge.restore(range, tiles, [...leaves, leaves[0]!]))).toBe(
      'MALFORMED_ENTRY_BUNDLE',
    )
  })

  it('views handed out for a partial bundle never change as later appends grow it', () => {
    const leaves = ruleLeaves(20)
    const first = TreeEdge.empty().append(leaves.slice(0, 5).map((leaf) => ({ leaf })))
    const view = first.bundles[0]!.data
    const before = hex(view)
    const second = first.edge.append(leaves.slice(5, 20).map((leaf) => ({ leaf })))
    expect(hex(view)).toBe(before)
    expect(decodeEntryBundle(second.bundles[0]!.data, 20).map(hex)).toEqual(leaves.map(hex))
    // Appending nothing changes nothing.
    const none = second.edge.append([])
    expect(none.tiles).toEqual([])
    expect(none.bundles).toEqual([])
    expect(none.edge.size).toBe(20n)
  })

  it('bundles of leaves of any sizes, appended in any steps, are their encoding; views handed out never change', () => {
    // Sizes that make a bundle outgrow its first buffer early (one large leaf), late, or never.
    const leafSize = fc.oneof(
      fc.integer({ min: 0, max: 64 }),
      fc.integer({ min: 600, max: 800 }),
      fc.constant(65535),
    )
    fc.assert(
      fc.property(
        fc.array(leafSize, { minLength: 1, maxLength: 600 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 }),
        (sizes, steps) => {
          const leaves = sizes.map((size, i) => new Uint8Array(size).fill(i % 251))
          let edge = TreeEdge.empty()
          const views: { data: Uint8Array; hex: string }[] = []
          const latest = new Map<bigint, Uint8Array>()
          for (let at = 0, step = 0; at < leaves.length; step++) {
            const next = Math.min(leaves.length, at + steps[step % steps.length]!)
            const growth = edge.append(leaves.slice(at, next).map((leaf) => ({ leaf })))
            for (const bundle of growth.bundles) {
              views.push({ data: bundle.data, hex: hex(bundle.data) })
              latest.set(bundle.index, bundle.data)
            }
            edge = growth.edge
            at = next
          }
          for (const [index, data] of latest) {
            const first = Number(index) * 256
            expect(hex(data)).toBe(hex(encodeEntryBundle(leaves.slice(first, first + 256))))
          }
          for (const view of views) expect(hex(view.data)).toBe(view.hex)
        },
      ),
      { numRuns: 40 },
    )
  })

  it('refuses entries an entry bundle cannot carry', () => {
    expect(codeOf(() => TreeEdge.empty().append([{ leaf: new Uint8Array(65536) }]))).toBe('LEAF_TOO_LARGE')
  })
})

describe('entry bundle helpers', () => {
  it('count, prefix and entry lookup agree with decoding', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 40 }), (leaves) => {
        const bundle = encodeEntryBundle(leaves)
        expect(countBundleEntries(bundle)).toBe(leaves.length)
        leaves.forEach((l, i) => expect(hex(bundleEntryAt(bundle, i)!)).toBe(hex(l)))
        expect(bundleEntryAt(bundle, leaves.length)).toBeUndefined()
        expect(bundlePrefixLength(bundle, leaves.length)).toBe(bundle.length)
        expect(bundlePrefixLength(bundle, leaves.length + 1)).toBeUndefined()
        expect(codeOf(() => countBundleEntries(bundle.subarray(0, bundle.length - 1)))).toBe(
          'MALFORMED_ENTRY_BUNDLE',
        )
      }),
    )
  })
})
