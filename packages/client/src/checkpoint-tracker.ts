// The client's memory of one log: every checkpoint it accepts must carry the log's signature (and the
// witness quorum) and extend the last one it accepted. This is what turns "the log signed it" into "the
// log cannot show me one history today and another tomorrow".
import { bytesEqual, toBase64 } from '@ledger/tlog/bytes.js'
import { parseCheckpoint, type Checkpoint } from '@ledger/tlog/checkpoint.js'
import type { Hash } from '@ledger/tlog/hash.js'
import { verifyConsistency } from '@ledger/tlog/merkle.js'
import { parseSignedNote } from '@ledger/tlog/signed-note.js'
import { ClientError, describe, misbehaving } from './errors.js'
import {
  assertFresh,
  openWitnessedCheckpoint,
  type LogTrust,
  type WitnessedCheckpoint,
  type WitnessTrust,
} from './policy.js'
import type { StateStore } from './state.js'

/** A checkpoint whose signatures verified and that is consistent with everything seen before it. */
export interface VerifiedCheckpoint {
  checkpoint: Checkpoint
  /** The signed note exactly as the log served it (cosignatures included). */
  note: string
  /**
   * When the policy's witness quorum had cosigned it (POSIX seconds, the witnesses' clocks); undefined
   * when the policy names no witnesses (no freshness is claimed) or for a checkpoint not checked against
   * them (`check`).
   */
  cosignedAt?: bigint
}

/**
 * Fetches the consistency proof between two tree sizes (untrusted hashes; the tracker verifies them).
 * `newRoot` is the signed root of the larger tree, for fetchers that authenticate what they read with it.
 */
export type ConsistencyProofFetcher = (oldSize: bigint, newSize: bigint, newRoot: Hash) => Promise<Hash[]>

export interface CheckpointTrackerOptions {
  /**
   * A checkpoint smaller than the stored one is a rollback, whatever the log proves. For a log that must
   * answer from its newest tree (the verifiable index's output log: an older leaf answers for an older
   * map), an older view is never honest. Default false: an older checkpoint the stored one provably
   * extends is accepted (not stored), as a log serving its witnessed checkpoint behind its newest may.
   */
  olderIsRollback?: boolean
  /** POSIX seconds now, for freshness (the policy's maxCheckpointAgeSeconds). Default: the system clock. */
  now?: () => number
}

/**
 * Verifies checkpoints of one log and keeps the latest in a StateStore. Safe for concurrent use within one
 * process: calls to `accept` run one at a time. A checkpoint other than the last one accepted is compared
 * with the stored state as it is at that moment, so processes sharing a state directory check each other.
 */
export class CheckpointTracker {
  private latest: VerifiedCheckpoint | undefined
  private loaded = false
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    readonly log: LogTrust,
    readonly witnesses: WitnessTrust,
    private readonly state: StateStore,
    private readonly fetchConsistency: ConsistencyProofFetcher,
    private readonly options: CheckpointTrackerOptions = {},
  ) {}

  /** The latest accepted checkpoint, from this process or the state store; undefined if none yet. */
  async trusted(): Promise<VerifiedCheckpoint | undefined> {
    return this.serialize(() => this.load())
  }

  /**
   * Verifies a signed checkpoint (untrusted) and makes it the latest trusted one when it is at least as
   * new. Checks: the log's signature, the origin, the witness quorum; then against the stored checkpoint:
   * a smaller tree is a rollback unless the log proves the stored tree extends it (then it is an older,
   * consistent view, returned and not stored), the same size with another root a fork, a larger tree must
   * come with a consistency proof that verifies (else a fork). With a maximum age in the policy, the
   * checkpoint must be fresh: its witness quorum cosigned it at most that long ago (checked after the
   * fork and rollback checks, before the state moves). Only then is the state advanced (durably).
   * Throws ClientError LOG_MISBEHAVING (kind bad-signature, rollback, fork, malformed) with both signed
   * checkpoints as evidence, STALE, STATE_IO, or what fetching the proof throws (NETWORK, NOT_FOUND...).
   */
  async accept(note: string): Promise<VerifiedCheckpoint> {
    return this.serialize(() => this.acceptLocked(note, { witnessed: true, store: true }))
  }

  /**
   * Checks a checkpoint signed by the log but not (yet) by the witnesses, as a receipt carries it: the
   * log's signature and the consistency with the stored checkpoint, exactly as `accept`, but no witness
   * quorum, and the state is not advanced (only witnessed checkpoints move it, when the policy names
   * witnesses). Throws as `accept`.
   */
  async check(note: string): Promise<VerifiedCheckpoint> {
    return this.serialize(() => this.acceptLocked(note, { witnessed: false, store: false }))
  }

  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task)
    this.queue = run.catch(() => undefined)
    return run
  }

  private async load(): Promise<VerifiedCheckpoint | undefined> {
    if (this.loaded) return this.latest
    const stored = await this.state.load(this.log.origin)
    this.latest = undefined
    if (stored !== undefined) {
      // The stored checkpoint was verified when it was saved; it is our own memory, not a log's answer.
      let checkpoint: Checkpoint
      try {
        checkpoint = parseCheckpoint(parseSignedNote(stored.checkpoint).text)
      } catch (cause) {
        throw new ClientError('STATE_IO', `the stored checkpoint of ${this.log.origin} does not parse`, {
          cause,
        })
      }
      if (checkpoint.origin !== this.log.origin) {
        throw new ClientError('STATE_IO', `the stored checkpoint of ${this.log.origin} names another origin`)
      }
      this.latest = { checkpoint, note: stored.checkpoint }
    }
    this.loaded = true
    return this.latest
  }

  private async acceptLocked(
    note: string,
    mode: { witnessed: boolean; store: boolean },
  ): Promise<VerifiedCheckpoint> {
    const witnesses = mode.witnessed ? this.witnesses : { keys: [], verifiers: [], quorum: 0 }
    let witnessed: WitnessedCheckpoint
    try {
      witnessed = openWitnessedCheckpoint(note, this.log, witnesses)
    } catch (cause) {
      throw misbehaving(
        'bad-signature',
        `checkpoint of ${this.log.origin}: ${describe(cause)}`,
        { received: note },
        cause,
      )
    }
    const { checkpoint } = witnessed
    const received: VerifiedCheckpoint = {
      checkpoint,
      note,
      ...(witnessed.cosignedAt !== undefined && { cosignedAt: witnessed.cosignedAt }),
    }
    const now = this.options.now ?? (() => Math.floor(Date.now() / 1000))
    const fresh = () => assertFresh(this.log.origin, note, witnessed, witnesses, now())
    // The common case, the checkpoint this process accepted last: no state I/O.
    const known = this.latest
    if (
      known !== undefined &&
      known.checkpoint.size === checkpoint.size &&
      bytesEqual(known.checkpoint.root, checkpoint.root)
    ) {
      fresh()
      // The same tree; its cosignatures (and their times) are the ones just received.
      return received
    }
    // Anything else is compared with the stored state as it is now: another process may have moved it on.
    this.loaded = false
    const old = await this.load()
    if (old === undefined) {
      fresh()
      if (mode.store) await this.save(received)
      return received
    }
    const stateFile = this.state.location?.(this.log.origin)
    const evidence = {
      trusted: old.note,
      received: note,
      ...(stateFile !== undefined && { origin: this.log.origin, stateFile }),
    }
    if (checkpoint.size < old.checkpoint.size) {
      // An older checkpoint is honest only while the log can still prove that the tree it signed later
      // extends it: a log serving its newest witnessed checkpoint, behind its newest signed one, can; a log
      // restored from an old copy cannot (it no longer has the larger tree). The state stays as it is.
      if (!this.options.olderIsRollback && (await this.extendsOlder(checkpoint, old.checkpoint))) {
        fresh()
        return received
      }
      throw misbehaving(
        'rollback',
        `log ${this.log.origin} rolled back: it now shows a tree of ${checkpoint.size} entries after it had signed one of ${old.checkpoint.size}`,
        evidence,
      )
    }
    if (checkpoint.size === old.checkpoint.size) {
      if (!bytesEqual(checkpoint.root, old.checkpoint.root)) {
        throw misbehaving(
          'fork',
          `log ${this.log.origin} forked: two signed checkpoints of size ${checkpoint.size} with different roots`,
          evidence,
        )
      }
      return old
    }
    // Every tree extends the empty one; logs need not serve a proof from size 0.
    const proof =
      old.checkpoint.size === 0n
        ? []
        : await this.fetchConsistency(old.checkpoint.size, checkpoint.size, checkpoint.root)
    try {
      verifyConsistency(old.checkpoint.size, checkpoint.size, proof, old.checkpoint.root, checkpoint.root)
    } catch (cause) {
      throw misbehaving(
        'fork',
        `log ${this.log.origin} forked: its tree of ${checkpoint.size} entries does not extend the tree of ${old.checkpoint.size} it signed before (${describe(cause)})`,
        { ...evidence, proof: proof.map(toBase64) },
        cause,
      )
    }
    fresh()
    if (mode.store) await this.save(received)
    return received
  }

  /** True when the log proves that `newer` (its tree of more entries) extends `older`. */
  private async extendsOlder(older: Checkpoint, newer: Checkpoint): Promise<boolean> {
    if (older.size === 0n) return false
    let proof: Hash[]
    try {
      proof = await this.fetchConsistency(older.size, newer.size, newer.root)
    } catch (err) {
      // The log refusing the proof (it has no such tree) is the rollback; a network failure is not an answer.
      if (err instanceof ClientError && err.code !== 'NETWORK') return false
      throw err
    }
    try {
      verifyConsistency(older.size, newer.size, proof, older.root, newer.root)
      return true
    } catch {
      return false
    }
  }

  private async save(checkpoint: VerifiedCheckpoint): Promise<void> {
    await this.state.save({
      origin: this.log.origin,
      verifierKey: this.log.verifierKey,
      checkpoint: checkpoint.note,
    })
    this.latest = checkpoint
    this.loaded = true
  }
}
