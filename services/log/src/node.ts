// A log process's part in its log: what the HTTP layer (ingest, the JSON API, the static API) needs,
// whether this process is the log's only one (LevelDB) or one of several on one database (PostgreSQL).
import type { TreeHead } from './log-tree.js'
import {
  Sequencer,
  type CommittedBatch,
  type LogEntryInput,
  type Sequenced,
  type SequencerOptions,
} from './sequencer.js'
import type { LogStore } from './store.js'
import type { TileCache } from './tile-cache.js'
import { Witnessing, type WitnessingOptions } from './witnessing.js'
import type { NoteSigner } from '@ledger/tlog'

/**
 * The contract between a log process's HTTP layer and the log. Heads only move forward.
 * - `append` resolves once the entry is durably in the log (its index, a committed head holding it, and
 *   whether the log held it before), or rejects with a LogServerError; it may run on any process.
 * - `head` is the newest committed head this process knows; `served()` the head readers are served (with
 *   witnesses: the newest the quorum cosigned), never newer than `head`.
 */
export interface LogNode {
  readonly head: TreeHead
  served(): TreeHead
  /** Resolves with a served head of at least `size` leaves within `timeoutMs`, else undefined. */
  waitForServed(size: bigint, timeoutMs: number): Promise<TreeHead | undefined>
  append(entry: LogEntryInput): Promise<Sequenced>
  /** Resolves once every entry appended so far is committed (or failed). */
  drain(): Promise<void>
  /** Calls `listener` after each commit this process makes (none on a process that does not sequence). */
  onCommit(listener: (head: TreeHead, batch: CommittedBatch) => void): void
  close(): Promise<void>
}

export interface LocalNodeOptions {
  store: LogStore
  tiles: TileCache
  signer: NoteSigner
  origin: string
  sequencer: SequencerOptions
  /** With witnesses: how to reach them (everything of WitnessingOptions but the head). */
  witnessing?: WitnessingOptions
}

/**
 * The node of a log that one process owns (LevelDB): its Sequencer, and its Witnessing when witnesses are
 * configured (asked after each commit; the served head is the newest the quorum cosigned).
 */
export class LocalNode implements LogNode {
  private constructor(
    readonly sequencer: Sequencer,
    readonly witnessing: Witnessing | undefined,
  ) {}

  static async open(options: LocalNodeOptions): Promise<LocalNode> {
    const sequencer = await Sequencer.open(
      options.store,
      options.tiles,
      options.signer,
      options.origin,
      options.sequencer,
    )
    let witnessing: Witnessing | undefined
    if (options.witnessing !== undefined) {
      witnessing = await Witnessing.open(options.witnessing, sequencer.head)
      const started = witnessing
      sequencer.onCommit((head) => started.onCheckpoint(head))
    }
    return new LocalNode(sequencer, witnessing)
  }

  get head(): TreeHead {
    return this.sequencer.head
  }

  served(): TreeHead {
    return this.witnessing?.served ?? this.sequencer.head
  }

  async waitForServed(size: bigint, timeoutMs: number): Promise<TreeHead | undefined> {
    if (this.witnessing === undefined)
      return this.sequencer.head.size >= size ? this.sequencer.head : undefined
    return this.witnessing.waitForSize(size, timeoutMs)
  }

  append(entry: LogEntryInput): Promise<Sequenced> {
    return this.sequencer.append(entry)
  }

  drain(): Promise<void> {
    return this.sequencer.drain()
  }

  onCommit(listener: (head: TreeHead, batch: CommittedBatch) => void): void {
    this.sequencer.onCommit(listener)
  }

  async close(): Promise<void> {
    await this.sequencer.drain()
    await this.witnessing?.close()
  }
}
