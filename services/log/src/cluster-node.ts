// Several log processes on one PostgreSQL database: one sequences (it holds an advisory lock), every one
// verifies submissions, serves reads from the database, and answers its own submitters.
import pg from 'pg'
import { hashLeaf, parseCosignatureVerifierKey, type NoteSigner } from '@ledger/tlog'
import { dedupId } from './dedup.js'
import { LogServerError } from './errors.js'
import { checkState, type TreeHead } from './log-tree.js'
import type { LogNode } from './node.js'
import {
  COMMIT_CHANNEL,
  LostWriterError,
  PENDING_CHANNEL,
  PendingQueue,
  type PendingEntry,
  WITNESSED_CHANNEL,
  type PostgresStore,
} from './postgres-store.js'
import {
  Sequencer,
  type CommittedBatch,
  type LogEntryInput,
  type Sequenced,
  type SequencerOptions,
} from './sequencer.js'
import type { IntegratedBatch, LogStore } from './store.js'
import type { TileCache } from './tile-cache.js'
import { Witnessing, loadWitnessed, type WitnessingOptions } from './witnessing.js'

/** The advisory lock whose holder is the log's one sequencer ("log!"). */
export const SEQUENCER_LOCK_KEY = 0x6c6f6721
/** Queued entries the sequencer takes from the database at once. */
const PENDING_BATCH = 1000

export interface ClusterNodeOptions {
  /** The database (the same one `store` uses). */
  url: string
  store: PostgresStore
  tiles: TileCache
  signer: NoteSigner
  origin: string
  sequencer: SequencerOptions
  /** With witnesses: the sequencing process asks them; every process serves what their quorum cosigned. */
  witnessing?: WitnessingOptions
  /** How often a process that does not sequence tries to take over, ms. */
  leaseRetryMs: number
  /** How often the head is read again when no notification came, ms. */
  pollMs: number
  /** Longest wait of a submission queued for the sequencer before it is answered 503, ms. */
  pendingWaitMs: number
  /**
   * Called when this process sequenced and lost its lock (its connection broke) or found another writer:
   * it must stop at once (the service exits), so that it never writes beside the new sequencer.
   */
  onFatal: (err: Error) => void
  /** Where role changes are reported (default console.error). */
  report?: (message: string) => void
}

/** A submission queued by this process, waiting to be found in the log. */
interface Waiter {
  resolve: (sequenced: Sequenced) => void
  reject: (err: unknown) => void
  timer: NodeJS.Timeout
}

/** What this process holds while it sequences. */
interface Leading {
  sequencer: Sequencer
  witnessing: Witnessing | undefined
  /**
   * The highest queued id taken so far. Ids are handed out when a row is inserted but become visible when
   * its transaction commits, so a lower id can appear after a higher one was taken: the sweep on every tick
   * reads the queue from its start and takes what is neither in flight nor sequenced.
   */
  taken: bigint
  /** Ids handed to the sequencer and not yet removed from the queue. */
  inFlight: Set<bigint>
  sweeping: boolean
  pumping: boolean
  pumpAgain: boolean
}

/**
 * One process of a log on PostgreSQL (LogNode).
 *
 * - Sequencing: exactly one process at a time holds a session-level advisory lock, on a connection of its
 *   own; it runs the Sequencer (and Witnessing) over the database. The others try to take the lock every
 *   `leaseRetryMs`: when the sequencing process dies, PostgreSQL drops its connection and its lock, and the
 *   next try of another process takes over, resuming from the committed state. Commits are fenced by the
 *   previous size (PostgresStore), and a process that loses its lock connection stops (`onFatal`), so two
 *   processes never write batches side by side.
 * - Submissions: every process verifies its own. The sequencing process appends them to its Sequencer;
 *   the others add them to the database queue (ledger_pending), which the sequencer takes in order, and
 *   answer once the entry is in a committed tree (they learn of commits by LISTEN/NOTIFY, and by reading
 *   the state every `pollMs` as a fallback). Nothing is acknowledged before it is committed.
 * - Reads: every process serves the checkpoint, tiles, entries, proofs and lookups from the database.
 */
export class ClusterNode implements LogNode {
  private current: TreeHead
  private readonly startHead: TreeHead
  private witnessed: TreeHead | undefined
  private leading: Leading | undefined
  private readonly waiters = new Map<string, { entry: LogEntryInput; waiters: Waiter[] }>()
  private readonly headWaiters: { size: bigint; wake: () => void }[] = []
  private readonly commitListeners: ((head: TreeHead, batch: CommittedBatch) => void)[] = []
  private readonly queue: PendingQueue
  private toQueue: LogEntryInput[] = []
  private flushing: Promise<void> | undefined
  private refreshing: Promise<void> | undefined
  private refreshAgain = false
  private readonly timers: NodeJS.Timeout[] = []
  private closed = false
  private readonly report: (message: string) => void

  private constructor(
    private readonly options: ClusterNodeOptions,
    private readonly lockClient: pg.Client,
    private readonly listenClient: pg.Client,
    head: TreeHead,
  ) {
    this.current = head
    this.startHead = head
    this.queue = new PendingQueue(options.store.pool)
    this.report = options.report ?? ((message) => console.error(message))
  }

  /**
   * Joins the log: listens for commits, tries to become the sequencer, and reads the committed head (on a
   * new database, waits until a sequencer created it). Throws LogServerError DATA_MISMATCH when the
   * stored state does not hold together.
   */
  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    const listenClient = new pg.Client({ connectionString: options.url })
    const lockClient = new pg.Client({ connectionString: options.url })
    try {
      await listenClient.connect()
      await lockClient.connect()
      for (const channel of [COMMIT_CHANNEL, WITNESSED_CHANNEL, PENDING_CHANNEL]) {
        await listenClient.query(`LISTEN ${channel}`)
      }
      let leader = await tryLock(lockClient)
      let sequencer: Sequencer | undefined
      let state = await options.store.readState()
      if (leader) {
        sequencer = await openSequencer(options)
      } else {
        // A new database: the first sequencer creates the state. Wait for it, or become it.
        while (state === undefined) {
          await sleep(options.leaseRetryMs)
          leader = await tryLock(lockClient)
          if (leader) {
            sequencer = await openSequencer(options)
            break
          }
          state = await options.store.readState()
        }
      }
      const head = sequencer?.head ?? checkState(state!, options.origin).head
      const node = new ClusterNode(options, lockClient, listenClient, head)
      node.watchConnections()
      if (sequencer !== undefined) await node.lead(sequencer)
      else await node.readWitnessed()
      node.timers.push(setInterval(() => node.tick(), Math.min(options.pollMs, options.leaseRetryMs)))
      return node
    } catch (err) {
      await lockClient.end().catch(() => undefined)
      await listenClient.end().catch(() => undefined)
      throw err
    }
  }

  /** True while this process sequences. */
  get isSequencer(): boolean {
    return this.leading !== undefined
  }

  get head(): TreeHead {
    return this.current
  }

  served(): TreeHead {
    if (this.options.witnessing === undefined) return this.current
    if (this.leading !== undefined) return this.leading.witnessing!.served
    return this.witnessed ?? this.startHead
  }

  async waitForServed(size: bigint, timeoutMs: number): Promise<TreeHead | undefined> {
    const deadline = Date.now() + timeoutMs
    while (this.served().size < size) {
      const left = deadline - Date.now()
      if (left <= 0 || this.closed) return undefined
      await Promise.race([this.nextHead(), sleep(Math.min(left, this.options.pollMs))])
    }
    return this.served()
  }

  onCommit(listener: (head: TreeHead, batch: CommittedBatch) => void): void {
    this.commitListeners.push(listener)
  }

  async append(entry: LogEntryInput): Promise<Sequenced> {
    if (this.closed) throw new LogServerError('SHUTTING_DOWN', 'the log is shutting down')
    if (this.leading !== undefined) return this.leading.sequencer.append(entry)
    const [found] = await this.options.store.findEntries([entry])
    if (found !== undefined) {
      await this.waitForHead(found + 1n)
      return { index: found, head: this.current, existing: true }
    }
    return new Promise<Sequenced>((resolve, reject) => {
      const key = dedupId(entry)
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.dropWaiter(key, waiter)
          reject(
            new LogServerError(
              'NOT_SEQUENCED',
              'the submission is queued but was not sequenced in time; retry (a retry is answered from the log once it is in)',
            ),
          )
        }, this.options.pendingWaitMs),
      }
      const slot = this.waiters.get(key)
      if (slot === undefined) this.waiters.set(key, { entry, waiters: [waiter] })
      else slot.waiters.push(waiter)
      this.toQueue.push(entry)
      this.flushing ??= this.flush()
    })
  }

  async drain(): Promise<void> {
    await this.flushing
    await this.leading?.sequencer.drain()
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const timer of this.timers) clearInterval(timer)
    await this.flushing
    if (this.leading !== undefined) {
      await this.leading.sequencer.drain()
      await this.leading.witnessing?.close()
    }
    for (const [, slot] of this.waiters) {
      for (const waiter of slot.waiters) {
        clearTimeout(waiter.timer)
        waiter.reject(new LogServerError('SHUTTING_DOWN', 'the log is shutting down'))
      }
    }
    this.waiters.clear()
    for (const waiter of this.headWaiters.splice(0)) waiter.wake()
    // Ending the lock's connection releases it: another process takes over at its next try.
    await this.lockClient.end().catch(() => undefined)
    await this.listenClient.end().catch(() => undefined)
  }

  /**
   * Sends what was appended to the database queue, one statement at a time: what arrives while one is in
   * flight goes in the next, so that a busy process sends few large inserts rather than many small ones.
   */
  private async flush(): Promise<void> {
    await new Promise<void>((done) => setImmediate(done))
    while (this.toQueue.length > 0) await this.flushOnce()
    this.flushing = undefined
  }

  private async flushOnce(): Promise<void> {
    const entries = this.toQueue
    this.toQueue = []
    try {
      await this.queue.add(
        entries.map((e) => ({
          leaf: e.leaf,
          leafHash: e.leafHash ?? hashLeaf(e.leaf),
          keyId: e.keyId,
          payloadHash: e.payloadHash,
          digests: [...e.digests],
          commits: [...e.commits],
        })),
      )
    } catch (err) {
      const failure = new LogServerError('INTERNAL', 'the submission could not be queued', { cause: err })
      console.error('queueing submissions failed:', err)
      for (const entry of entries) {
        const key = dedupId(entry)
        const slot = this.waiters.get(key)
        if (slot === undefined) continue
        this.waiters.delete(key)
        for (const waiter of slot.waiters) {
          clearTimeout(waiter.timer)
          waiter.reject(failure)
        }
      }
    }
  }

  private dropWaiter(key: string, waiter: Waiter): void {
    const slot = this.waiters.get(key)
    if (slot === undefined) return
    slot.waiters = slot.waiters.filter((w) => w !== waiter)
    if (slot.waiters.length === 0) this.waiters.delete(key)
  }

  /** Resolves once the known committed head holds `size` entries (or at close). */
  private async waitForHead(size: bigint): Promise<void> {
    while (this.current.size < size && !this.closed) {
      await Promise.race([this.nextHead(), sleep(this.options.pollMs)])
      if (this.current.size < size) await this.refresh()
    }
  }

  private nextHead(): Promise<void> {
    return new Promise((wake) => this.headWaiters.push({ size: this.current.size + 1n, wake }))
  }

  private setHead(head: TreeHead): void {
    if (head.size <= this.current.size) return
    this.current = head
    for (const waiter of this.headWaiters.splice(0)) waiter.wake()
  }

  /** Every notification and timer comes here: what changed is read from the database. */
  private watchConnections(): void {
    this.listenClient.on('notification', (message) => {
      if (this.closed) return
      if (message.channel === PENDING_CHANNEL) void this.pump()
      else void this.refresh()
    })
    const lost = (what: string) => (err?: Error) => {
      if (this.closed) return
      if (this.leading !== undefined) {
        this.options.onFatal(
          new Error(`the sequencer lock's connection ${what}${err ? `: ${err.message}` : ''}`),
        )
      } else if (what === 'failed') {
        this.report(`postgres: a control connection failed (${err?.message ?? 'closed'}); polling continues`)
      }
    }
    this.lockClient.on('error', lost('failed'))
    this.lockClient.on('end', lost('ended'))
    this.listenClient.on('error', lost('failed'))
  }

  private tick(): void {
    if (this.closed) return
    void this.refresh()
    if (this.leading !== undefined) {
      void this.pump()
      void this.sweep()
      return
    }
    void tryLock(this.lockClient).then(
      async (ok) => {
        if (!ok || this.closed || this.leading !== undefined) return
        try {
          await this.lead(await openSequencer(this.options))
        } catch (err) {
          this.options.onFatal(new Error(`taking over the sequencer failed: ${(err as Error).message}`))
        }
      },
      () => undefined,
    )
  }

  /** Starts sequencing with `sequencer` (this process holds the lock). */
  private async lead(sequencer: Sequencer): Promise<void> {
    let witnessing: Witnessing | undefined
    if (this.options.witnessing !== undefined) {
      witnessing = await Witnessing.open(this.options.witnessing, sequencer.head)
    }
    this.leading = {
      sequencer,
      witnessing,
      taken: 0n,
      inFlight: new Set(),
      sweeping: false,
      pumping: false,
      pumpAgain: false,
    }
    this.setHead(sequencer.head)
    sequencer.onCommit((head, batch) => {
      witnessing?.onCheckpoint(head)
      this.setHead(head)
      for (const listener of this.commitListeners) listener(head, batch)
    })
    this.report(`sequencing the log at size ${sequencer.head.size}`)
    void this.pump()
  }

  /** Takes the queued submissions of the other processes into the sequencer. */
  private async pump(): Promise<void> {
    const leading = this.leading
    if (leading === undefined || this.closed) return
    if (leading.pumping) {
      leading.pumpAgain = true
      return
    }
    leading.pumping = true
    try {
      for (;;) {
        leading.pumpAgain = false
        const rows = await this.queue.take(leading.taken, PENDING_BATCH)
        if (rows.length === 0 && !leading.pumpAgain) break
        if (rows.length === 0) continue
        leading.taken = rows[rows.length - 1]!.id
        this.sequenceQueued(leading, rows)
        if (rows.length < PENDING_BATCH && !leading.pumpAgain) break
      }
    } catch (err) {
      console.error('reading the submission queue failed:', err)
    } finally {
      leading.pumping = false
    }
  }

  /** Appends queued rows not already in flight; each is removed from the queue once it is in the log. */
  private sequenceQueued(leading: Leading, rows: readonly PendingEntry[]): void {
    const fresh = rows.filter((row) => !leading.inFlight.has(row.id))
    for (const row of fresh) leading.inFlight.add(row.id)
    const done = fresh.map((row) =>
      leading.sequencer.append(row).then(
        () => row.id,
        (err: unknown) => {
          // Left in the queue: the next sweep takes it again and the sequencer finds what is already in.
          console.error('a queued submission failed to sequence:', err)
          leading.inFlight.delete(row.id)
          return undefined
        },
      ),
    )
    void Promise.all(done).then(async (results) => {
      const ids = results.filter((id): id is bigint => id !== undefined)
      try {
        await this.queue.remove(ids)
      } catch (err) {
        console.error('removing sequenced submissions from the queue failed:', err)
      } finally {
        for (const id of ids) leading.inFlight.delete(id)
      }
    })
  }

  /** Reads the whole queue below the pump's mark: rows whose transaction committed after a higher id's. */
  private async sweep(): Promise<void> {
    const leading = this.leading
    if (leading === undefined || this.closed || leading.sweeping) return
    leading.sweeping = true
    try {
      let after = 0n
      while (after < leading.taken) {
        const rows = await this.queue.take(after, PENDING_BATCH)
        const below = rows.filter((row) => row.id <= leading.taken)
        this.sequenceQueued(leading, below)
        if (rows.length < PENDING_BATCH || below.length < rows.length) break
        after = rows[rows.length - 1]!.id
      }
    } catch (err) {
      if (!this.closed) console.error('sweeping the submission queue failed:', err)
    } finally {
      leading.sweeping = false
    }
  }

  /** Reads the committed head (and the witnessed checkpoint) again, and answers the submissions now in. */
  private refresh(): Promise<void> {
    if (this.refreshing !== undefined) {
      this.refreshAgain = true
      return this.refreshing
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false
          const state = await this.options.store.readState()
          if (state !== undefined && state.size > this.current.size && this.leading === undefined) {
            this.setHead(checkState(state, this.options.origin).head)
          }
          if (this.leading === undefined) await this.readWitnessed()
          await this.answerWaiters()
        } while (this.refreshAgain && !this.closed)
      } catch (err) {
        if (!this.closed) console.error('reading the log state failed:', err)
      } finally {
        this.refreshing = undefined
      }
    })()
    return this.refreshing
  }

  /** The witnessed checkpoint this process serves when it does not sequence. */
  private async readWitnessed(): Promise<void> {
    const witnessing = this.options.witnessing
    if (witnessing === undefined) return
    const verifiers = witnessing.witnesses.map((w) => parseCosignatureVerifierKey(w.verifierKey))
    const stored = await loadWitnessed({ ...witnessing, report: () => undefined }, verifiers, this.current)
    if (stored !== undefined && stored.head.size >= (this.witnessed?.size ?? 0n)) {
      this.witnessed = stored.head
      for (const waiter of this.headWaiters.splice(0)) waiter.wake()
    }
  }

  /** Resolves the queued submissions that are now in the committed tree. */
  private async answerWaiters(): Promise<void> {
    if (this.waiters.size === 0) return
    const keys = [...this.waiters.keys()]
    const found = await this.options.store.findEntries(keys.map((key) => this.waiters.get(key)!.entry))
    const head = this.current
    keys.forEach((key, i) => {
      const index = found[i]
      if (index === undefined || index >= head.size) return
      const slot = this.waiters.get(key)
      if (slot === undefined) return
      this.waiters.delete(key)
      for (const waiter of slot.waiters) {
        clearTimeout(waiter.timer)
        waiter.resolve({ index, head, existing: false })
      }
    })
  }
}

/** One try at the sequencer lock, on its own connection (session-level: held until that connection ends). */
async function tryLock(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
    SEQUENCER_LOCK_KEY,
  ])
  return rows[0]?.ok === true
}

/** The sequencer of a process that holds the lock, over the fenced store. */
function openSequencer(options: ClusterNodeOptions): Promise<Sequencer> {
  const { store, tiles, signer, origin, sequencer, onFatal } = options
  return Sequencer.open(fenced(store, onFatal), tiles, signer, origin, sequencer)
}

/** The store as the sequencer sees it: a commit that finds another writer stops this process. */
function fenced(store: PostgresStore, onFatal: (err: Error) => void): LogStore {
  return Object.assign(Object.create(store) as LogStore, {
    commit: async (batch: IntegratedBatch) => {
      try {
        await store.commit(batch)
      } catch (err) {
        if (err instanceof LostWriterError) onFatal(err)
        throw err
      }
    },
  })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
