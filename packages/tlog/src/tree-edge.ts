// The right edge of a tiled log (C2SP tlog-tiles): what appending a batch of entries writes, computed in
// memory without I/O. A log stores what `append` returns; a restart rebuilds the edge with `restore`.
import { TlogError } from './errors.js'
import { CompactRange } from './compact-range.js'
import { HASH_SIZE, hashLeaf } from './hash.js'
import type { Hash } from './hash.js'
import { MAX_ENTRY_SIZE, TILE_HEIGHT, TILE_WIDTH, partialTilesForSize } from './tiles.js'
import type { EntryBundleId } from './tiles.js'

/** The content of a hash tile (level, index), or of entry bundle `index` (level 0). */
export interface TileContent {
  level: number
  index: bigint
  data: Uint8Array
}

/** One entry to append: its bytes, and its leaf hash when the caller already has it. */
export interface EdgeEntry {
  leaf: Uint8Array
  leafHash?: Hash
}

/** What one append writes. The old edge is unchanged; `edge` is the tree after the append. */
export interface EdgeGrowth {
  edge: TreeEdge
  /**
   * The hash tiles whose content changed, at their new content: each tile that became full (exactly 256
   * hashes, written once and never again) and the new partial tile of each level that grew.
   */
  tiles: TileContent[]
  /**
   * The entry bundles that changed (level 0, index = bundle number): each that became full, then the new
   * partial one. Their data never changes afterwards: later appends write past a partial bundle's end.
   */
  bundles: TileContent[]
}

/** A partial (right-edge) tile: its content and width. Full tiles are not part of the edge. */
interface EdgeTile {
  index: bigint
  data: Uint8Array
  width: number
}

/**
 * The partial entry bundle: its encoding is `buffer[0, length)`. Appends write past `length` in place (the
 * buffer keeps room to grow), so the views handed out for a committed length never change.
 */
interface EdgeBundle {
  index: bigint
  buffer: Uint8Array
  length: number
  width: number
}

/** A hash tile being filled by an append. */
interface WorkingTile {
  index: bigint
  data: Uint8Array
  width: number
}

/** Room of a new partial bundle's buffer; it doubles when an append needs more. */
const INITIAL_BUNDLE_BYTES = 64 * 1024

/** The entry bundle holding the right edge of a tree of `size` leaves, if it is partial. */
export function partialBundleForSize(size: bigint): EntryBundleId | undefined {
  const width = Number(size % BigInt(TILE_WIDTH))
  return width === 0 ? undefined : { index: size / BigInt(TILE_WIDTH), width }
}

/**
 * The right edge of a tree of tiles: its compact range, the partial hash tile of each level and the
 * partial entry bundle. Appending n entries costs O(n + log size) hashes and no read, whatever the size.
 * Immutable: `append` returns a new edge. Pure; trusts its caller's leaves (it only hashes them).
 */
export class TreeEdge {
  private constructor(
    private readonly range: CompactRange,
    private readonly partial: ReadonlyMap<number, EdgeTile>,
    private readonly bundle: EdgeBundle | undefined,
  ) {}

  /** The edge of the empty tree. */
  static empty(): TreeEdge {
    return new TreeEdge(CompactRange.empty(), new Map(), undefined)
  }

  /**
   * The edge of a stored tree: its compact range, the stored partial tiles (`tiles`, exactly those of
   * `partialTilesForSize(range.size)`, any order) and the leaves of its partial entry bundle, in order.
   * Throws TlogError MALFORMED_TILE when a tile is missing or has another width, MALFORMED_ENTRY_BUNDLE
   * when the leaves are not exactly the partial bundle's (the store is not what its size says).
   */
  static restore(
    range: CompactRange,
    tiles: readonly TileContent[],
    edgeLeaves: readonly Uint8Array[],
  ): TreeEdge {
    const size = range.size
    const expected = partialTilesForSize(size)
    if (tiles.length !== expected.length) {
      throw new TlogError(
        'MALFORMED_TILE',
        `a tree of ${size} has ${expected.length} partial tiles, got ${tiles.length}`,
      )
    }
    const partial = new Map<number, EdgeTile>()
    for (const id of expected) {
      const tile = tiles.find((t) => t.level === id.level)
      if (tile === undefined || tile.index !== id.index || tile.data.length !== id.width * HASH_SIZE) {
        throw new TlogError(
          'MALFORMED_TILE',
          `edge tile ${id.level}/${id.index} is missing or not ${id.width} wide`,
        )
      }
      partial.set(id.level, { index: id.index, data: tile.data, width: id.width })
    }
    const bundleId = partialBundleForSize(size)
    if (edgeLeaves.length !== (bundleId?.width ?? 0)) {
      throw new TlogError(
        'MALFORMED_ENTRY_BUNDLE',
        `a tree of ${size} has ${bundleId?.width ?? 0} leaves in its partial bundle, got ${edgeLeaves.length}`,
      )
    }
    let bundle: EdgeBundle | undefined
    if (bundleId !== undefined) {
      bundle = newBundle(bundleId.index)
      for (const leaf of edgeLeaves) appendToBundle(bundle, leaf)
    }
    return new TreeEdge(range.clone(), partial, bundle)
  }

  /** Number of leaves. */
  get size(): bigint {
    return this.range.size
  }

  /** The RFC 6962 root hash (a fresh copy). */
  root(): Hash {
    return this.range.root()
  }

  /** The compact range (a copy), e.g. to store beside the checkpoint. */
  compactRange(): CompactRange {
    return this.range.clone()
  }

  /** The partial hash tiles, by level, as stored: what a reader needs of the edge besides full tiles. */
  partialTiles(): TileContent[] {
    return [...this.partial].map(([level, tile]) => ({ level, index: tile.index, data: tile.data }))
  }

  /** The partial entry bundle (a view that never changes), or undefined when the size is a multiple of 256. */
  partialBundle(): TileContent | undefined {
    return this.bundle === undefined ? undefined : bundleView(this.bundle)
  }

  /**
   * Appends `entries` in order: returns the new edge and what changed. Full tiles are never produced twice:
   * a tile left of the first open one at its level is never started again. The partial bundle's buffer is
   * shared with the new edge and written past its committed length, so at most one of the edges grown from
   * one edge may be kept (a log keeps the new one once it is stored, or the old one when storing failed).
   * Throws TlogError
   * LEAF_TOO_LARGE for an entry over 65,535 bytes, SIZE_OUT_OF_RANGE past 2^63-1 leaves, INVALID_ARGUMENT
   * for a leaf hash that is not 32 bytes.
   */
  append(entries: readonly EdgeEntry[]): EdgeGrowth {
    const first = this.range.size
    const range = this.range.clone()
    const working = new Map<number, WorkingTile>()
    const fullTiles: TileContent[] = []
    const firstOpen = (level: number) => (first >> BigInt(TILE_HEIGHT * level)) >> BigInt(TILE_HEIGHT)

    const onNode = (level: number, index: bigint, hash: Hash) => {
      if (level % TILE_HEIGHT !== 0) return
      const tileLevel = level / TILE_HEIGHT
      const tileIndex = index >> BigInt(TILE_HEIGHT)
      const position = Number(index & BigInt(TILE_WIDTH - 1))
      let tile = working.get(tileLevel)
      if (tile === undefined || tile.index !== tileIndex) {
        tile = this.startTile(tileLevel, tileIndex, firstOpen(tileLevel))
        working.set(tileLevel, tile)
      }
      if (position !== tile.width) {
        throw new TlogError(
          'INVALID_ARGUMENT',
          `tile ${tileLevel}/${tileIndex}: node ${position} out of order`,
        )
      }
      tile.data.set(hash, position * HASH_SIZE)
      tile.width++
      if (tile.width === TILE_WIDTH) fullTiles.push({ level: tileLevel, index: tileIndex, data: tile.data })
    }

    const bundles: TileContent[] = []
    let bundle: EdgeBundle | undefined
    for (let i = 0; i < entries.length; i++) {
      const { leaf, leafHash } = entries[i]!
      if (leaf.length > MAX_ENTRY_SIZE) throw new TlogError('LEAF_TOO_LARGE', `entry of ${leaf.length} bytes`)
      const index = first + BigInt(i)
      range.append(leafHash ?? hashLeaf(leaf), onNode)
      bundle ??= this.startBundle(index >> BigInt(TILE_HEIGHT), first >> BigInt(TILE_HEIGHT))
      appendToBundle(bundle, leaf)
      if (bundle.width === TILE_WIDTH) {
        // Full: exactly its bytes, without the room a growing bundle keeps.
        bundles.push({ level: 0, index: bundle.index, data: bundle.buffer.slice(0, bundle.length) })
        bundle = undefined
      }
    }

    const partial = new Map<number, EdgeTile>()
    const tiles: TileContent[] = [...fullTiles]
    for (const [level, tile] of this.partial) if (!working.has(level)) partial.set(level, tile)
    for (const [level, tile] of working) {
      if (tile.width === TILE_WIDTH) continue
      const data = tile.data.slice(0, tile.width * HASH_SIZE)
      tiles.push({ level, index: tile.index, data })
      partial.set(level, { index: tile.index, data, width: tile.width })
    }
    // No entry appended: the partial bundle stays the one this edge had.
    const edgeBundle = entries.length === 0 ? this.bundle : bundle
    if (edgeBundle !== undefined && entries.length > 0) bundles.push(bundleView(edgeBundle))
    return { edge: new TreeEdge(range, partial, edgeBundle), tiles, bundles }
  }

  /** Starts filling tile (level, index): from this edge's partial tile when it is that one, else empty. */
  private startTile(level: number, index: bigint, firstOpen: bigint): WorkingTile {
    if (index < firstOpen)
      throw new TlogError('INVALID_ARGUMENT', `refusing to rewrite full tile ${level}/${index}`)
    const data = new Uint8Array(TILE_WIDTH * HASH_SIZE)
    const edge = this.partial.get(level)
    if (edge !== undefined && edge.index === index) {
      data.set(edge.data)
      return { index, data, width: edge.width }
    }
    return { index, data, width: 0 }
  }

  /** The same for entry bundles: this edge's partial bundle (appended to in place) or a new one. */
  private startBundle(index: bigint, firstOpen: bigint): EdgeBundle {
    if (index < firstOpen)
      throw new TlogError('INVALID_ARGUMENT', `refusing to rewrite full entry bundle ${index}`)
    const edge = this.bundle
    if (edge !== undefined && edge.index === index) return { ...edge }
    return newBundle(index)
  }
}

function newBundle(index: bigint): EdgeBundle {
  return { index, buffer: new Uint8Array(INITIAL_BUNDLE_BYTES), length: 0, width: 0 }
}

/** The bundle's current encoding, as a view (it never changes: later appends write past its end). */
function bundleView(bundle: EdgeBundle): TileContent {
  return { level: 0, index: bundle.index, data: bundle.buffer.subarray(0, bundle.length) }
}

/**
 * Appends one entry (u16 length, leaf) to a bundle being filled, in place, moving to a larger buffer when
 * it is full: one sized for the whole bundle at the leaves' average size so far (at most four times the
 * old one), so that a bundle of similar leaves moves once. Only a working bundle (startBundle's copy, or a
 * new one) is passed here: the edge's own bundle object never changes.
 */
function appendToBundle(bundle: EdgeBundle, leaf: Uint8Array): void {
  const needed = bundle.length + 2 + leaf.length
  if (needed > bundle.buffer.length) {
    // At most four times the old size: one large leaf among small ones must not size the bundle for 256.
    const current = bundle.buffer.length
    const expected = Math.ceil((needed / (bundle.width + 1)) * TILE_WIDTH)
    const buffer = new Uint8Array(Math.max(needed, current * 2, Math.min(expected, current * 4)))
    buffer.set(bundle.buffer.subarray(0, bundle.length))
    bundle.buffer = buffer
  }
  const at = bundle.length
  bundle.buffer[at] = leaf.length >> 8
  bundle.buffer[at + 1] = leaf.length & 0xff
  bundle.buffer.set(leaf, at + 2)
  bundle.length = needed
  bundle.width++
}
