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
  /** hashLeaf(leaf), when the caller has it (a verify worker computes it off the main thread). */
  leafHash?: Hash
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
  /** Most entries in one batch (one store commit, one checkpoint). */
  batchSize: number
  /**
   * How long the first entry ready for a batch waits for company when no commit is in flight; 0 commits
   * at once. Group commit batches anyway: whatever arrives while a batch commits goes into the next.
   */
  batchWaitMs: number
}

/** An appended entry whose dedup read has not finished. */
interface Pending {
  entry: LogEntryInput
  resolve: (sequenced: Sequenced) => void
  reject: (err: unknown) => void
}

/** An entry ready for a batch: what the store said about its dedup key, and when it was asked. */
interface Ready extends Pending {
  /** The logged entry with the same dedup key, as the read found it. */
  found: bigint | undefined
  /** The number of commits settled when the read began: it saw all of those. */
  epoch: number
}

/** The dedup keys of one settled batch (empty for a failed one), numbered from 1 in commit order. */
interface SettledBatch {
  seq: number
  keys: Map<string, bigint>
}

/** A hash tile at the right edge of the committed tree, neither empty nor full. */
interface EdgeTile {
  index: bigint
  data: Uint8Array
  /** Hashes it holds. */
  width: number
}

/**
 * The entry bundle at the right edge: its encoding is `buffer[0, length)`. Batches append past `length`
 * in place (the buffer has room to grow), so the views handed to the tile cache never change: tiles only
 * grow, and bytes past a committed length are nobody's until a commit covers them.
 */
interface EdgeBundle {
  index: bigint
  buffer: Uint8Array
  length: number
  width: number
}

interface Edge {
  /** Partial hash tile per tile level, if that level has one. */
  tiles: Map<number, EdgeTile>
  bundle: EdgeBundle | undefined
}

/** A hash tile being filled by the batch being integrated. */
interface Working {
  index: bigint
  data: Uint8Array
  width: number
}

/**
 * Dedup reads in flight at once: what is appended while they run is read next, in one read (a read costs
 * the main thread as much for one key as for dozens, so fewer and larger reads cost less). Two, so that
 * one slow read does not hold up every entry behind it.
 */
const MAX_READS_IN_FLIGHT = 2
/** Settled batches whose dedup keys are kept for entries whose read was in flight during them. */
const REMEMBERED_BATCHES = 64
/** Room of a new edge bundle's buffer; it doubles when a batch needs more. */
const INITIAL_BUNDLE_BYTES = 64 * 1024

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
 * The one writer of a log. An appended entry is first checked against the log (its dedup row, read in
 * one store read with the others appended at the same time, while earlier batches commit), then waits
 * for a batch. A batch (up to `batchSize` entries) is integrated at once: leaf hashes, compact range,
 * tiles and the entry bundle in memory, one signed checkpoint, then ONE store commit (atomic, synced).
 * Only then do its entries' promises resolve, so an acknowledged entry is durable. While a batch commits
 * the next one accumulates (group commit), so the fsync cost is shared by everyone waiting; when it
 * settles the next batch is committed before the settled one's promises resolve, so that the next fsync
 * runs while the receipts are written.
 *
 * One entry per (key id, payload hash) (DESIGN §4): a repeat resolves with the logged entry's index and
 * `existing`. A dedup read sees every batch settled before it began; the batches that settled while it
 * ran are checked from memory (their dedup keys are kept for REMEMBERED_BATCHES batches, and an entry
 * older than that is read again), and repeats within a batch are found when it is built.
 *
 * Appends cost O(log n) hashes whatever the size: the right edge (compact range, partial tiles and entry
 * bundle) stays in memory. A failed commit rejects its entries (LogServerError INTERNAL) and re-reads the
 * committed state; when the store shows the batch did land, its entries resolve after all.
 */
export class Sequencer {
  private reading: Pending[] = []
  private readScheduled = false
  /** Entries whose dedup read is in flight, and the reads (at most MAX_READS_IN_FLIGHT). */
  private readsInFlight = 0
  private readsRunning = 0
  private ready: Ready[] = []
  private timer: NodeJS.Timeout | undefined
  private committing = false
  private draining = 0
  /** Batches settled so far (the dedup read epoch). */
  private settled = 0
  private remembered: SettledBatch[] = []
  private idleWaiters: (() => void)[] = []
  private sizeWaiters: { size: bigint; wake: () => void }[] = []
  private commitListeners: ((head: TreeHead) => void)[] = []

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
   * (checkpoint against compact range, edge tiles and leaves against size, another origin).
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
      await store.commit({ state, tiles: [], entries: [] })
    }
    const { range, head } = checkState(state, origin)
    const edge = await loadEdge(store, state.size)
    const sequencer = new Sequencer(store, tiles, signer, origin, options, range, edge, head)
    tiles.install(
      [...edge.tiles].map(([level, tile]) => ({ level, index: tile.index, data: tile.data })),
      edge.bundle === undefined ? [] : [bundleView(edge.bundle)],
    )
    return sequencer
  }

  /** The latest committed tree head. */
  get head(): TreeHead {
    return this.current
  }

  /** Entries appended and not yet in a batch being committed. */
  get queued(): number {
    return this.reading.length + this.readsInFlight + this.ready.length
  }

  /**
   * Calls `listener` with the new head after each commit, once the head is installed (after the batch's
   * own promises are queued). Listeners must not throw.
   */
  onCommit(listener: (head: TreeHead) => void): void {
    this.commitListeners.push(listener)
  }

  /**
   * Queues `entry` for a batch; resolves once the batch holding it is durably committed. Rejects with
   * LogServerError INTERNAL when the commit (or the dedup read) fails, LOG_FULL past 2^53-1 entries.
   */
  append(entry: LogEntryInput): Promise<Sequenced> {
    return new Promise((resolve, reject) => {
      this.reading.push({ entry, resolve, reject })
      if (!this.readScheduled && this.readsRunning < MAX_READS_IN_FLIGHT) {
        this.readScheduled = true
        // Everything appended in this turn of the event loop (a verify worker's whole answer) shares a read.
        setImmediate(() => this.readAhead())
      }
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

  /** Commits everything appended so far, without waiting for batches to fill; resolves when all is committed. */
  async drain(): Promise<void> {
    this.draining++
    try {
      while (this.queued > 0 || this.committing) {
        if (this.reading.length > 0 && !this.readScheduled && this.readsRunning < MAX_READS_IN_FLIGHT) {
          this.readAhead()
        }
        this.schedule()
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
      }
    } finally {
      this.draining--
    }
  }

  private readAhead(): void {
    this.readScheduled = false
    // At the limit: the read that finishes first takes what is waiting.
    if (this.readsRunning >= MAX_READS_IN_FLIGHT) return
    const group = this.reading.splice(0)
    if (group.length === 0) return
    const epoch = this.settled
    this.readsInFlight += group.length
    this.readsRunning++
    const done = () => {
      this.readsInFlight -= group.length
      this.readsRunning--
      // What was appended during this read goes in the next one, together.
      if (this.reading.length > 0 && !this.readScheduled) this.readAhead()
    }
    this.store.findEntries(group.map((p) => p.entry)).then(
      (found) => {
        done()
        group.forEach((p, i) => this.ready.push({ ...p, found: found[i], epoch }))
        this.schedule()
      },
      (err: unknown) => {
        done()
        console.error('dedup read failed:', err)
        const failure = new LogServerError('INTERNAL', 'the entry could not be sequenced', { cause: err })
        for (const p of group) p.reject(failure)
        this.wakeIdle()
      },
    )
  }

  private schedule(): void {
    if (this.committing) return
    if (this.ready.length === 0) {
      this.wakeIdle()
      return
    }
    if (this.ready.length >= this.options.batchSize || this.options.batchWaitMs === 0 || this.draining > 0) {
      this.run()
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.run(), this.options.batchWaitMs)
    }
  }

  private wakeIdle(): void {
    if (this.queued === 0 && !this.committing) for (const wake of this.idleWaiters.splice(0)) wake()
  }

  private run(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    if (this.committing || this.ready.length === 0) return
    const batch = this.ready.splice(0, this.options.batchSize)
    this.committing = true
    let released = false
    // Lets the next batch go: called once the commit settled, before this batch's promises resolve.
    const release = () => {
      if (released) return
      released = true
      this.committing = false
      this.schedule()
    }
    this.integrate(batch, release).catch((err: unknown) => {
      // A bug, not the store (integrate handles store failures): fail whatever is still waiting.
      console.error('integrating a batch failed:', err)
      const failure = new LogServerError('INTERNAL', 'the batch could not be integrated', { cause: err })
      for (const q of batch) q.reject(failure)
      release()
    })
  }

  private async integrate(queued: Ready[], release: () => void): Promise<void> {
    // Entries whose read began before batches this process no longer remembers: read them again. No
    // commit is in flight now, so this read sees every logged entry.
    const oldest = this.remembered[0]?.seq ?? this.settled + 1
    const stale = queued.filter((q) => q.found === undefined && q.epoch + 1 < oldest)
    if (stale.length > 0) {
      let found: (bigint | undefined)[]
      try {
        found = await this.store.findEntries(stale.map((q) => q.entry))
      } catch (err) {
        console.error('dedup read failed:', err)
        const failure = new LogServerError('INTERNAL', 'the batch could not be committed', { cause: err })
        for (const q of queued) q.reject(failure)
        release()
        return
      }
      stale.forEach((q, i) => {
        q.found = found[i]
        q.epoch = this.settled
      })
    }

    const batch: Ready[] = []
    const sameAs: { queued: Ready; position: number }[] = []
    const positions = new Map<string, number>()
    const existing: { queued: Ready; index: bigint }[] = []
    for (const q of queued) {
      const key = `${q.entry.keyId}/${q.entry.payloadHash}`
      let index = q.found
      if (index === undefined) {
        for (const settled of this.remembered) {
          if (settled.seq <= q.epoch) continue
          index = settled.keys.get(key)
          if (index !== undefined) break
        }
      }
      if (index !== undefined) {
        existing.push({ queued: q, index })
        continue
      }
      const position = positions.get(key)
      if (position !== undefined) {
        sameAs.push({ queued: q, position })
        continue
      }
      positions.set(key, batch.length)
      batch.push(q)
    }
    for (const { queued: q, index } of existing) q.resolve({ index, head: this.current, existing: true })
    if (batch.length === 0) {
      release()
      return
    }
    const first = this.current.size
    if (first + BigInt(batch.length) > MAX_LOG_SIZE) {
      const err = new LogServerError('LOG_FULL', 'the log holds 2^53-1 entries and takes no more')
      for (const q of batch) q.reject(err)
      for (const { queued: q } of sameAs) q.reject(err)
      release()
      return
    }

    const { range, edge, tiles, bundles, entries, keys } = this.build(first, batch)
    const size = range.size
    const root = range.root()
    const checkpoint = signCheckpoint(this.signer, this.origin, size, root)
    const checkpointBytes = Buffer.from(checkpoint, 'utf8')
    const state: CommittedState = { size, compactRange: range.serialize(), checkpoint: checkpointBytes }
    try {
      await this.store.commit({ state, tiles, entries })
    } catch (err) {
      console.error('commit failed:', err)
      if (!(await this.recover(size))) {
        this.remember(new Map())
        release()
        const failure = new LogServerError('INTERNAL', 'the batch could not be committed', { cause: err })
        for (const q of batch) q.reject(failure)
        for (const { queued: q } of sameAs) q.reject(failure)
        return
      }
    }
    this.range = range
    this.edge = edge
    this.current = { size, root, checkpoint, checkpointBytes }
    this.tiles.install(tiles, bundles)
    this.remember(keys)
    // The next batch goes to the store first; these answers are written while its fsync runs.
    release()
    const head = this.current
    batch.forEach((q, i) => q.resolve({ index: first + BigInt(i), head, existing: false }))
    for (const { queued: q, position } of sameAs) {
      q.resolve({ index: first + BigInt(position), head, existing: true })
    }
    if (this.sizeWaiters.length > 0) {
      const waiting = this.sizeWaiters
      this.sizeWaiters = waiting.filter((waiter) => waiter.size > size)
      for (const waiter of waiting) if (waiter.size <= size) waiter.wake()
    }
    for (const listener of this.commitListeners) listener(head)
  }

  /** Records a settled batch's dedup keys (empty when it failed) and forgets the oldest. */
  private remember(keys: Map<string, bigint>): void {
    this.settled++
    this.remembered.push({ seq: this.settled, keys })
    if (this.remembered.length > REMEMBERED_BATCHES) this.remembered.shift()
  }

  /**
   * Integrates `batch` in memory over the committed edge, changing nothing of it: the new compact range
   * and edge, the tiles to store, the bundles for the cache, the index rows, the dedup keys.
   */
  private build(first: bigint, batch: readonly Ready[]) {
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

    const bundles: StoredTile[] = []
    let bundle: EdgeBundle | undefined
    const entries: IndexedEntry[] = []
    const keys = new Map<string, bigint>()
    for (let i = 0; i < batch.length; i++) {
      const { entry } = batch[i]!
      const index = first + BigInt(i)
      range.append(entry.leafHash ?? hashLeaf(entry.leaf), onNode)
      if (bundle === undefined)
        bundle = this.startBundle(index >> BigInt(TILE_HEIGHT), first >> BigInt(TILE_HEIGHT))
      bundle = appendToBundle(bundle, entry.leaf)
      if (bundle.width === TILE_WIDTH) {
        // Full: exactly its bytes, without the room a growing bundle keeps.
        bundles.push({ level: 0, index: bundle.index, data: bundle.buffer.slice(0, bundle.length) })
        bundle = undefined
      }
      entries.push({
        index,
        leaf: entry.leaf,
        keyId: entry.keyId,
        payloadHash: entry.payloadHash,
        digests: entry.digests,
        commits: entry.commits,
      })
      keys.set(`${entry.keyId}/${entry.payloadHash}`, index)
    }

    const edge: Edge = { tiles: new Map(), bundle: undefined }
    const tiles: StoredTile[] = [...fullTiles]
    for (const [level, tile] of this.edge.tiles) {
      if (!working.has(level)) edge.tiles.set(level, tile)
    }
    for (const [level, tile] of working) {
      if (tile.width === TILE_WIDTH) continue
      const data = tile.data.slice(0, tile.width * HASH_SIZE)
      tiles.push({ level, index: tile.index, data })
      edge.tiles.set(level, { index: tile.index, data, width: tile.width })
    }
    if (bundle !== undefined) {
      edge.bundle = bundle
      bundles.push(bundleView(bundle))
    }
    return { range, edge, tiles, bundles, entries, keys }
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

  /** The same for entry bundles: the committed edge bundle (appended to in place) or a new one. */
  private startBundle(index: bigint, firstOpen: bigint): EdgeBundle {
    if (index < firstOpen) throw new Error(`refusing to rewrite full entry bundle ${index}`)
    const edge = this.edge.bundle
    if (edge !== undefined && edge.index === index) return { ...edge }
    return { index, buffer: new Uint8Array(INITIAL_BUNDLE_BYTES), length: 0, width: 0 }
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

/** The bundle's current encoding, as a view (it never changes: later batches write past its end). */
function bundleView(bundle: EdgeBundle): StoredTile {
  return { level: 0, index: bundle.index, data: bundle.buffer.subarray(0, bundle.length) }
}

/** Appends one entry (u16 length, leaf) to a working bundle, moving to a larger buffer when it is full. */
function appendToBundle(bundle: EdgeBundle, leaf: Uint8Array): EdgeBundle {
  const needed = bundle.length + 2 + leaf.length
  let buffer = bundle.buffer
  if (needed > buffer.length) {
    buffer = new Uint8Array(Math.max(needed, buffer.length * 2))
    buffer.set(bundle.buffer.subarray(0, bundle.length))
  }
  buffer[bundle.length] = leaf.length >> 8
  buffer[bundle.length + 1] = leaf.length & 0xff
  buffer.set(leaf, bundle.length + 2)
  return { index: bundle.index, buffer, length: needed, width: bundle.width + 1 }
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

/**
 * Loads the partial tiles at the right edge of a tree of `size` leaves, and its partial entry bundle from
 * the stored leaves; checks that each has exactly the width `size` implies.
 */
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
    // One more than the width: a leaf past the committed size would mean the store is not what it says.
    const leaves = await store.readLeaves(index << BigInt(TILE_HEIGHT), width + 1)
    if (leaves.length !== width) {
      throw new LogServerError(
        'DATA_MISMATCH',
        `the leaves of edge entry bundle ${index} are missing or more than the size says`,
      )
    }
    let bundle: EdgeBundle = { index, buffer: new Uint8Array(INITIAL_BUNDLE_BYTES), length: 0, width: 0 }
    for (const leaf of leaves) bundle = appendToBundle(bundle, leaf)
    edge.bundle = bundle
  }
  return edge
}
