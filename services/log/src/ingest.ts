import { LogServerError } from './errors.js'
import type { LogKey } from './log-key.js'
import type { LogReader } from './log-reader.js'
import { receiptBytes, receiptFromLeaf } from './receipt.js'
import type { TreeHead } from './log-tree.js'
import type { LogNode } from './node.js'
import type { VerifyPool } from './verify-pool.js'

/** Which key ids may submit: all (open), or those of an allowlist. */
export type Admission = { kind: 'open' } | { kind: 'allowlist'; keyIds: ReadonlySet<string> }

/**
 * Which checkpoint receipts carry: the log-signed one of the entry's batch, or, with witnesses, a served
 * (cosigned) one when it covers the entry within `waitMs` (0: no wait).
 */
export interface ReceiptCheckpoints {
  witnessed: boolean
  waitMs: number
}

/** A submission's answer: 201 with the receipt of a new entry, 200 with the logged entry's receipt. */
export interface SubmitResult {
  status: 200 | 201
  /** The Sigstore bundle v0.3 JSON (UTF-8) with `verificationMaterial.tlogEntries[0]` filled. */
  receipt: Buffer
}

/**
 * The POST /api/v1/entries pipeline after the body is read: verify (worker pool), admission, sequence
 * (which deduplicates), receipt. One entry per (key id, payload hash) (DESIGN §4): a duplicate of a
 * logged entry, of one waiting in the queue or of one in the batch being committed gets 200 and the
 * LOGGED entry's receipt (its bundle rebuilt from the leaf), once that entry is durable. A rejected
 * submission writes nothing.
 *
 * `begin`/`end` bracket every submission so that at most `queueLimit` are in progress (503 OVERLOADED
 * beyond), and `close` makes new ones answer 503 SHUTTING_DOWN while the ones in progress finish.
 */
export class Ingest {
  private inProgress = 0
  private closing = false
  private idle: (() => void)[] = []
  private readonly logIdB64: string

  constructor(
    private readonly pool: VerifyPool,
    private readonly node: LogNode,
    private readonly reader: LogReader,
    private readonly key: LogKey,
    private readonly admission: Admission,
    private readonly queueLimit: number,
    private readonly checkpoints: ReceiptCheckpoints = { witnessed: false, waitMs: 0 },
  ) {
    this.logIdB64 = Buffer.from(key.logId).toString('base64')
  }

  /** Submissions admitted and not yet answered (verifying, queued or committing). */
  get inProgressCount(): number {
    return this.inProgress
  }

  get isClosing(): boolean {
    return this.closing
  }

  /** Admits one more submission, or throws LogServerError SHUTTING_DOWN / OVERLOADED. */
  begin(): void {
    if (this.closing) throw new LogServerError('SHUTTING_DOWN', 'the log is shutting down')
    if (this.inProgress >= this.queueLimit) {
      throw new LogServerError('OVERLOADED', 'too many submissions in progress; retry later')
    }
    this.inProgress++
  }

  end(): void {
    this.inProgress--
    if (this.inProgress === 0) for (const wake of this.idle.splice(0)) wake()
  }

  /** Stops admitting submissions; resolves once every admitted one has been answered. */
  async close(): Promise<void> {
    this.closing = true
    while (this.inProgress > 0) {
      await this.node.drain()
      if (this.inProgress > 0) await new Promise<void>((wake) => this.idle.push(wake))
    }
  }

  /**
   * Runs one submission (`body`: the raw POST body, already size-checked). Throws LogServerError with
   * the code of the first failed check; nothing is written then.
   */
  async submit(body: Uint8Array): Promise<SubmitResult> {
    const outcome = await this.pool.verify(body)
    if (!outcome.ok) throw new LogServerError(outcome.code, outcome.message)
    const entry = outcome.entry
    if (this.admission.kind === 'allowlist' && !this.admission.keyIds.has(entry.keyId)) {
      throw new LogServerError('NOT_ADMITTED', `key ${entry.keyId} is not admitted to this log`)
    }
    const appended = this.node.append(entry)
    // Once closing, nothing waits for company: close() drained the queue before this entry (still being
    // verified then) joined it, and it must not wait for the batch timer either.
    if (this.closing) void this.node.drain()
    const sequenced = await appended
    const index = sequenced.index
    if (sequenced.existing) return this.existingReceipt(index)
    const head = await this.receiptHead(index, sequenced.head)
    const proof = await this.reader.inclusionProof(index, head.size)
    return { status: 201, receipt: receiptBytes(entry.template, index, head, proof) }
  }

  /**
   * The checkpoint a receipt for entry `index` carries: the log-signed `committed` one, or, when witnesses
   * are configured and the wait is on, the served (cosigned) one if it covers the entry in time.
   */
  private async receiptHead(index: bigint, committed: TreeHead): Promise<TreeHead> {
    const { witnessed, waitMs } = this.checkpoints
    if (!witnessed) return committed
    const served = this.node.served()
    if (served.size > index) return served
    if (waitMs === 0) return committed
    return (await this.node.waitForServed(index + 1n, waitMs)) ?? committed
  }

  /** The receipt of logged entry `index`: its bundle rebuilt from the leaf, proved to the current head. */
  private async existingReceipt(index: bigint): Promise<SubmitResult> {
    const head = await this.receiptHead(index, this.node.head)
    const [leaf, proof] = await Promise.all([
      this.reader.leaf(index),
      this.reader.inclusionProof(index, head.size),
    ])
    return { status: 200, receipt: receiptFromLeaf(this.logIdB64, leaf, index, head, proof) }
  }
}
