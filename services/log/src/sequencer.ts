import {
  CompactRange,
  HASH_SIZE,
  encodeCheckpoint,
  hashLeaf,
  parseCheckpoint,
  TILE_HEIGHT,
  TILE_WIDTH,
  signNote,
  bytesEqual,
  type Hash,
  type NoteSigner,
} from '@ledger/tlog'
import { LogServerError } from './errors.js'
import type { CommittedState, IndexedEntry, LogStore, StoredTile } from './store.js'
import type { TileCache } from './tile-cache.js'

/** What the sequencer needs of a verified submission. */
export interface LogEntryInput {
  /** The leaf bytes (RFC 8785 JSON, at most 65,535 bytes). */
  leaf: Uint8Array
  keyId: string
  payloadHash: string
  digests: readonly string[]
  commits: readonly string[]
}

/** A committed tree head: its size, root and signed checkpoint. */
export interface TreeHead {
  size: bigint
  root: Hash
  /** The signed checkpoint note (C2SP tlog-checkpoint), as text and as the bytes served. */
  checkpoint: string
  checkpointBytes: Buffer
}

/**
 * Where an appended entry landed: its index and a committed checkpoint that contains it. `existing`: the
 * log already held an entry by the same key over the same payload (DESIGN §4), and `index` is that one's.
 */
export interface Sequenced {
  index: bigint
  head: TreeHead
  existing: boolean
}

/** The log stops growing here, so that its JSON API can carry indexes and sizes as JSON numbers. */
export const MAX_LOG_SIZE = BigInt(Number.MAX_SAFE_INTEGER)

export interface SequencerOptions {
  batchSize: number
  batchWaitMs: number
}

interface Queued {
  entry: LogEntryInput
  resolve: (sequenced: Sequenced) => void
  reject: (err: unknown) => void
}

/** A tile or bundle at the right edge of the committed tree, neither empty nor full. */
interface EdgeTile {
  index: bigint
  data: Uint8Array
  /** Entries it holds (hashes for a hash tile, leaves for a bundle). */
  width: number
}

interface Edge {
  /** Partial hash tile per tile level, if that level has one. */
  tiles: Map<number, EdgeTile>
  bundle: EdgeTile | undefined
}

/** A hash tile being filled by the batch being integrated. */
interface Working {
  index: bigint
  data: Uint8Array
  width: number
}

/** An entry bundle being filled: its encoded parts so far. */
interface WorkingBundle {
  index: bigint
  parts: Uint8Array[]
  width: number
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(parts)
}

const utf8 = new TextEncoder()

/** The number of entries in encoded entry bundle `data` (C2SP: uint16 big-endian length, then the entry). */
export function countBundleEntries(data: Uint8Array): number {
  let offset = 0
  let count = 0
  while (offset + 2 <= data.length) {
    offset += 2 + ((data[offset]! << 8) | data[offset + 1]!)
    count++
  }
  if (offset !== data.length) throw new Error('entry bundle is truncated')
  return count
}

/** Byte length of the first `count` entries of encoded entry bundle `data`, or undefined if it has fewer. */
export function bundlePrefixLength(data: Uint8Array, count: number): number | undefined {
  let offset = 0
  for (let i = 0; i < count; i++) {
    if (offset + 2 > data.length) return undefined
    offset += 2 + ((data[offset]! << 8) | data[offset + 1]!)
  }
  return offset <= data.length ? offset : undefined
}

/** Entry `position` of encoded entry bundle `data` (a view), or undefined when the bundle is shorter. */
export function bundleEntryAt(data: Uint8Array, position: number): Uint8Array | undefined {
  const start = bundlePrefixLength(data, position)
  if (start === undefined || start + 2 > data.length) return undefined
  const length = (data[start]! << 8) | data[start + 1]!
  if (start + 2 + length > data.length) return undefined
  return data.subarray(start + 2, start + 2 + length)
}

/**
 * The one writer of a log. Entries queue; a batch (up to `batchSize` entries, or what arrived within
 * `batchWaitMs` of the first) is integrated at once: leaf hashes, compact range, tiles and entry bundle
 * in memory, one signed checkpoint, then ONE store commit (atomic, synced). Only then do its entries'
 * promises resolve, so an acknowledged entry is durable. While a batch commits the next one accumulates
 * (group commit), so the fsync cost is shared by everyone waiting. It also keeps the log to one entry
 * per (key id, payload hash): a repeat resolves with the logged entry's index and `existing`.
 *
 * Appends cost O(log n) hashes whatever the size: the right edge (compact range, partial tiles) stays in
 * memory. A failed commit rejects its entries (LogServerError INTERNAL) and reloads the committed state
 * from the store; when the store shows the batch did land, its entries resolve after all.
 */
export class Sequencer {
  private queue: Queued[] = []
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private idleWaiters: (() => void)[] = []
  private sizeWaiters: { size: bigint; wake: () => void }[] = []

  private constructor(
    private readonly store: LogStore,
    private readonly tiles: TileCache,
    private readonly signer: NoteSigner,
    private readonly origin: string,
    private readonly options: SequencerOptions,
    private range: CompactRange,
    private edge: Edge,
    private current: TreeHead,
  ) {}

  /**
   * Resumes the log from the store's committed state, or commits the empty tree's checkpoint when the
   * store has none. Throws LogServerError DATA_MISMATCH when the stored state does not hold together
   * (checkpoint against compact range, edge tiles against size, another origin).
   */
  static async open(
    store: LogStore,
    tiles: TileCache,
    signer: NoteSigner,
    origin: string,
    options: SequencerOptions,
  ): Promise<Sequencer> {
    let state = await store.readState()
    if (state === undefined) {
      const range = CompactRange.empty()
      const checkpoint = signCheckpoint(signer, origin, 0n, range.root())
      state = { size: 0n, compactRange: range.serialize(), checkpoint: utf8.encode(checkpoint) }
      await store.commit({ state, tiles: [], bundles: [], entries: [] })
    }
    const { range, head } = checkState(state, origin)
    const edge = await loadEdge(store, state.size)
    return new Sequencer(store, tiles, signer, origin, options, range, edge, head)
  }

  /** The latest committed tree head. */
  get head(): TreeHead {
    return this.current
  }

  /** Entries waiting for a batch (not counting the batch being committed). */
  get queued(): number {
    return this.queue.length
  }

  /**
   * Queues `entry` for the next batch; resolves once the batch holding it is durably committed. Rejects
   * with LogServerError INTERNAL when the commit fails, LOG_FULL past 2^53-1 entries.
   */
  append(entry: LogEntryInput): Promise<Sequenced> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, resolve, reject })
      this.schedule()
    })
  }

  /**
   * Resolves once the committed head has at least `size` entries. The store can show a batch (a dedup
   * row, a lookup) a moment before the sequencer has installed it; readers that saw it wait here.
   */
  waitForSize(size: bigint): Promise<void> {
    if (this.current.size >= size) return Promise.resolve()
    return new Promise((wake) => this.sizeWaiters.push({ size, wake }))
  }

  /** Commits everything queued now, without waiting for batches to fill; resolves when all is committed. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.running !== undefined) {
      if (this.running === undefined) this.run()
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
    }
  }

  private schedule(): void {
    if (this.running !== undefined) return
    if (this.queue.length >= this.options.batchSize || this.options.batchWaitMs === 0) {
      this.run()
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.run(), this.options.batchWaitMs)
    }
  }

  private run(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    if (this.running !== undefined || this.queue.length === 0) return
    const batch = this.queue.splice(0, this.options.batchSize)
    this.running = this.integrate(batch)
      .catch((err: unknown) => {
        // A bug, not the store (integrate handles store failures): fail whatever is still waiting.
        console.error('integrating a batch failed:', err)
        const failure = new LogServerError('INTERNAL', 'the batch could not be integrated', { cause: err })
        for (const q of batch) q.reject(failure)
      })
      .finally(() => {
        this.running = undefined
        // Whatever queued during the commit has waited long enough: it goes next, at once.
        if (this.queue.length > 0) this.run()
        else for (const wake of this.idleWaiters.splice(0)) wake()
      })
  }

  private async integrate(queued: Queued[]): Promise<void> {
    // One entry per (key id, payload hash): against the log (one read for the whole batch) and within
    // the batch. Earlier batches are committed by now, so the read sees every entry before this batch.
    let found: (bigint | undefined)[]
    try {
      found = await this.store.findEntries(queued.map((q) => q.entry))
    } catch (err) {
      console.error('dedup read failed:', err)
      const failure = new LogServerError('INTERNAL', 'the batch could not be committed', { cause: err })
      for (const q of queued) q.reject(failure)
      return
    }
    const batch: Queued[] = []
    const sameAs: { queued: Queued; position: number }[] = []
    const positions = new Map<string, number>()
    queued.forEach((q, i) => {
      const index = found[i]
      if (index !== undefined) {
        q.resolve({ index, head: this.current, existing: true })
        return
      }
      const key = `${q.entry.keyId}/${q.entry.payloadHash}`
      const position = positions.get(key)
      if (position !== undefined) {
        sameAs.push({ queued: q, position })
        return
      }
      positions.set(key, batch.length)
      batch.push(q)
    })
    if (batch.length === 0) return
    const first = this.current.size
    if (first + BigInt(batch.length) > MAX_LOG_SIZE) {
      const err = new LogServerError('LOG_FULL', 'the log holds 2^53-1 entries and takes no more')
      for (const q of batch) q.reject(err)
      for (const { queued } of sameAs) queued.reject(err)
      return
    }
    const range = this.range.clone()
    const working = new Map<number, Working>()
    const fullTiles: StoredTile[] = []
    const firstOpen = (level: number) => (first >> BigInt(TILE_HEIGHT * level)) >> BigInt(TILE_HEIGHT)

    const onNode = (level: number, index: bigint, hash: Hash) => {
      if (level % TILE_HEIGHT !== 0) return
      const tileLevel = level / TILE_HEIGHT
      const tileIndex = index >> BigInt(TILE_HEIGHT)
      const position = Number(index & BigInt(TILE_WIDTH - 1))
      let tile = working.get(tileLevel)
      if (tile === undefined || tile.index !== tileIndex) {
        tile = this.startTile(tileIndex, this.edge.tiles.get(tileLevel), firstOpen(tileLevel))
        working.set(tileLevel, tile)
      }
      if (position !== tile.width)
        throw new Error(`tile ${tileLevel}/${tileIndex}: node ${position} out of order`)
      tile.data.set(hash, position * HASH_SIZE)
      tile.width++
      if (tile.width === TILE_WIDTH) {
        fullTiles.push({ level: tileLevel, index: tileIndex, data: tile.data })
      }
    }

    const fullBundles: StoredTile[] = []
    let bundle: WorkingBundle | undefined
    const entries: IndexedEntry[] = []
    for (let i = 0; i < batch.length; i++) {
      const { entry } = batch[i]!
      const index = first + BigInt(i)
      range.append(hashLeaf(entry.leaf), onNode)
      const bundleIndex = index >> BigInt(TILE_HEIGHT)
      if (bundle === undefined) bundle = this.startBundle(bundleIndex, first >> BigInt(TILE_HEIGHT))
      const prefix = new Uint8Array(2)
      prefix[0] = entry.leaf.length >> 8
      prefix[1] = entry.leaf.length & 0xff
      bundle.parts.push(prefix, entry.leaf)
      bundle.width++
      if (bundle.width === TILE_WIDTH) {
        fullBundles.push({ level: 0, index: bundleIndex, data: concat(bundle.parts) })
        bundle = undefined
      }
      entries.push({
        index,
        keyId: entry.keyId,
        payloadHash: entry.payloadHash,
        digests: entry.digests,
        commits: entry.commits,
      })
    }

    const newEdge: Edge = { tiles: new Map(), bundle: undefined }
    const tiles: StoredTile[] = [...fullTiles]
    for (const [level, tile] of this.edge.tiles) {
      if (!working.has(level)) newEdge.tiles.set(level, tile)
    }
    for (const [level, tile] of working) {
      if (tile.width === TILE_WIDTH) continue
      const data = tile.data.slice(0, tile.width * HASH_SIZE)
      tiles.push({ level, index: tile.index, data })
      newEdge.tiles.set(level, { index: tile.index, data, width: tile.width })
    }
    const bundles: StoredTile[] = [...fullBundles]
    if (bundle !== undefined) {
      const data = concat(bundle.parts)
      bundles.push({ level: 0, index: bundle.index, data })
      newEdge.bundle = { index: bundle.index, data, width: bundle.width }
    }

    const size = range.size
    const root = range.root()
    const checkpoint = signCheckpoint(this.signer, this.origin, size, root)
    const checkpointBytes = Buffer.from(checkpoint, 'utf8')
    const state: CommittedState = { size, compactRange: range.serialize(), checkpoint: checkpointBytes }
    try {
      await this.store.commit({ state, tiles, bundles, entries })
    } catch (err) {
      console.error('commit failed:', err)
      const landed = await this.recover(size)
      if (!landed) {
        const failure = new LogServerError('INTERNAL', 'the batch could not be committed', { cause: err })
        for (const q of batch) q.reject(failure)
        for (const { queued } of sameAs) queued.reject(failure)
        return
      }
    }
    this.range = range
    this.edge = newEdge
    this.current = { size, root, checkpoint, checkpointBytes }
    this.tiles.install(tiles, bundles)
    const head = this.current
    batch.forEach((q, i) => q.resolve({ index: first + BigInt(i), head, existing: false }))
    for (const { queued, position } of sameAs) {
      queued.resolve({ index: first + BigInt(position), head, existing: true })
    }
    if (this.sizeWaiters.length > 0) {
      const waiting = this.sizeWaiters
      this.sizeWaiters = waiting.filter((waiter) => waiter.size > size)
      for (const waiter of waiting) if (waiter.size <= size) waiter.wake()
    }
  }

  /**
   * Starts filling tile `index`: from the committed edge tile when it is that one, empty otherwise.
   * Full tiles are immutable: a tile left of the first open one is never started again.
   */
  private startTile(index: bigint, edge: EdgeTile | undefined, firstOpen: bigint): Working {
    if (index < firstOpen) throw new Error(`refusing to rewrite full tile ${index}`)
    const data = new Uint8Array(TILE_WIDTH * HASH_SIZE)
    if (edge !== undefined && edge.index === index) {
      data.set(edge.data)
      return { index, data, width: edge.width }
    }
    return { index, data, width: 0 }
  }

  /** The same for entry bundles, which grow by whole encoded entries. */
  private startBundle(index: bigint, firstOpen: bigint): WorkingBundle {
    if (index < firstOpen) throw new Error(`refusing to rewrite full entry bundle ${index}`)
    const edge = this.edge.bundle
    if (edge !== undefined && edge.index === index) return { index, parts: [edge.data], width: edge.width }
    return { index, parts: [], width: 0 }
  }

  /**
   * After a failed commit: re-reads the committed state. Returns true when the store holds the batch
   * that reported failure (size `attempted`): its write landed after all. Otherwise the in-memory state,
   * never changed by the failed batch, is still the committed one.
   */
  private async recover(attempted: bigint): Promise<boolean> {
    try {
      const state = await this.store.readState()
      return state !== undefined && state.size === attempted
    } catch (err) {
      console.error('reading the state after a failed commit failed too:', err)
      return false
    }
  }
}

function signCheckpoint(signer: NoteSigner, origin: string, size: bigint, root: Hash): string {
  return signNote(encodeCheckpoint({ origin, size, root, extensions: [] }), [signer])
}

/** Checks that a stored state holds together, and returns its compact range and tree head. */
function checkState(state: CommittedState, origin: string): { range: CompactRange; head: TreeHead } {
  let range: CompactRange
  try {
    range = CompactRange.deserialize(state.compactRange)
  } catch (cause) {
    throw new LogServerError('DATA_MISMATCH', 'the stored compact range does not decode', { cause })
  }
  const checkpoint = Buffer.from(state.checkpoint).toString('utf8')
  const body = checkpoint.slice(0, checkpoint.indexOf('\n\n') + 1)
  const parsed = parseCheckpoint(body)
  const root = range.root()
  if (range.size !== state.size || parsed.size !== state.size || !bytesEqual(parsed.root, root)) {
    throw new LogServerError('DATA_MISMATCH', 'the stored checkpoint does not match the stored tree')
  }
  if (parsed.origin !== origin) {
    throw new LogServerError('DATA_MISMATCH', `the stored log has origin ${JSON.stringify(parsed.origin)}`)
  }
  return {
    range,
    head: { size: state.size, root, checkpoint, checkpointBytes: Buffer.from(state.checkpoint) },
  }
}

/** Loads the partial tiles and entry bundle at the right edge of a tree of `size` leaves. */
async function loadEdge(store: LogStore, size: bigint): Promise<Edge> {
  const edge: Edge = { tiles: new Map(), bundle: undefined }
  for (let level = 0; size >> BigInt(TILE_HEIGHT * level) > 0n; level++) {
    const nodes = size >> BigInt(TILE_HEIGHT * level)
    const width = Number(nodes & BigInt(TILE_WIDTH - 1))
    if (width === 0) continue
    const index = nodes >> BigInt(TILE_HEIGHT)
    const data = await store.readTile(level, index)
    if (data === undefined || data.length !== width * HASH_SIZE) {
      throw new LogServerError(
        'DATA_MISMATCH',
        `edge tile ${level}/${index} is missing or has the wrong width`,
      )
    }
    edge.tiles.set(level, { index, data, width })
  }
  const width = Number(size & BigInt(TILE_WIDTH - 1))
  if (width > 0) {
    const index = size >> BigInt(TILE_HEIGHT)
    const data = await store.readEntryBundle(index)
    if (data === undefined || countBundleEntries(data) !== width) {
      throw new LogServerError(
        'DATA_MISMATCH',
        `edge entry bundle ${index} is missing or has the wrong width`,
      )
    }
    edge.bundle = { index, data, width }
  }
  return edge
}
