import { MAX_TREE_SIZE, bytesEqual } from './bytes.js'
import { TlogError } from './errors.js'
import { HASH_SIZE, hashChildren, hashLeaf } from './hash.js'
import type { Hash } from './hash.js'
import { MAX_SUBTREE_LEVEL, assertTreeSize, rootSubtrees } from './merkle.js'
import type { SubtreeHashReader, SubtreeId } from './merkle.js'

/** C2SP tlog-tiles: every hash tile spans 8 tree levels... */
export const TILE_HEIGHT = 8
/** ...and holds up to 2^8 hashes; an entry bundle holds up to 256 entries. */
export const TILE_WIDTH = 256

/** Highest tile level a C2SP path may name (the spec caps it at 63). */
export const MAX_TILE_LEVEL = 63

/**
 * Largest tile number N a path may name: N*256 + 255 must fit in 64 bits (the vectors accept
 * x072/x057/x594/x037/x927/935, 2^56-1), though trees of 2^63-1 leaves use N below 2^55.
 */
const MAX_TILE_INDEX = (1n << 56n) - 1n

/** Largest leaf or entry an entry bundle can carry (a 16-bit big-endian length prefix). */
export const MAX_ENTRY_SIZE = 65535

/**
 * A hash tile (C2SP tlog-tiles). Tile `index` N at `level` L holds the hashes of the level-8L subtrees
 * N*256 .. N*256+width-1: leaf hashes at level 0, roots of full level L-1 tiles above. `width` is 1..256;
 * below 256 the tile is partial (the right edge of the tree).
 */
export interface TileId {
  readonly level: number
  readonly index: bigint
  readonly width: number
}

/** An entry bundle (C2SP tlog-tiles): entries index*256 .. index*256+width-1, width 1..256. */
export interface EntryBundleId {
  readonly index: bigint
  readonly width: number
}

function assertWidth(width: number): void {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) {
    throw new TlogError('INVALID_ARGUMENT', `tile width ${width} outside 1..256`)
  }
}

function assertTileIndex(index: bigint): void {
  if (typeof index !== 'bigint' || index < 0n || index > MAX_TILE_INDEX) {
    throw new TlogError('INVALID_ARGUMENT', `tile index ${index} outside [0, 2^56-1]`)
  }
}

function assertTileId(tile: TileId): void {
  if (!Number.isInteger(tile.level) || tile.level < 0 || tile.level > MAX_TILE_LEVEL) {
    throw new TlogError('INVALID_ARGUMENT', `tile level ${tile.level} outside 0..63`)
  }
  assertTileIndex(tile.index)
  assertWidth(tile.width)
}

/** <N> in zero-padded 3-digit groups, all but the last prefixed with x: 1234067 -> x001/x234/067. */
function encodeTileIndex(index: bigint): string {
  let digits = index.toString()
  digits = digits.padStart(Math.ceil(digits.length / 3) * 3, '0')
  const groups: string[] = []
  for (let i = 0; i < digits.length; i += 3) groups.push(digits.slice(i, i + 3))
  return groups.map((group, i) => (i < groups.length - 1 ? `x${group}` : group)).join('/')
}

function widthSuffix(width: number): string {
  return width === TILE_WIDTH ? '' : `.p/${width}`
}

/** The C2SP path of a hash tile: `tile/<L>/<N>[.p/<W>]`, without a leading slash. Throws INVALID_ARGUMENT. */
export function tilePath(tile: TileId): string {
  assertTileId(tile)
  return `tile/${tile.level}/${encodeTileIndex(tile.index)}${widthSuffix(tile.width)}`
}

/** The C2SP path of an entry bundle: `tile/entries/<N>[.p/<W>]`, without a leading slash. */
export function entryBundlePath(bundle: EntryBundleId): string {
  assertTileIndex(bundle.index)
  assertWidth(bundle.width)
  return `tile/entries/${encodeTileIndex(bundle.index)}${widthSuffix(bundle.width)}`
}

const LEVEL_RE = /^(?:0|[1-9][0-9]?)$/
const PARTIAL_WIDTH_RE = /^[1-9][0-9]{0,2}$/
const INNER_GROUP_RE = /^x[0-9]{3}$/
const LAST_GROUP_RE = /^[0-9]{3}$/

/**
 * Parses a C2SP tlog-tiles path (no leading slash) into a hash tile or an entry bundle. Accepts only the
 * canonical form: level 0..63 without leading zeros, <N> in x-prefixed 3-digit groups without a
 * superfluous leading group, `.p/<W>` only for widths 1..255. The x/mod layouts (`tile/8/...`,
 * `tile/data/...`) are not C2SP and are rejected. Throws MALFORMED_TILE_PATH.
 */
export function parseTilePath(
  path: string,
): { kind: 'hash'; tile: TileId } | { kind: 'entries'; bundle: EntryBundleId } {
  const bad = (why: string) => new TlogError('MALFORMED_TILE_PATH', `${JSON.stringify(path)}: ${why}`)
  if (typeof path !== 'string') throw bad('not a string')
  const parts = path.split('/')
  if (parts.length < 3 || parts[0] !== 'tile') throw bad('not tile/<L>/<N> or tile/entries/<N>')
  const levelText = parts[1]!
  let level = -1
  if (levelText !== 'entries') {
    if (!LEVEL_RE.test(levelText) || Number(levelText) > MAX_TILE_LEVEL) throw bad('bad level')
    level = Number(levelText)
  }
  const groups = parts.slice(2)
  let width = TILE_WIDTH
  if (groups.length >= 2 && groups[groups.length - 2]!.endsWith('.p')) {
    const widthText = groups.pop()!
    if (!PARTIAL_WIDTH_RE.test(widthText) || Number(widthText) >= TILE_WIDTH) throw bad('bad partial width')
    width = Number(widthText)
    groups[groups.length - 1] = groups[groups.length - 1]!.slice(0, -'.p'.length)
  }
  for (let i = 0; i < groups.length; i++) {
    if (!(i < groups.length - 1 ? INNER_GROUP_RE : LAST_GROUP_RE).test(groups[i]!)) throw bad('bad <N>')
  }
  if (groups.length > 1 && groups[0] === 'x000') throw bad('superfluous leading zero group in <N>')
  const index = BigInt(groups.map((group) => group.replace('x', '')).join(''))
  if (index > MAX_TILE_INDEX) throw bad('tile number too large')
  // The checks above admit one spelling per tile; re-encoding guards that claim.
  if (level < 0) {
    const bundle: EntryBundleId = { index, width }
    if (entryBundlePath(bundle) !== path) throw bad('not canonical')
    return { kind: 'entries', bundle }
  }
  const tile: TileId = { level, index, width }
  if (tilePath(tile) !== path) throw bad('not canonical')
  return { kind: 'hash', tile }
}

/** Number of level-8L hashes in the tree of `size` leaves: the hashes that level-L tiles hold. */
function hashesAtTileLevel(size: bigint, level: number): bigint {
  return size >> BigInt(TILE_HEIGHT * level)
}

/**
 * Every hash tile of the tree of `size` leaves: at each level the full tiles and the one partial tile (if
 * any), ordered by level then index. O(size/256) tiles: meant for sizes a caller actually holds.
 * Throws SIZE_OUT_OF_RANGE.
 */
export function tilesForSize(size: bigint): TileId[] {
  return newTilesForGrowth(0n, size)
}

/** The partial (right-edge) hash tiles of the tree of `size` leaves, at most one per level, by level. */
export function partialTilesForSize(size: bigint): TileId[] {
  assertTreeSize(size)
  const out: TileId[] = []
  for (let level = 0; hashesAtTileLevel(size, level) > 0n; level++) {
    const hashes = hashesAtTileLevel(size, level)
    const width = Number(hashes & 0xffn)
    if (width > 0) out.push({ level, index: hashes >> 8n, width })
  }
  return out
}

/** Every entry bundle of the tree of `size` leaves (full bundles, then the partial one), by index. */
export function entryBundlesForSize(size: bigint): EntryBundleId[] {
  return newEntryBundlesForGrowth(0n, size)
}

function assertGrowth(oldSize: bigint, newSize: bigint): void {
  assertTreeSize(oldSize, 'old size')
  assertTreeSize(newSize, 'new size')
  if (oldSize > newSize) throw new TlogError('SIZE_OUT_OF_RANGE', `old size ${oldSize} above ${newSize}`)
}

/**
 * The hash tiles a log writes when it grows straight from `oldSize` to `newSize`, by level then index: at
 * each level, the tiles that become full, and the partial tile at its final width. Like x/mod's
 * tlog.NewTiles (and the vectors' new_tiles_final), the partial tile of every level is listed even when
 * that level did not change (writing it again is idempotent); unlike NewTiles, the intermediate partial
 * widths nobody published are not. Throws SIZE_OUT_OF_RANGE.
 */
export function newTilesForGrowth(oldSize: bigint, newSize: bigint): TileId[] {
  assertGrowth(oldSize, newSize)
  const out: TileId[] = []
  for (let level = 0; hashesAtTileLevel(newSize, level) > 0n; level++) {
    const oldHashes = hashesAtTileLevel(oldSize, level)
    const newHashes = hashesAtTileLevel(newSize, level)
    for (let index = oldHashes >> 8n; index < newHashes >> 8n; index++) {
      out.push({ level, index, width: TILE_WIDTH })
    }
    const width = Number(newHashes & 0xffn)
    if (width > 0) out.push({ level, index: newHashes >> 8n, width })
  }
  return out
}

/** The entry bundles a log writes when it grows straight from `oldSize` to `newSize`, by index. */
export function newEntryBundlesForGrowth(oldSize: bigint, newSize: bigint): EntryBundleId[] {
  return newTilesForGrowth(oldSize, newSize)
    .filter((tile) => tile.level === 0)
    .map((tile) => ({ index: tile.index, width: tile.width }))
}

/** Where a complete subtree's hash lives in the tiles. */
export interface SubtreeTileLocation {
  /** The tile holding the hashes; its width is that tile's width in the tree asked about (see tileForSubtree). */
  readonly tile: TileId
  /** Position in the tile of the first hash under the subtree. */
  readonly first: number
  /** 2^(level mod 8) consecutive hashes from `first`: their perfect-tree root is the subtree's hash. */
  readonly count: number
}

function assertSubtreeId(id: SubtreeId): void {
  if (!Number.isInteger(id.level) || id.level < 0 || id.level > MAX_SUBTREE_LEVEL) {
    throw new TlogError('INVALID_ARGUMENT', `subtree level ${id.level} outside 0..62`)
  }
  if (typeof id.index !== 'bigint' || id.index < 0n) {
    throw new TlogError('INVALID_ARGUMENT', 'subtree index must be a non-negative bigint')
  }
  if ((id.index + 1n) << BigInt(id.level) > MAX_TREE_SIZE) {
    throw new TlogError('INDEX_OUT_OF_RANGE', `subtree ${id.level}/${id.index} beyond any tree`)
  }
}

/**
 * Which tile holds, or derives, the hash of subtree `id`: a subtree at level 8L+r is the perfect-tree root
 * of 2^r consecutive hashes of one level-L tile (the hash itself when r = 0).
 * With `size`, the tile's width is its width in the tree of `size` leaves, and a subtree that is not
 * complete in that tree throws INDEX_OUT_OF_RANGE. Without `size`, the width is the narrowest that holds
 * the hashes (first + count). Throws INVALID_ARGUMENT for a malformed id.
 */
export function tileForSubtree(id: SubtreeId, size?: bigint): SubtreeTileLocation {
  assertSubtreeId(id)
  const tileLevel = Math.floor(id.level / TILE_HEIGHT)
  const rise = id.level % TILE_HEIGHT
  const firstHash = id.index << BigInt(rise)
  const index = firstHash >> 8n
  const first = Number(firstHash & 0xffn)
  const count = 1 << rise
  let width = first + count
  if (size !== undefined) {
    assertTreeSize(size)
    if ((id.index + 1n) << BigInt(id.level) > size) {
      throw new TlogError(
        'INDEX_OUT_OF_RANGE',
        `subtree ${id.level}/${id.index} not in a tree of size ${size}`,
      )
    }
    const available = hashesAtTileLevel(size, tileLevel) - (index << 8n)
    width = available >= BigInt(TILE_WIDTH) ? TILE_WIDTH : Number(available)
  }
  return { tile: { level: tileLevel, index, width }, first, count }
}

/** Root of the perfect tree over `count` (a power of two) hashes of `content` from position `first`. */
function perfectRoot(content: Uint8Array, first: number, count: number): Hash {
  const at = (i: number) => content.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE)
  if (count === 1) return at(first).slice()
  let level: Hash[] = []
  for (let i = 0; i < count; i += 2) level.push(hashChildren(at(first + i), at(first + i + 1)))
  while (level.length > 1) {
    const next: Hash[] = []
    for (let i = 0; i < level.length; i += 2) next.push(hashChildren(level[i]!, level[i + 1]!))
    level = next
  }
  return level[0]!
}

function assertTileContent(content: Uint8Array, minWidth: number, what: string): void {
  if (!(content instanceof Uint8Array)) throw new TlogError('MALFORMED_TILE', `${what}: not bytes`)
  const width = content.length / HASH_SIZE
  if (!Number.isInteger(width) || width < minWidth || width > TILE_WIDTH) {
    throw new TlogError('MALFORMED_TILE', `${what}: ${content.length} bytes cannot hold the hashes needed`)
  }
}

/**
 * The hash of subtree `id` computed from `content`, the content of the tile `tileForSubtree(id)` names
 * (any width that holds the hashes: a wider version of a partial tile has the same hashes in front).
 * Trusts the content: for a log's own tiles. Throws MALFORMED_TILE if the content is not whole hashes or
 * too short, INVALID_ARGUMENT for a malformed id.
 */
export function subtreeHashFromTile(id: SubtreeId, content: Uint8Array): Hash {
  const { first, count } = tileForSubtree(id)
  assertTileContent(content, first + count, 'tile content')
  return perfectRoot(content, first, count)
}

/**
 * The content of `tile` (width concatenated 32-byte hashes, as C2SP serves it) from subtree hashes: what a
 * log writes. One call to `read`. Throws INVALID_ARGUMENT for a malformed tile.
 */
export async function readTileData(tile: TileId, read: SubtreeHashReader): Promise<Uint8Array> {
  assertTileId(tile)
  const level = tile.level * TILE_HEIGHT
  if (level > MAX_SUBTREE_LEVEL)
    throw new TlogError('INVALID_ARGUMENT', `no tree has level ${tile.level} tiles`)
  const ids: SubtreeId[] = []
  for (let i = 0; i < tile.width; i++) ids.push({ level, index: (tile.index << 8n) + BigInt(i) })
  const hashes = await read(ids)
  if (hashes.length !== ids.length)
    throw new TlogError('INVALID_ARGUMENT', 'subtree reader answered wrong count')
  const out = new Uint8Array(tile.width * HASH_SIZE)
  hashes.forEach((hash, i) => {
    if (hash.length !== HASH_SIZE)
      throw new TlogError('INVALID_ARGUMENT', 'subtree reader answered a non-hash')
    out.set(hash, i * HASH_SIZE)
  })
  return out
}

/**
 * Encodes an entry bundle (C2SP tlog-tiles): per entry, a big-endian uint16 length and the bytes.
 * Throws LEAF_TOO_LARGE for an entry over 65,535 bytes, INVALID_ARGUMENT for other than 1..256 entries.
 */
export function encodeEntryBundle(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length < 1 || leaves.length > TILE_WIDTH) {
    throw new TlogError('INVALID_ARGUMENT', `an entry bundle holds 1..256 entries, not ${leaves.length}`)
  }
  let length = 0
  for (const leaf of leaves) {
    if (leaf.length > MAX_ENTRY_SIZE) throw new TlogError('LEAF_TOO_LARGE', `entry of ${leaf.length} bytes`)
    length += 2 + leaf.length
  }
  const out = new Uint8Array(length)
  let offset = 0
  for (const leaf of leaves) {
    out[offset] = leaf.length >> 8
    out[offset + 1] = leaf.length & 0xff
    out.set(leaf, offset + 2)
    offset += 2 + leaf.length
  }
  return out
}

/**
 * The number of entries in an encoded entry bundle (a log's own, trusted bytes). Throws
 * MALFORMED_ENTRY_BUNDLE when the last entry is truncated.
 */
export function countBundleEntries(data: Uint8Array): number {
  let offset = 0
  let count = 0
  while (offset + 2 <= data.length) {
    offset += 2 + ((data[offset]! << 8) | data[offset + 1]!)
    count++
  }
  if (offset !== data.length) throw new TlogError('MALFORMED_ENTRY_BUNDLE', 'entry bundle is truncated')
  return count
}

/**
 * The byte length of the first `count` entries of an encoded entry bundle, or undefined when it holds
 * fewer. A log serves the partial bundle `.p/<W>` as this prefix of any wider version of the bundle.
 */
export function bundlePrefixLength(data: Uint8Array, count: number): number | undefined {
  let offset = 0
  for (let i = 0; i < count; i++) {
    if (offset + 2 > data.length) return undefined
    offset += 2 + ((data[offset]! << 8) | data[offset + 1]!)
  }
  return offset <= data.length ? offset : undefined
}

/** Entry `position` of an encoded entry bundle (a view, not a copy), or undefined when it is shorter. */
export function bundleEntryAt(data: Uint8Array, position: number): Uint8Array | undefined {
  const start = bundlePrefixLength(data, position)
  if (start === undefined || start + 2 > data.length) return undefined
  const length = (data[start]! << 8) | data[start + 1]!
  if (start + 2 + length > data.length) return undefined
  return data.subarray(start + 2, start + 2 + length)
}

/**
 * Decodes an untrusted entry bundle that must hold exactly `expectedCount` entries (its width) and nothing
 * after them. Returns copies of the entries. It does not authenticate them: hash each entry and compare
 * with the level-0 tile (verifyEntryBundle). Throws MALFORMED_ENTRY_BUNDLE.
 */
export function decodeEntryBundle(bytes: Uint8Array, expectedCount: number): Uint8Array[] {
  assertWidth(expectedCount)
  const leaves: Uint8Array[] = []
  let offset = 0
  while (offset < bytes.length) {
    if (leaves.length === expectedCount) {
      throw new TlogError('MALFORMED_ENTRY_BUNDLE', `bytes after the ${expectedCount} expected entries`)
    }
    if (offset + 2 > bytes.length) throw new TlogError('MALFORMED_ENTRY_BUNDLE', 'truncated length prefix')
    const length = (bytes[offset]! << 8) | bytes[offset + 1]!
    offset += 2
    if (offset + length > bytes.length) throw new TlogError('MALFORMED_ENTRY_BUNDLE', 'truncated entry')
    leaves.push(bytes.slice(offset, offset + length))
    offset += length
  }
  if (leaves.length !== expectedCount) {
    throw new TlogError('MALFORMED_ENTRY_BUNDLE', `${leaves.length} entries, expected ${expectedCount}`)
  }
  return leaves
}

/**
 * Decodes an untrusted entry bundle and checks each entry's leaf hash against `levelZeroTile`, the
 * AUTHENTICATED content of the level-0 hash tile with the same index and width (e.g. from tileHashReader
 * hashes at level 0). Returns the entries. Throws MALFORMED_ENTRY_BUNDLE (shape, count) or TILE_MISMATCH
 * (an entry whose hash is not the tile's).
 */
export function verifyEntryBundle(bytes: Uint8Array, levelZeroTile: Uint8Array): Uint8Array[] {
  assertTileContent(levelZeroTile, 1, 'level-0 tile')
  const leaves = decodeEntryBundle(bytes, levelZeroTile.length / HASH_SIZE)
  leaves.forEach((leaf, i) => {
    if (!bytesEqual(hashLeaf(leaf), levelZeroTile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))) {
      throw new TlogError('TILE_MISMATCH', `entry ${i} of the bundle does not match its leaf hash`)
    }
  })
  return leaves
}

function tileKey(level: number, index: bigint): string {
  return `${level}/${index}`
}

/**
 * A SubtreeHashReader over the tiles of the tree of `size` leaves with the TRUSTED root `root`, read from an
 * UNTRUSTED source (`readTiles` returns each tile's content, in order; e.g. a fetch from a log or a
 * mirror). No hash is returned from a tile before that tile is authenticated:
 * - the partial tiles (the right edge, including the top tile) together must recompute `root`; every
 *   partial tile is read whole and every hash in it is used in that recomputation;
 * - every full tile must hash (as a perfect tree of 256 hashes) to its entry in its parent tile, and the
 *   parent is authenticated first, up to the partial tiles.
 * Verification is per distinct tile: unlike Go x/mod's TileHashReader, which counts the root's subtree
 * hashes instead of distinct tiles and so can skip authenticating a full tile (e.g. tile/0/000 of a tree of
 * 259 leaves), no tile is ever trusted by position in a list. Authenticated tiles are cached (copied) in
 * this reader, so later reads fetch only new tiles. Subtrees not complete in the tree: INDEX_OUT_OF_RANGE.
 * Wrong count or length of tile data: MALFORMED_TILE. Content that does not authenticate: TILE_MISMATCH.
 */
export function tileHashReader(
  size: bigint,
  root: Hash,
  readTiles: (tiles: readonly TileId[]) => readonly Uint8Array[] | Promise<readonly Uint8Array[]>,
): SubtreeHashReader {
  assertTreeSize(size)
  if (!(root instanceof Uint8Array) || root.length !== HASH_SIZE) {
    throw new TlogError('INVALID_ARGUMENT', 'root must be a 32-byte hash')
  }
  const trustedRoot = root.slice()
  const verified = new Map<string, Uint8Array>()
  const partialTiles = partialTilesForSize(size)

  const widthAt = (level: number, index: bigint): number => {
    const available = hashesAtTileLevel(size, level) - (index << 8n)
    return available >= BigInt(TILE_WIDTH) ? TILE_WIDTH : Number(available)
  }

  async function fetchTiles(tiles: readonly TileId[]): Promise<Uint8Array[]> {
    const data = await readTiles(tiles)
    if (!Array.isArray(data) || data.length !== tiles.length) {
      throw new TlogError('MALFORMED_TILE', `tile reader answered the wrong number of tiles`)
    }
    return tiles.map((tile, i) => {
      const content = data[i]
      if (!(content instanceof Uint8Array) || content.length !== tile.width * HASH_SIZE) {
        throw new TlogError('MALFORMED_TILE', `${tilePath(tile)} is not ${tile.width} hashes`)
      }
      // A copy: the source cannot change authenticated bytes afterwards.
      return content.slice()
    })
  }

  function authenticatePartialTiles(tiles: readonly TileId[], contents: readonly Uint8Array[]): void {
    const contentOf = new Map<string, Uint8Array>()
    tiles.forEach((tile, i) => contentOf.set(tileKey(tile.level, tile.index), contents[i]!))
    // The root's subtrees: at level L, those of levels 8L..8L+7 split the partial tile's `width` hashes
    // by the bits of its width, so together they use every hash of every partial tile.
    const ids = rootSubtrees(size)
    const hashes = ids.map((id) => {
      const { tile, first, count } = tileForSubtree(id, size)
      const content = contentOf.get(tileKey(tile.level, tile.index))
      if (content === undefined) {
        throw new TlogError('INVALID_ARGUMENT', 'internal: root subtree off the edge')
      }
      return perfectRoot(content, first, count)
    })
    let computed = hashes[hashes.length - 1]!
    for (let i = hashes.length - 2; i >= 0; i--) computed = hashChildren(hashes[i]!, computed)
    if (!bytesEqual(computed, trustedRoot)) {
      throw new TlogError('TILE_MISMATCH', `the partial tiles of size ${size} do not hash to the root`)
    }
  }

  return async (ids: readonly SubtreeId[]): Promise<Hash[]> => {
    if (ids.length === 0) return []
    const locations = ids.map((id) => tileForSubtree(id, size))
    // Plan: every tile asked for, and each unauthenticated full tile's ancestors up to a partial or an
    // authenticated tile. Keyed by (level, index): the width is fixed by `size`.
    const needed = new Map<string, TileId>()
    let needPartials = false
    for (const { tile } of locations) {
      let level = tile.level
      let index = tile.index
      for (;;) {
        const key = tileKey(level, index)
        if (verified.has(key) || needed.has(key)) break
        const width = widthAt(level, index)
        if (width < TILE_WIDTH) {
          needPartials = true
          break
        }
        needed.set(key, { level, index, width })
        level++
        index >>= 8n
      }
    }
    const fullTiles = [...needed.values()].sort((a, b) => b.level - a.level)
    const partials = needPartials ? partialTiles : []
    const toFetch = [...partials, ...fullTiles]
    const contents = toFetch.length === 0 ? [] : await fetchTiles(toFetch)
    const fresh = new Map<string, Uint8Array>()
    if (partials.length > 0) {
      authenticatePartialTiles(partials, contents.slice(0, partials.length))
      partials.forEach((tile, i) => fresh.set(tileKey(tile.level, tile.index), contents[i]!))
    }
    // Parents before children: each full tile's parent entry is authenticated when it is checked.
    fullTiles.forEach((tile, i) => {
      const content = contents[partials.length + i]!
      const parentKey = tileKey(tile.level + 1, tile.index >> 8n)
      const parent = fresh.get(parentKey) ?? verified.get(parentKey)
      if (parent === undefined) {
        throw new TlogError('INVALID_ARGUMENT', 'internal: parent tile not authenticated')
      }
      const position = Number(tile.index & 0xffn)
      const expected = parent.subarray(position * HASH_SIZE, (position + 1) * HASH_SIZE)
      if (!bytesEqual(perfectRoot(content, 0, TILE_WIDTH), expected)) {
        throw new TlogError('TILE_MISMATCH', `${tilePath(tile)} does not hash to its parent entry`)
      }
      fresh.set(tileKey(tile.level, tile.index), content)
    })
    // Cache only once the whole batch authenticated.
    for (const [key, content] of fresh) verified.set(key, content)
    return locations.map(({ tile, first, count }) =>
      perfectRoot(verified.get(tileKey(tile.level, tile.index))!, first, count),
    )
  }
}

/**
 * A SubtreeHashReader over a log's OWN (trusted) tiles of the tree of `size` leaves: what a log server uses
 * to answer proofs from its stored tiles. One `readTiles` call per read, each distinct tile once; no
 * authentication (use tileHashReader for tiles from elsewhere). Content may be a wider version of a
 * partial tile. Throws INDEX_OUT_OF_RANGE for subtrees not in the tree, MALFORMED_TILE for short content.
 */
export function trustedTileHashReader(
  size: bigint,
  readTiles: (tiles: readonly TileId[]) => readonly Uint8Array[] | Promise<readonly Uint8Array[]>,
): SubtreeHashReader {
  assertTreeSize(size)
  return async (ids: readonly SubtreeId[]): Promise<Hash[]> => {
    const locations = ids.map((id) => tileForSubtree(id, size))
    const tiles = new Map<string, TileId>()
    for (const { tile } of locations) tiles.set(tileKey(tile.level, tile.index), tile)
    const list = [...tiles.values()]
    const data = list.length === 0 ? [] : await readTiles(list)
    if (data.length !== list.length) throw new TlogError('MALFORMED_TILE', 'tile reader answered wrong count')
    const contentOf = new Map<string, Uint8Array>()
    list.forEach((tile, i) => contentOf.set(tileKey(tile.level, tile.index), data[i]!))
    return locations.map(({ tile, first, count }) => {
      const content = contentOf.get(tileKey(tile.level, tile.index))!
      assertTileContent(content, first + count, tilePath(tile))
      return perfectRoot(content, first, count)
    })
  }
}
