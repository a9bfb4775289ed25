// One entry per (key id, payload hash) (DESIGN §4): the sequencer's reads of the dedup rows, pipelined with
// its commits, and the memory of recent batches that makes those reads safe while commits run.
import type { DedupKey, LogStore } from './store.js'

/**
 * Dedup reads in flight at once: what is appended while they run is read next, in one read (a read costs
 * the main thread as much for one key as for dozens, so fewer and larger reads cost less). Two, so that
 * one slow read does not hold up every entry behind it.
 */
const MAX_READS_IN_FLIGHT = 2
/** Settled batches whose dedup keys are kept for entries whose read was in flight during them. */
const REMEMBERED_BATCHES = 64

/** The dedup key as one string. */
export function dedupId(key: DedupKey): string {
  return `${key.keyId}/${key.payloadHash}`
}

/**
 * An item to read: its entry and dedup key (dedupId, computed once by whoever makes the item), and what
 * its read found, which the read writes into the item (no copy per entry: thousands go through a second).
 */
export interface DedupItem {
  entry: DedupKey
  key: string
  /** The logged entry with the same dedup key, as the read found it. */
  found: bigint | undefined
  /** The number of batches settled when the read began: it saw all of those. */
  epoch: number
}

/** The dedup keys of one settled batch (empty for a failed one), numbered from 1 in commit order. */
interface SettledBatch {
  seq: number
  keys: Map<string, bigint>
}

/**
 * Reads the dedup rows of appended items while earlier batches commit. Everything pushed in the same
 * event-loop turn shares one read; at most two reads run at once. A read sees every batch settled before it
 * began and may or may not see one that commits while it runs, so each read remembers the number of
 * batches settled when it began (its epoch), and `resolve` checks the batches settled since from memory.
 */
export class DedupReads<T extends DedupItem> {
  private queue: T[] = []
  private scheduled = false
  private running = 0
  private reading = 0
  private settledCount = 0
  private remembered: SettledBatch[] = []

  constructor(
    private readonly store: Pick<LogStore, 'findEntries'>,
    /** Items whose read finished, in push order. */
    private readonly onRead: (items: T[]) => void,
    /** Items whose read failed: they cannot be sequenced. */
    private readonly onFailed: (items: T[], err: unknown) => void,
  ) {}

  /** Items pushed whose read has not finished. */
  get pending(): number {
    return this.queue.length + this.reading
  }

  /** The number of batches settled so far. */
  get epoch(): number {
    return this.settledCount
  }

  push(item: T): void {
    this.queue.push(item)
    if (!this.scheduled && this.running < MAX_READS_IN_FLIGHT) {
      this.scheduled = true
      // Everything appended in this turn of the event loop (a verify worker's whole answer) shares a read.
      setImmediate(() => this.readNext())
    }
  }

  /** Starts a read of what is queued now, when the limit allows (a drain does not wait for the next turn). */
  flush(): void {
    if (this.queue.length > 0 && !this.scheduled && this.running < MAX_READS_IN_FLIGHT) this.readNext()
  }

  private readNext(): void {
    this.scheduled = false
    // At the limit: the read that finishes first takes what is waiting.
    if (this.running >= MAX_READS_IN_FLIGHT) return
    const group = this.queue.splice(0)
    if (group.length === 0) return
    const epoch = this.settledCount
    this.reading += group.length
    this.running++
    const done = () => {
      this.reading -= group.length
      this.running--
      // What was appended during this read goes in the next one, together.
      if (this.queue.length > 0 && !this.scheduled) this.readNext()
    }
    this.store.findEntries(group.map((item) => item.entry)).then(
      (found) => {
        done()
        group.forEach((item, i) => {
          item.found = found[i]
          item.epoch = epoch
        })
        this.onRead(group)
      },
      (err: unknown) => {
        done()
        this.onFailed(group, err)
      },
    )
  }

  /** Records a settled batch's dedup keys (empty when it failed) and forgets the oldest. */
  settle(keys: Map<string, bigint>): void {
    this.settledCount++
    this.remembered.push({ seq: this.settledCount, keys })
    if (this.remembered.length > REMEMBERED_BATCHES) this.remembered.shift()
  }

  /**
   * Completes the reads of items about to go into a batch: those read before the batches still remembered
   * are read again (the store now shows every settled batch), and the others are checked against the
   * batches that settled after their read began. Batches still in flight are the caller's to check. Returns, per item, the index of
   * the logged entry with its dedup key, or undefined. Rejects when the store read fails.
   */
  async resolve(items: readonly T[]): Promise<(bigint | undefined)[]> {
    const oldest = this.remembered[0]?.seq ?? this.settledCount + 1
    const stale = items.filter((item) => item.found === undefined && item.epoch + 1 < oldest)
    const reread = new Map<T, bigint | undefined>()
    if (stale.length > 0) {
      const found = await this.store.findEntries(stale.map((item) => item.entry))
      stale.forEach((item, i) => reread.set(item, found[i]))
    }
    return items.map((item) => {
      if (reread.has(item)) return reread.get(item)
      if (item.found !== undefined) return item.found
      for (const settled of this.remembered) {
        if (settled.seq <= item.epoch) continue
        const index = settled.keys.get(item.key)
        if (index !== undefined) return index
      }
      return undefined
    })
  }
}
