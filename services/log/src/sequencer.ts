import type { EdgeGrowth, Hash, NoteSigner, TreeEdge } from '@ledger/tlog'
import { DedupReads, dedupId, type DedupItem } from './dedup.js'
import { LogServerError } from './errors.js'
import { headOf, openLogTree, signCheckpoint, type TreeHead } from './log-tree.js'
import type { CommittedState, IndexedEntry, LogStore } from './store.js'
import type { TileCache } from './tile-cache.js'

export type { TreeHead } from './log-tree.js'

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
  /**
   * Batches committing at once (default 1). With 2, the next batch is integrated and handed to the store
   * while the one before it is still committing; the store lands them in order (LogStore) and may overlap
   * their work (PostgreSQL writes one batch's rows while the one before it syncs).
   */
  commitsInFlight?: number
  /** Told of every committed batch: its new entries and how long the store commit took (metrics). */
  observer?: SequencerObserver
}

/** What the sequencer reports for metrics; must not throw. */
export interface SequencerObserver {
  committed(entries: number, seconds: number): void
}

/** What a committed batch changed, for those who follow the log (metrics, the index). */
export interface CommittedBatch {
  head: TreeHead
  /** The new entries, in index order. */
  entries: readonly IndexedEntry[]
}

/** An appended entry: what it is and who waits for it. */
interface Pending extends DedupItem {
  entry: LogEntryInput
  resolve: (sequenced: Sequenced) => void
  reject: (err: unknown) => void
}

/** A batch handed to the store and not yet settled, in commit order. */
interface InFlight {
  /** The tree after it. */
  growth: EdgeGrowth
  state: CommittedState
  root: Hash
  entries: IndexedEntry[]
  /** Its new entries' promises, in index order. */
  batch: Pending[]
  /** Repeats of its new entries (from its own or a later batch) and the index they get. */
  repeats: { queued: Pending; index: bigint }[]
  /** Its entries by dedup key, for later batches prepared while it commits. */
  keys: Map<string, bigint>
  started: bigint
}

/**
 * The one writer of a log: its commit loop. An appended entry first has its dedup row read (DedupReads,
 * pipelined with the commits), then waits for a batch. A batch (up to `batchSize` entries) is integrated
 * in memory over the tree's right edge (TreeEdge: leaf hashes, compact range, tiles and entry bundle),
 * signed as one checkpoint, and written as ONE store commit (atomic, durable). Only then do its entries'
 * promises resolve, so an acknowledged entry is durable. While a batch commits the next one accumulates
 * (group commit), so the fsync cost is shared by everyone waiting; when it settles the next batch is
 * committed before the settled one's promises resolve, so that the next fsync runs while the receipts
 * are written. With `commitsInFlight` 2 the next batch is integrated over the committing one's edge and
 * handed to the store at once (the store lands them in order); it is acknowledged after its own commit.
 *
 * One entry per (key id, payload hash) (DESIGN §4): a repeat resolves with the logged entry's index and
 * `existing`, whether the log held it before, a batch settled during its read, it repeats an entry of
 * its own batch, or one of a batch still committing (then it is answered when that one lands).
 *
 * A failed commit rejects its entries (LogServerError INTERNAL), and those of every later batch in flight
 * (the store writes none of them), and re-reads the committed state; when the store shows the batch did
 * land, its entries resolve after all.
 */
export class Sequencer {
  private readonly dedup: DedupReads<Pending>
  private ready: Pending[] = []
  private timer: NodeJS.Timeout | undefined
  /** A batch is between leaving `ready` and reaching the store. */
  private preparing = false
  private readonly inFlight: InFlight[] = []
  /** The edge after every batch in flight (`edge` when none is). */
  private tip: TreeEdge
  /** A commit failed while later ones were in flight: no new batch until they settled (they fail too). */
  private failing = false
  /** The settling of the last batch handed to the store: batches settle one after the other. */
  private lastSettled: Promise<void> = Promise.resolve()
  private readonly maxInFlight: number
  private draining = 0
  private idleWaiters: (() => void)[] = []
  private sizeWaiters: { size: bigint; wake: () => void }[] = []
  private commitListeners: ((head: TreeHead, batch: CommittedBatch) => void)[] = []

  private constructor(
    private readonly store: LogStore,
    private readonly tiles: TileCache,
    private readonly signer: NoteSigner,
    private readonly origin: string,
    private readonly options: SequencerOptions,
    private edge: TreeEdge,
    private current: TreeHead,
  ) {
    this.tip = edge
    this.maxInFlight = Math.max(1, options.commitsInFlight ?? 1)
    this.dedup = new DedupReads<Pending>(
      store,
      (items) => {
        this.ready.push(...items)
        this.schedule()
      },
      (items, err) => {
        console.error('dedup read failed:', err)
        const failure = new LogServerError('INTERNAL', 'the entry could not be sequenced', { cause: err })
        for (const item of items) item.reject(failure)
        this.wakeIdle()
      },
    )
  }

  /**
   * Resumes the log from the store's committed state (openLogTree: the empty tree's checkpoint is
   * committed first on a new store). Throws LogServerError DATA_MISMATCH when the stored state does not
   * hold together.
   */
  static async open(
    store: LogStore,
    tiles: TileCache,
    signer: NoteSigner,
    origin: string,
    options: SequencerOptions,
  ): Promise<Sequencer> {
    const { edge, head } = await openLogTree(store, signer, origin)
    const bundle = edge.partialBundle()
    tiles.install(edge.partialTiles(), bundle === undefined ? [] : [bundle])
    return new Sequencer(store, tiles, signer, origin, options, edge, head)
  }

  /** The latest committed tree head. */
  get head(): TreeHead {
    return this.current
  }

  /** Entries appended and not yet in a batch being committed. */
  get queued(): number {
    return this.dedup.pending + this.ready.length
  }

  /**
   * Calls `listener` with the new head (and what the batch added) after each commit, once the head is
   * installed (after the batch's own promises are queued). Listeners must not throw.
   */
  onCommit(listener: (head: TreeHead, batch: CommittedBatch) => void): void {
    this.commitListeners.push(listener)
  }

  /**
   * Queues `entry` for a batch; resolves once the batch holding it is durably committed. Rejects with
   * LogServerError INTERNAL when the commit (or the dedup read) fails, LOG_FULL past 2^53-1 entries.
   */
  append(entry: LogEntryInput): Promise<Sequenced> {
    return new Promise((resolve, reject) =>
      this.dedup.push({ entry, key: dedupId(entry), resolve, reject, found: undefined, epoch: 0 }),
    )
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
      while (this.queued > 0 || this.busy) {
        this.dedup.flush()
        this.schedule()
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
      }
    } finally {
      this.draining--
    }
  }

  private get busy(): boolean {
    return this.preparing || this.inFlight.length > 0
  }

  /** Whether a new batch may leave `ready` now. */
  private get canStart(): boolean {
    return !this.preparing && !this.failing && this.inFlight.length < this.maxInFlight
  }

  private schedule(): void {
    if (!this.canStart) return
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
    if (this.queued === 0 && !this.busy) for (const wake of this.idleWaiters.splice(0)) wake()
  }

  private run(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    if (!this.canStart || this.ready.length === 0) return
    const batch = this.ready.splice(0, this.options.batchSize)
    this.preparing = true
    this.prepare(batch).catch((err: unknown) => {
      // A bug, not the store (prepare handles store failures): fail whatever is still waiting.
      console.error('integrating a batch failed:', err)
      const failure = new LogServerError('INTERNAL', 'the batch could not be integrated', { cause: err })
      for (const q of batch) q.reject(failure)
      this.prepared()
    })
  }

  /** The batch being prepared has reached the store (or ended without a commit): the next may start. */
  private prepared(): void {
    this.preparing = false
    this.schedule()
    this.wakeIdle()
  }

  /** Dedups `queued`, integrates its new entries over the tip, signs, and hands the batch to the store. */
  private async prepare(queued: Pending[]): Promise<void> {
    let found: (bigint | undefined)[]
    try {
      // The store shows every settled batch; those still in flight are checked below, from memory.
      found = await this.dedup.resolve(queued)
    } catch (err) {
      console.error('dedup read failed:', err)
      const failure = new LogServerError('INTERNAL', 'the batch could not be committed', { cause: err })
      for (const q of queued) q.reject(failure)
      this.prepared()
      return
    }

    // New entries, repeats of an entry earlier in this batch or in a batch in flight, and entries the log
    // already holds.
    const batch: Pending[] = []
    const sameAs: { queued: Pending; position: number }[] = []
    const positions = new Map<string, number>()
    queued.forEach((q, i) => {
      const index = found[i]
      if (index !== undefined) {
        if (index < this.current.size) q.resolve({ index, head: this.current, existing: true })
        // A read can see a batch in flight that landed a moment before this sequencer installed it.
        else
          void this.waitForSize(index + 1n).then(() =>
            q.resolve({ index, head: this.current, existing: true }),
          )
        return
      }
      const key = q.key
      for (const flight of this.inFlight) {
        const logged = flight.keys.get(key)
        if (logged !== undefined) {
          flight.repeats.push({ queued: q, index: logged })
          return
        }
      }
      const position = positions.get(key)
      if (position !== undefined) {
        sameAs.push({ queued: q, position })
        return
      }
      positions.set(key, batch.length)
      batch.push(q)
    })
    if (batch.length === 0) {
      this.prepared()
      return
    }
    const first = this.tip.size
    if (first + BigInt(batch.length) > MAX_LOG_SIZE) {
      const full = new LogServerError('LOG_FULL', 'the log holds 2^53-1 entries and takes no more')
      for (const q of batch) q.reject(full)
      for (const { queued: q } of sameAs) q.reject(full)
      this.prepared()
      return
    }

    const growth = this.tip.append(batch.map((q) => q.entry))
    const size = growth.edge.size
    const root = growth.edge.root()
    const entries: IndexedEntry[] = batch.map(({ entry }, i) => ({
      index: first + BigInt(i),
      leaf: entry.leaf,
      keyId: entry.keyId,
      payloadHash: entry.payloadHash,
      digests: entry.digests,
      commits: entry.commits,
    }))
    const checkpoint = signCheckpoint(this.signer, this.origin, size, root)
    const state: CommittedState = {
      size,
      compactRange: growth.edge.compactRange().serialize(),
      checkpoint: Buffer.from(checkpoint, 'utf8'),
    }
    const flight: InFlight = {
      growth,
      state,
      root,
      entries,
      batch,
      repeats: sameAs.map(({ queued: q, position }) => ({ queued: q, index: first + BigInt(position) })),
      keys: new Map(batch.map((q, i) => [q.key, entries[i]!.index])),
      started: process.hrtime.bigint(),
    }
    this.inFlight.push(flight)
    this.tip = growth.edge
    const commit = this.store.commit({ state, tiles: growth.tiles, entries })
    // Settled strictly in commit order, each after the one before. A throw while settling (a bug, such as
    // a commit listener that throws) is logged and must not stop the batches behind this one settling.
    const before = this.lastSettled
    const settle = (step: () => void | Promise<void>) =>
      before.then(step).catch((err: unknown) => console.error('settling a batch failed:', err))
    this.lastSettled = commit.then(
      () => settle(() => this.landed(flight)),
      (err: unknown) => settle(() => this.failed(flight, err)),
    )
    this.prepared()
  }

  /** `flight`, the oldest batch in flight, failed to commit. */
  private async failed(flight: InFlight, err: unknown): Promise<void> {
    console.error('commit failed:', err)
    if (await this.recover(flight.state.size)) {
      this.landed(flight)
      return
    }
    this.inFlight.shift()
    this.dedup.settle(new Map())
    // Every later batch in flight fails too (the store writes none of them): start again from the edge.
    this.tip = this.edge
    this.failing = this.inFlight.length > 0
    const failure = new LogServerError('INTERNAL', 'the batch could not be committed', { cause: err })
    for (const q of flight.batch) q.reject(failure)
    for (const { queued: q } of flight.repeats) q.reject(failure)
    this.schedule()
    this.wakeIdle()
  }

  /** `flight`, the oldest batch in flight, is durable: installs it and answers its entries. */
  private landed(flight: InFlight): void {
    const { growth, state, root, entries } = flight
    this.inFlight.shift()
    this.options.observer?.committed(entries.length, Number(process.hrtime.bigint() - flight.started) / 1e9)
    this.edge = growth.edge
    if (this.inFlight.length === 0) this.failing = false
    this.current = headOf(state, root)
    this.tiles.install(growth.tiles, growth.bundles)
    this.dedup.settle(flight.keys)
    // The next batch goes to the store first; these answers are written while its fsync runs.
    this.schedule()
    const head = this.current
    const first = entries[0]!.index
    flight.batch.forEach((q, i) => q.resolve({ index: first + BigInt(i), head, existing: false }))
    for (const { queued: q, index } of flight.repeats) q.resolve({ index, head, existing: true })
    if (this.sizeWaiters.length > 0) {
      const waiting = this.sizeWaiters
      this.sizeWaiters = waiting.filter((waiter) => waiter.size > state.size)
      for (const waiter of waiting) if (waiter.size <= state.size) waiter.wake()
    }
    const committed: CommittedBatch = { head, entries }
    for (const listener of this.commitListeners) listener(head, committed)
    this.wakeIdle()
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
