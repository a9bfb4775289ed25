import {
  HASH_SIZE,
  TILE_HEIGHT,
  TILE_WIDTH,
  bundleEntryAt,
  bundlePrefixLength,
  encodeEntryBundle,
  hashChildren,
  type Hash,
  type SubtreeHashReader,
  type SubtreeId,
} from '@ledger/tlog'
import { ByteLRU } from './lru.js'
import type { LogStore, StoredTile } from './store.js'

/**
 * All complete nodes inside one hash tile: `levels[k]` holds the hashes of the complete subtrees of 2^k
 * tile entries, left to right (level 0 is the tile itself). A tile of width w has w >> k nodes at level k.
 * Expanding a tile costs at most 255 hashes, once; then any subtree inside it is a lookup, which is what
 * makes a batch of proofs cheap.
 */
export class ExpandedTile {
  private constructor(
    readonly width: number,
    private readonly levels: Uint8Array[],
  ) {}

  /** Bytes held (for the cache budget). */
  get byteLength(): number {
    let total = 0
    for (const level of this.levels) total += level.byteLength
    return total
  }

  /**
   * Expands tile content `data` (a whole number of 32-byte hashes, at most 256). `previous`, an
   * expansion of a narrower version of the same tile (tiles only grow), lends its nodes.
   */
  static expand(data: Uint8Array, previous?: ExpandedTile): ExpandedTile {
    const width = data.length / HASH_SIZE
    const levels: Uint8Array[] = [data]
    for (let k = 1; k <= TILE_HEIGHT; k++) {
      const count = width >> k
      const below = levels[k - 1]!
      const out = new Uint8Array(count * HASH_SIZE)
      let start = 0
      const reuse = previous?.levels[k]
      if (reuse !== undefined) {
        start = Math.min(count, reuse.length / HASH_SIZE)
        out.set(reuse.subarray(0, start * HASH_SIZE))
      }
      for (let i = start; i < count; i++) {
        const left = below.subarray(2 * i * HASH_SIZE, (2 * i + 1) * HASH_SIZE)
        const right = below.subarray((2 * i + 1) * HASH_SIZE, (2 * i + 2) * HASH_SIZE)
        out.set(hashChildren(left, right), i * HASH_SIZE)
      }
      levels.push(out)
    }
    return new ExpandedTile(width, levels)
  }

  /** The hash of node `offset` at tile level `k` (a subtree of 2^k tile entries); undefined if incomplete. */
  node(k: number, offset: number): Hash | undefined {
    const level = this.levels[k]
    if (level === undefined || (offset + 1) * HASH_SIZE > level.length) return undefined
    return level.subarray(offset * HASH_SIZE, (offset + 1) * HASH_SIZE)
  }
}

/** BigInt(k) for the shifts of readSubtrees: 0 to TILE_HEIGHT. */
const SHIFT: readonly bigint[] = Array.from({ length: TILE_HEIGHT + 1 }, (_, k) => BigInt(k))
const ENTRY_MASK = BigInt(TILE_WIDTH - 1)

function tileKey(level: number, index: bigint): string {
  return `t/${level}/${index}`
}

function bundleKey(index: bigint): string {
  return `e/${index}`
}

function leafKey(index: bigint): string {
  return `l/${index}`
}

/**
 * The read side of the log's tiles: raw hash tiles, entry bundles and single leaves for the static API
 * and lookups, expanded tiles for proofs, each in a memory-bounded LRU in front of the store. A GET is a
 * memory hit or one store read (an entry bundle is assembled from its stored leaves in one range read).
 *
 * Consistency: the store only ever holds committed content, and tiles only grow, so any version read is
 * valid for every tree size it covers; the cache never replaces a tile by a narrower version of it.
 */
export class TileCache {
  private readonly raw: ByteLRU<Uint8Array>
  private readonly expanded: ByteLRU<ExpandedTile>
  /** Store reads in flight, by cache key. */
  private readonly reading = new Map<string, Promise<Uint8Array | undefined>>()

  constructor(
    private readonly store: LogStore,
    cacheBytes: number,
  ) {
    this.raw = new ByteLRU(Math.floor(cacheBytes / 2))
    this.expanded = new ByteLRU(Math.floor(cacheBytes / 2))
  }

  /** The cached content of hash tile (level, index), or undefined (then use hashTile). */
  cachedHashTile(level: number, index: bigint): Uint8Array | undefined {
    return this.raw.get(tileKey(level, index))
  }

  /** The cached content of entry bundle `index`, or undefined (then use entryBundle). */
  cachedEntryBundle(index: bigint): Uint8Array | undefined {
    return this.raw.get(bundleKey(index))
  }

  /**
   * The content of hash tile (level, index) holding at least `minWidth` hashes, from the cache or the
   * store; undefined if the store has no such tile (or a narrower one).
   */
  async hashTile(level: number, index: bigint, minWidth = 1): Promise<Uint8Array | undefined> {
    return this.read(tileKey(level, index), minWidth * HASH_SIZE, () => this.store.readTile(level, index))
  }

  /**
   * Entry bundle `index` holding at least `minWidth` entries, from the cache or assembled from the stored
   * leaves; undefined if the log has fewer. It may hold more than `minWidth` (cut it with
   * bundlePrefixLength).
   */
  async entryBundle(index: bigint, minWidth = 1): Promise<Uint8Array | undefined> {
    const key = bundleKey(index)
    const hit = this.raw.get(key)
    if (hit !== undefined && bundlePrefixLength(hit, minWidth) !== undefined) return hit
    const leaves = await this.store.readLeaves(index << BigInt(TILE_HEIGHT), TILE_WIDTH)
    if (leaves.length === 0 || leaves.length < minWidth) return undefined
    const data = encodeEntryBundle(leaves)
    this.setIfWider(key, data)
    return data
  }

  /** The leaf of committed entry `index`, from a cached bundle, the leaf cache or the store. */
  async leaf(index: bigint): Promise<Uint8Array | undefined> {
    const bundle = this.raw.get(bundleKey(index >> BigInt(TILE_HEIGHT)))
    const inBundle =
      bundle === undefined ? undefined : bundleEntryAt(bundle, Number(index & BigInt(TILE_WIDTH - 1)))
    if (inBundle !== undefined) return inBundle
    const key = leafKey(index)
    const hit = this.raw.get(key)
    if (hit !== undefined) return hit
    const leaf = await this.store.readLeaf(index)
    if (leaf !== undefined) this.raw.set(key, leaf)
    return leaf
  }

  // A version in the cache can be narrower than the store's for a moment: the store commits before the
  // sequencer installs the batch here. Reads that need more go to the store.
  private async read(
    key: string,
    minBytes: number,
    fromStore: () => Promise<Uint8Array | undefined>,
  ): Promise<Uint8Array | undefined> {
    const hit = this.raw.get(key)
    if (hit !== undefined && hit.length >= minBytes) return hit
    // After a commit every receipt of the batch asks for the same new tiles at once: one store read
    // serves them all (on a process that does not sequence, each read is a database round trip).
    const inFlight = this.reading.get(key)
    if (inFlight !== undefined) {
      const shared = await inFlight
      if (shared !== undefined && shared.length >= minBytes) return shared
    }
    const reading = fromStore()
    this.reading.set(key, reading)
    let data: Uint8Array | undefined
    try {
      data = await reading
    } finally {
      if (this.reading.get(key) === reading) this.reading.delete(key)
    }
    if (data === undefined || data.length < minBytes) return undefined
    this.setIfWider(key, data)
    return data
  }

  /**
   * Records the content of a just-committed batch (its tiles, and the entry bundles it changed, which the
   * store does not hold as such), so the next reads are memory hits.
   */
  install(tiles: readonly StoredTile[], bundles: readonly StoredTile[]): void {
    for (const tile of tiles) this.setIfWider(tileKey(tile.level, tile.index), tile.data)
    for (const bundle of bundles) this.setIfWider(bundleKey(bundle.index), bundle.data)
  }

  private setIfWider(key: string, data: Uint8Array): void {
    const old = this.raw.get(key)
    if (old === undefined || old.length < data.length) this.raw.set(key, data)
  }

  /** The expansion of hash tile (level, index) holding at least `minWidth` entries; undefined if none. */
  async expandedTile(level: number, index: bigint, minWidth: number): Promise<ExpandedTile | undefined> {
    const key = tileKey(level, index)
    const cached = this.expanded.get(key)
    if (cached !== undefined && cached.width >= minWidth) return cached
    const data = await this.hashTile(level, index, minWidth)
    if (data === undefined) return undefined
    const again = this.expanded.get(key)
    if (again !== undefined && again.width >= data.length / HASH_SIZE) return again
    const fresh = ExpandedTile.expand(data, again ?? cached)
    this.expanded.set(key, fresh)
    return fresh
  }

  /**
   * A SubtreeHashReader over the committed tiles: each complete subtree (level, index) is node
   * `level mod 8` of the tile at tile level `floor(level / 8)` that holds it. Throws if a tile is missing
   * or too narrow, which for subtrees of a committed tree means the store lost data.
   */
  readonly readSubtrees: SubtreeHashReader = async (ids: readonly SubtreeId[]) => {
    const out: Hash[] = []
    // A proof's subtrees fall in a few tiles, mostly one after another in the same one (a receipt's path
    // inside its tile is all in one): look a tile up again only when the next id is in another.
    let tile: ExpandedTile | undefined
    let tileLevel = -1
    let tileIndex = -1n
    for (const id of ids) {
      const level = Math.floor(id.level / TILE_HEIGHT)
      const k = id.level % TILE_HEIGHT
      // The subtree's first node at tile level `level`, then the tile holding it.
      const first = id.index << SHIFT[k]!
      const index = first >> SHIFT[TILE_HEIGHT]!
      const entry = Number(first & ENTRY_MASK)
      const minWidth = entry + (1 << k)
      if (tile === undefined || level !== tileLevel || index !== tileIndex || tile.width < minWidth) {
        const cached = this.expanded.get(tileKey(level, index))
        tile =
          cached !== undefined && cached.width >= minWidth
            ? cached
            : await this.expandedTile(level, index, minWidth)
        tileLevel = level
        tileIndex = index
      }
      const hash = tile?.node(k, entry >> k)
      if (hash === undefined)
        throw new Error(`tile ${level}/${index} cannot give subtree ${id.level}/${id.index}`)
      out.push(hash)
    }
    return out
  }
}
