import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_TREE_SIZE } from '../src/bytes.js'
import { proveConsistency, proveInclusion, rootSubtrees, treeRoot, type SubtreeId } from '../src/merkle.js'
import {
  decodeEntryBundle,
  encodeEntryBundle,
  entryBundlePath,
  entryBundlesForSize,
  newEntryBundlesForGrowth,
  newTilesForGrowth,
  parseTilePath,
  partialTilesForSize,
  readTileData,
  subtreeHashFromTile,
  TILE_HEIGHT,
  TILE_WIDTH,
  tileForSubtree,
  tileHashReader,
  tilePath,
  tilesForSize,
  trustedTileHashReader,
  verifyEntryBundle,
  type TileId,
} from '../src/tiles.js'
import {
  asyncCodeOf,
  codeOf,
  hex,
  loadVectors,
  ruleLeaves,
  ruleReferenceTree,
  unhex,
  type InclusionCase,
  type TileCase,
} from './vectors.js'

const tileCases = loadVectors<TileCase>('tiles.json')
const ofKind = (kind: string) => tileCases.filter((c) => c.kind === kind)
const ref = ruleReferenceTree()

/** Width of tile (level, index) in the tree of `size` leaves, computed from the C2SP definition. */
function expectedWidth(size: number, level: number, index: number): number {
  const hashes = Math.floor(size / 256 ** level)
  return Math.min(256, hashes - index * 256)
}

/** Honest tile content from the reference model: hash i is the level-8L subtree N*256+i. */
function honestTile(tile: TileId): Uint8Array {
  const out = new Uint8Array(tile.width * 32)
  for (let i = 0; i < tile.width; i++) {
    out.set(ref.subtree(TILE_HEIGHT * tile.level, Number(tile.index) * 256 + i), i * 32)
  }
  return out
}

const keyOf = (tile: TileId) => `${tile.level}/${tile.index}/${tile.width}`

/** A tile source over the honest tiles with some replaced; records what it is asked for. */
function tileSource(replace: Map<string, Uint8Array> = new Map()) {
  const calls: string[][] = []
  const read = async (tiles: readonly TileId[]) => {
    calls.push(tiles.map(keyOf))
    return tiles.map((tile) => replace.get(keyOf(tile)) ?? honestTile(tile))
  }
  return { read, calls, tilesRead: () => new Set(calls.flat()) }
}

function flipped(content: Uint8Array, byte: number, bit = 0): Uint8Array {
  const out = content.slice()
  out[byte]! ^= 1 << bit
  return out
}

describe('tile_path (tiles.json)', () => {
  const cases = ofKind('tile_path')
  it('has the cases the README lists', () => {
    expect(cases.length).toBe(43)
  })
  for (const c of cases.filter((c) => c.valid)) {
    it(`encodes and parses ${c.path}`, () => {
      const n = BigInt(c.n!)
      if (c.resource === 'hash_tile') {
        expect(tilePath({ level: c.level!, index: n, width: c.width! })).toBe(c.path)
        expect(parseTilePath(c.path!)).toEqual({
          kind: 'hash',
          tile: { level: c.level, index: n, width: c.width },
        })
      } else {
        expect(entryBundlePath({ index: n, width: c.width! })).toBe(c.path)
        expect(parseTilePath(c.path!)).toEqual({ kind: 'entries', bundle: { index: n, width: c.width } })
      }
      expect(c.partial).toBe(c.width! < 256)
    })
  }
  for (const c of cases.filter((c) => !c.valid)) {
    it(`rejects ${JSON.stringify(c.path)}: ${c.reason}`, () => {
      expect(codeOf(() => parseTilePath(c.path!))).toBe('MALFORMED_TILE_PATH')
    })
  }

  it('rejects more non-canonical paths', () => {
    for (const path of [
      '/tile/0/000',
      'tile/0/000.p/5/',
      'tile/0/x001.p/5',
      'tile/0/x000/x001/000',
      'tile/0/x072/x057/x594/x037/x927/936',
      'tile/entries/000.p/00',
      'tile/ 0/000',
      'tile/0/000 ',
      'tile/0/０００',
      'tile/0/x01/000',
      'tile/0/000.p/-1',
      'tile/entries',
      '',
    ]) {
      expect(
        codeOf(() => parseTilePath(path)),
        path,
      ).toBe('MALFORMED_TILE_PATH')
    }
  })

  it('rejects tiles that have no path', () => {
    expect(codeOf(() => tilePath({ level: 64, index: 0n, width: 1 }))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => tilePath({ level: 0, index: 0n, width: 0 }))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => tilePath({ level: 0, index: 0n, width: 257 }))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => tilePath({ level: 0, index: -1n, width: 1 }))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => entryBundlePath({ index: 0n, width: 1.5 }))).toBe('INVALID_ARGUMENT')
  })

  it('round-trips random tiles', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 63 }),
        fc.bigInt({ min: 0n, max: MAX_TREE_SIZE >> 8n }),
        fc.integer({ min: 1, max: 256 }),
        (level, index, width) => {
          expect(parseTilePath(tilePath({ level, index, width }))).toEqual({
            kind: 'hash',
            tile: { level, index, width },
          })
          expect(parseTilePath(entryBundlePath({ index, width }))).toEqual({
            kind: 'entries',
            bundle: { index, width },
          })
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('tile_set (tiles.json)', () => {
  const cases = ofKind('tile_set')
  it('has the cases the README lists', () => {
    expect(cases.length).toBe(18)
  })
  for (const c of cases) {
    it(`tiles of a tree of ${c.tree_size} leaves`, () => {
      const size = BigInt(c.tree_size!)
      const partialPaths = c.levels!.filter((l) => l.partial_width > 0).map((l) => l.partial_path)
      expect(partialTilesForSize(size).map(tilePath)).toEqual(partialPaths)
      if (c.tile_paths_omitted) {
        expect(partialTilesForSize(size).map(tilePath)).toEqual(c.partial_tile_paths)
        // The last full tile of each level: the tile holding that level's last full hash.
        const lastFull = c.levels!.filter((l) => BigInt(l.full_tiles) > 0n)
        expect(
          lastFull.map((l) => {
            const id = { level: l.level * TILE_HEIGHT, index: BigInt(l.full_tiles) * 256n - 1n }
            return tilePath(tileForSubtree(id, size).tile)
          }),
        ).toEqual(c.last_full_tile_paths)
        const lastLeaf = tileForSubtree({ level: 0, index: size - 1n }, size).tile
        expect(entryBundlePath({ index: lastLeaf.index, width: lastLeaf.width })).toBe(
          c.last_entry_bundle_path,
        )
      } else {
        expect(tilesForSize(size).map(tilePath)).toEqual(c.tile_paths)
        expect(entryBundlesForSize(size).map(entryBundlePath)).toEqual(c.entry_bundle_paths)
      }
    })
  }
})

describe('tile_growth (tiles.json)', () => {
  const cases = ofKind('tile_growth')
  it('has the cases the README lists', () => {
    expect(cases.length).toBe(8)
  })
  for (const c of cases) {
    it(`grows ${c.old_size} -> ${c.new_size}`, () => {
      const [oldSize, newSize] = [BigInt(c.old_size!), BigInt(c.new_size!)]
      expect(newTilesForGrowth(oldSize, newSize).map(tilePath)).toEqual(c.new_tiles_final)
      expect(newEntryBundlesForGrowth(oldSize, newSize).map(entryBundlePath)).toEqual(
        c.new_entry_bundles_final,
      )
      // x/mod's list with every intermediate width holds at least the final tiles.
      expect(c.new_tiles_all_widths).toEqual(expect.arrayContaining(c.new_tiles_final!))
    })
  }

  it('no growth lists only the partial tiles again; bad sizes are rejected', () => {
    expect(newTilesForGrowth(300n, 300n).map(tilePath)).toEqual(['tile/0/001.p/44', 'tile/1/000.p/1'])
    expect(newTilesForGrowth(512n, 512n).map(tilePath)).toEqual(['tile/1/000.p/2'])
    expect(codeOf(() => newTilesForGrowth(3n, 2n))).toBe('SIZE_OUT_OF_RANGE')
    expect(codeOf(() => tilesForSize(MAX_TREE_SIZE + 1n))).toBe('SIZE_OUT_OF_RANGE')
  })

  it('the tiles written over any sequence of growths are the tiles of the final tree, final widths last', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 70000 }), { minLength: 1, maxLength: 6 }), (sizes) => {
        sizes.sort((a, b) => a - b)
        const latest = new Map<string, number>()
        let previous = 0n
        for (const size of sizes) {
          for (const tile of newTilesForGrowth(previous, BigInt(size))) {
            const key = `${tile.level}/${tile.index}`
            // A full tile is written once and never again.
            expect(latest.get(key)).not.toBe(256)
            latest.set(key, tile.width)
          }
          previous = BigInt(size)
        }
        const final = tilesForSize(previous)
        expect(final.length).toBe(latest.size)
        for (const tile of final) {
          expect(latest.get(`${tile.level}/${tile.index}`)).toBe(tile.width)
          expect(tile.width).toBe(expectedWidth(Number(previous), tile.level, Number(tile.index)))
        }
      }),
      { numRuns: 100 },
    )
  })
})

describe('tile_content (tiles.json)', () => {
  const cases = ofKind('tile_content')
  it('has the cases the README lists', () => {
    expect(cases.length).toBe(11)
  })
  for (const c of cases) {
    const label = `${c.path} of ${c.tree_size}: ${c.valid ? 'valid' : c.reason}`
    it(label, async () => {
      const size = BigInt(c.tree_size!)
      const tile: TileId = { level: c.level!, index: BigInt(c.n!), width: c.width! }
      expect(parseTilePath(c.path!)).toEqual({ kind: 'hash', tile })
      expect(hex(await treeRoot(size, ref.reader))).toBe(c.root)
      const content = unhex(c.content_hex!)
      const reader = tileHashReader(size, unhex(c.root!), tileSource(new Map([[keyOf(tile), content]])).read)
      const ids: SubtreeId[] = Array.from({ length: tile.width }, (_, i) => ({
        level: tile.level * TILE_HEIGHT,
        index: tile.index * 256n + BigInt(i),
      }))
      if (c.valid) {
        expect(hex(honestTile(tile))).toBe(c.content_hex)
        expect(hex(await readTileData(tile, ref.reader))).toBe(c.content_hex)
        const hashes = await reader(ids)
        expect(hashes.map(hex).join('')).toBe(c.content_hex)
      } else {
        const expected = content.length === tile.width * 32 ? 'TILE_MISMATCH' : 'MALFORMED_TILE'
        // Every hash of the tile is refused, not just the corrupted one.
        for (const id of [ids[0]!, ids[ids.length - 1]!]) {
          expect(await asyncCodeOf(async () => reader([id]))).toBe(expected)
        }
      }
    })
  }
})

describe('entry_bundle_content (tiles.json)', () => {
  const cases = ofKind('entry_bundle_content')
  it('has the cases the README lists', () => {
    expect(cases.length).toBe(9)
  })
  for (const c of cases) {
    const label = `${c.path} of ${c.tree_size}: ${c.valid ? 'valid' : c.reason}`
    it(label, () => {
      const first = Number(c.first_index)
      const width = c.width!
      expect(first).toBe(Number(c.n) * 256)
      const leaves = ruleLeaves(first + width).slice(first)
      const levelZero = honestTile({ level: 0, index: BigInt(c.n!), width })
      const bytes = unhex(c.content_hex!)
      if (c.valid) {
        expect(hex(encodeEntryBundle(leaves))).toBe(c.content_hex)
        expect(decodeEntryBundle(bytes, width).map(hex)).toEqual(leaves.map(hex))
        expect(verifyEntryBundle(bytes, levelZero).map(hex)).toEqual(leaves.map(hex))
      } else {
        // A changed byte inside an entry keeps the framing: only the leaf hashes catch it.
        const expected = c.reason!.includes('changed') ? 'TILE_MISMATCH' : 'MALFORMED_ENTRY_BUNDLE'
        expect(codeOf(() => verifyEntryBundle(bytes, levelZero))).toBe(expected)
        if (expected === 'MALFORMED_ENTRY_BUNDLE') {
          expect(codeOf(() => decodeEntryBundle(bytes, width))).toBe('MALFORMED_ENTRY_BUNDLE')
        }
      }
    })
  }

  it('enforces entry sizes and counts', () => {
    expect(encodeEntryBundle([new Uint8Array(65535)]).length).toBe(65537)
    expect(codeOf(() => encodeEntryBundle([new Uint8Array(65536)]))).toBe('LEAF_TOO_LARGE')
    expect(codeOf(() => encodeEntryBundle([]))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => encodeEntryBundle(Array.from({ length: 257 }, () => new Uint8Array(0))))).toBe(
      'INVALID_ARGUMENT',
    )
    expect(codeOf(() => decodeEntryBundle(new Uint8Array([0]), 1))).toBe('MALFORMED_ENTRY_BUNDLE')
    expect(codeOf(() => decodeEntryBundle(new Uint8Array(0), 1))).toBe('MALFORMED_ENTRY_BUNDLE')
  })

  it('round-trips random bundles; any truncation or extension fails', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 256 }),
        fc.nat(),
        (leaves, cut) => {
          const bytes = encodeEntryBundle(leaves)
          expect(decodeEntryBundle(bytes, leaves.length).map(hex)).toEqual(leaves.map(hex))
          const shorter = bytes.subarray(0, cut % bytes.length)
          expect(codeOf(() => decodeEntryBundle(shorter, leaves.length))).toBe('MALFORMED_ENTRY_BUNDLE')
          const longer = new Uint8Array([...bytes, 0])
          expect(codeOf(() => decodeEntryBundle(longer, leaves.length))).toBe('MALFORMED_ENTRY_BUNDLE')
        },
      ),
      { numRuns: 100 },
    )
  })
})

describe('tileForSubtree and subtreeHashFromTile', () => {
  it('locates subtrees inside tiles', () => {
    expect(tileForSubtree({ level: 0, index: 300n })).toEqual({
      tile: { level: 0, index: 1n, width: 45 },
      first: 44,
      count: 1,
    })
    expect(tileForSubtree({ level: 3, index: 5n })).toEqual({
      tile: { level: 0, index: 0n, width: 48 },
      first: 40,
      count: 8,
    })
    expect(tileForSubtree({ level: 10, index: 1n }, 65793n)).toEqual({
      tile: { level: 1, index: 0n, width: 256 },
      first: 4,
      count: 4,
    })
    expect(tileForSubtree({ level: 16, index: 0n }, 65793n)).toEqual({
      tile: { level: 2, index: 0n, width: 1 },
      first: 0,
      count: 1,
    })
    expect(codeOf(() => tileForSubtree({ level: 9, index: 128n }, 65793n))).toBe('INDEX_OUT_OF_RANGE')
    expect(codeOf(() => tileForSubtree({ level: 0, index: 5n }, 5n))).toBe('INDEX_OUT_OF_RANGE')
    expect(codeOf(() => tileForSubtree({ level: 63, index: 0n }))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => tileForSubtree({ level: 62, index: 2n }))).toBe('INDEX_OUT_OF_RANGE')
  })

  it('every complete subtree of a random tree comes out of its tile with the reference hash', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 65793 }),
        fc.nat({ max: 16 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (size, level, where) => {
          fc.pre(2 ** level <= size)
          const index = Math.min(
            Math.floor(where * Math.floor(size / 2 ** level)),
            Math.floor(size / 2 ** level) - 1,
          )
          const id = { level, index: BigInt(index) }
          const { tile, first, count } = tileForSubtree(id, BigInt(size))
          expect(tile.width).toBe(expectedWidth(size, tile.level, Number(tile.index)))
          expect(first + count).toBeLessThanOrEqual(tile.width)
          expect(hex(subtreeHashFromTile(id, honestTile(tile)))).toBe(hex(ref.subtree(level, index)))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('refuses content too short or not whole hashes', () => {
    expect(codeOf(() => subtreeHashFromTile({ level: 3, index: 1n }, new Uint8Array(15 * 32)))).toBe(
      'MALFORMED_TILE',
    )
    expect(codeOf(() => subtreeHashFromTile({ level: 0, index: 0n }, new Uint8Array(33)))).toBe(
      'MALFORMED_TILE',
    )
  })
})

describe('tileHashReader (untrusted tiles)', () => {
  const SIZES = [1, 5, 255, 256, 257, 259, 300, 511, 512, 513, 1000, 65535, 65536, 65537, 65793]

  /** Requests that touch every kind of tile: leaves at both ends and inside, inner subtrees, level 16. */
  function requestFor(size: number): SubtreeId[] {
    const ids: SubtreeId[] = [
      { level: 0, index: 0n },
      { level: 0, index: BigInt(size - 1) },
      { level: 0, index: BigInt(Math.floor(size / 2)) },
    ]
    for (const level of [3, 8, 9, 16]) {
      const count = Math.floor(size / 2 ** level)
      if (count > 0) ids.push({ level, index: BigInt(count - 1) }, { level, index: 0n })
    }
    return ids
  }

  it('returns the reference hashes from honest tiles, for every kind of request', async () => {
    for (const size of SIZES) {
      const source = tileSource()
      const reader = tileHashReader(BigInt(size), ref.root(size), source.read)
      const ids = requestFor(size)
      const hashes = await reader(ids)
      expect(hashes.map(hex), `size ${size}`).toEqual(
        ids.map((id) => hex(ref.subtree(id.level, Number(id.index)))),
      )
      expect(source.calls.length).toBe(1)
      // Every tile was asked for with its width in this tree.
      for (const key of source.tilesRead()) {
        const [level, index, width] = key.split('/').map(Number) as [number, number, number]
        expect(width).toBe(expectedWidth(size, level, index))
      }
    }
  })

  it('a flipped bit in ANY single tile it reads is detected (top partial, intermediate full, leaf tiles)', async () => {
    const kinds = new Set<string>()
    for (const size of SIZES) {
      const ids = requestFor(size)
      const honest = tileSource()
      await tileHashReader(BigInt(size), ref.root(size), honest.read)(ids)
      for (const key of honest.tilesRead()) {
        const [level, index, width] = key.split('/').map(Number) as [number, number, number]
        const tile = { level, index: BigInt(index), width }
        const isTop = Math.floor(size / 256 ** (level + 1)) === 0
        kinds.add(
          width < 256 ? (isTop ? 'top partial' : 'partial') : level > 0 ? 'intermediate full' : 'leaf full',
        )
        // Hash positions across the whole tile (first and last included), a different byte and bit each time.
        const stride = Math.max(1, Math.floor(width / 24))
        const positions = new Set([
          ...Array.from({ length: Math.ceil(width / stride) }, (_, i) => i * stride),
          width - 1,
        ])
        for (const position of positions) {
          const bad = flipped(honestTile(tile), position * 32 + ((position * 7) % 32), position % 8)
          const reader = tileHashReader(BigInt(size), ref.root(size), tileSource(new Map([[key, bad]])).read)
          expect(await asyncCodeOf(() => reader(ids)), `size ${size} tile ${key} position ${position}`).toBe(
            'TILE_MISMATCH',
          )
        }
      }
    }
    expect([...kinds].sort()).toEqual(['intermediate full', 'leaf full', 'partial', 'top partial'])
  })

  it('closes the x/mod gap: a full tile is authenticated even when the root has more subtrees than tiles', async () => {
    // Size 259 = 256 + 2 + 1: the root has 3 subtrees but they live in 2 distinct tiles (tile/1/000.p/1 and
    // tile/0/001.p/3). x/mod's TileHashReader starts authenticating full tiles at position len(subtrees) =
    // 3 of its tile list instead of at the number of distinct tiles (2), so it never checks tile/0/000,
    // fetched at position 2, and returns a corrupted leaf hash from it (checked against x/mod v0.7.0 with a
    // Go program while writing this test).
    const size = 259n
    expect(rootSubtrees(size).length).toBe(3)
    expect(partialTilesForSize(size).map(tilePath)).toEqual(['tile/0/001.p/3', 'tile/1/000.p/1'])
    const tile = { level: 0, index: 0n, width: 256 }
    const bad = flipped(honestTile(tile), 5 * 32)
    const source = tileSource(new Map([[keyOf(tile), bad]]))
    const reader = tileHashReader(size, ref.root(259), source.read)
    expect(await asyncCodeOf(() => reader([{ level: 0, index: 5n }]))).toBe('TILE_MISMATCH')
    expect(source.tilesRead()).toEqual(new Set(['0/1/3', '1/0/1', '0/0/256']))
  })

  it('caches authenticated tiles: later reads fetch only tiles not yet authenticated', async () => {
    const source = tileSource()
    const reader = tileHashReader(65793n, ref.root(65793), source.read)
    await reader([{ level: 0, index: 0n }])
    expect(new Set(source.calls[0])).toEqual(new Set(['0/257/1', '1/1/1', '2/0/1', '1/0/256', '0/0/256']))
    await reader([
      { level: 0, index: 1n },
      { level: 3, index: 2n },
      { level: 8, index: 200n },
    ])
    expect(source.calls.length).toBe(1)
    await reader([{ level: 0, index: 300n }])
    expect(source.calls[1]).toEqual(['0/1/256'])
    expect(await reader([])).toEqual([])
    expect(source.calls.length).toBe(2)
  })

  it('caches nothing from a batch that failed, and copies what it authenticated', async () => {
    const tile = { level: 0, index: 3n, width: 256 }
    let corrupt = true
    const honestRead = tileSource().read
    const returned: Uint8Array[] = []
    const reader = tileHashReader(65793n, ref.root(65793), async (tiles) => {
      const data = await honestRead(tiles)
      const out = tiles.map((t, i) =>
        corrupt && keyOf(t) === keyOf(tile) ? flipped(data[i]!, 100) : data[i]!,
      )
      returned.push(...out)
      return out
    })
    const id = { level: 0, index: 3n * 256n + 5n }
    expect(await asyncCodeOf(() => reader([id]))).toBe('TILE_MISMATCH')
    corrupt = false
    expect(hex((await reader([id]))[0]!)).toBe(hex(ref.subtree(0, 3 * 256 + 5)))
    // The source scribbling over the buffers it handed out changes nothing.
    for (const buffer of returned) buffer.fill(0)
    expect(hex((await reader([id]))[0]!)).toBe(hex(ref.subtree(0, 3 * 256 + 5)))
  })

  it('rejects a wrong root, bad tile data shapes and subtrees outside the tree', async () => {
    const wrongRoot = tileHashReader(300n, ref.root(299), tileSource().read)
    expect(await asyncCodeOf(() => wrongRoot([{ level: 0, index: 0n }]))).toBe('TILE_MISMATCH')
    const short = tileHashReader(300n, ref.root(300), async (tiles) => tiles.slice(1).map(honestTile))
    expect(await asyncCodeOf(() => short([{ level: 0, index: 0n }]))).toBe('MALFORMED_TILE')
    const long = tileHashReader(300n, ref.root(300), async (tiles) =>
      tiles.map((t) => new Uint8Array([...honestTile(t), 0])),
    )
    expect(await asyncCodeOf(() => long([{ level: 0, index: 0n }]))).toBe('MALFORMED_TILE')
    // A wider version of a partial tile is a different tile: refused, not trimmed.
    const wider = tileHashReader(300n, ref.root(300), async (tiles) =>
      tiles.map((t) => honestTile({ ...t, width: t.width < 256 ? t.width + 1 : 256 })),
    )
    expect(await asyncCodeOf(() => wider([{ level: 0, index: 299n }]))).toBe('MALFORMED_TILE')
    const honest = tileHashReader(300n, ref.root(300), tileSource().read)
    expect(await asyncCodeOf(() => honest([{ level: 0, index: 300n }]))).toBe('INDEX_OUT_OF_RANGE')
    expect(await asyncCodeOf(() => honest([{ level: 9, index: 0n }]))).toBe('INDEX_OUT_OF_RANGE')
    const empty = tileHashReader(0n, ref.root(0), tileSource().read)
    expect(await asyncCodeOf(() => empty([{ level: 0, index: 0n }]))).toBe('INDEX_OUT_OF_RANGE')
    expect(codeOf(() => tileHashReader(MAX_TREE_SIZE + 1n, ref.root(1), tileSource().read))).toBe(
      'SIZE_OUT_OF_RANGE',
    )
    expect(codeOf(() => tileHashReader(1n, new Uint8Array(31), tileSource().read))).toBe('INVALID_ARGUMENT')
  })

  it('drives proofs that match the vectors', async () => {
    const cases = loadVectors<InclusionCase>('inclusion-proofs.json').filter(
      (c) => c.valid && Number(c.tree_size) >= 255,
    )
    expect(cases.length).toBeGreaterThan(50)
    for (const c of cases) {
      const size = BigInt(c.tree_size)
      const reader = tileHashReader(size, unhex(c.root), tileSource().read)
      const proof = await proveInclusion(BigInt(c.index), size, reader)
      expect(proof.map(hex), `${c.tree_size}/${c.index}`).toEqual(c.proof)
    }
    const reader = tileHashReader(65793n, ref.root(65793), tileSource().read)
    expect((await proveConsistency(1000n, 65793n, reader)).map(hex)).toEqual(
      ref.consistencyProof(1000, 65793).map(hex),
    )
  })

  it('property: honest tiles give reference hashes; one corrupt byte in any tile read is detected', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.tuple(fc.nat({ max: 12 }), fc.double({ min: 0, max: 1, noNaN: true })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.nat(),
        fc.nat(),
        async (size, picks, whichTile, whichByte) => {
          const ids = picks
            .filter(([level]) => 2 ** level <= size)
            .map(([level, where]) => {
              const count = Math.floor(size / 2 ** level)
              return { level, index: BigInt(Math.min(Math.floor(where * count), count - 1)) }
            })
          fc.pre(ids.length > 0)
          const honest = tileSource()
          const hashes = await tileHashReader(BigInt(size), ref.root(size), honest.read)(ids)
          expect(hashes.map(hex)).toEqual(ids.map((id) => hex(ref.subtree(id.level, Number(id.index)))))
          const keys = [...honest.tilesRead()]
          const key = keys[whichTile % keys.length]!
          const [level, index, width] = key.split('/').map(Number) as [number, number, number]
          const bad = flipped(
            honestTile({ level, index: BigInt(index), width }),
            whichByte % (width * 32),
            whichByte % 8,
          )
          const reader = tileHashReader(BigInt(size), ref.root(size), tileSource(new Map([[key, bad]])).read)
          expect(await asyncCodeOf(() => reader(ids))).toBe('TILE_MISMATCH')
        },
      ),
      { numRuns: 150 },
    )
  })
})

describe('trustedTileHashReader (a log reading its own tiles)', () => {
  it('answers proofs equal to the vectors, one tile read per proof', async () => {
    const cases = loadVectors<InclusionCase>('inclusion-proofs.json').filter(
      (c) => c.valid && Number(c.tree_size) >= 255,
    )
    for (const c of cases) {
      const source = tileSource()
      const proof = await proveInclusion(
        BigInt(c.index),
        BigInt(c.tree_size),
        trustedTileHashReader(BigInt(c.tree_size), source.read),
      )
      expect(proof.map(hex)).toEqual(c.proof)
      expect(source.calls.length).toBe(1)
      expect(new Set(source.calls[0]).size).toBe(source.calls[0]!.length)
    }
  })

  it('accepts a wider version of a partial tile (same hashes in front), refuses a short one', async () => {
    const wider = trustedTileHashReader(300n, (tiles) =>
      tiles.map((t) => honestTile({ ...t, width: t.width < TILE_WIDTH ? t.width + 10 : TILE_WIDTH })),
    )
    expect(hex(await treeRoot(300n, wider))).toBe(hex(ref.root(300)))
    const short = trustedTileHashReader(300n, (tiles) => tiles.map((t) => honestTile({ ...t, width: 1 })))
    expect(await asyncCodeOf(() => treeRoot(300n, short))).toBe('MALFORMED_TILE')
  })
})
