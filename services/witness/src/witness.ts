import {
  bytesEqual,
  EMPTY_ROOT,
  openNote,
  parseAddCheckpointRequest,
  parseVerifierKey,
  TlogError,
  verifyConsistency,
  type NoteVerifier,
  type ParsedAddCheckpointRequest,
} from '@ledger/tlog'
import { WitnessError } from './errors.js'
import type { KnownLog, LogState, WitnessStore } from './store.js'
import type { WitnessKey } from './witness-key.js'

/** POSIX seconds, as cosignature timestamps count them. */
export type Clock = () => bigint

export const systemClock: Clock = () => BigInt(Math.floor(Date.now() / 1000))

/**
 * The witness's decision procedure (C2SP tlog-witness v1.0.0, "add-checkpoint"), over a durable store.
 * It never cosigns two checkpoints of one origin that are not consistent with each other: requests for
 * one origin run one at a time (a per-origin lock), each checks the request against the stored state,
 * and the new state is written and synced before the cosignature is returned. Different origins run
 * concurrently.
 */
export class Witness {
  private readonly verifiers: Map<string, NoteVerifier[]>
  private readonly locks = new Map<string, Promise<unknown>>()

  constructor(
    private readonly store: WitnessStore,
    private readonly key: WitnessKey,
    logs: readonly KnownLog[],
    private readonly clock: Clock = systemClock,
  ) {
    this.verifiers = new Map(logs.map((log) => [log.origin, log.keys.map((k) => parseVerifierKey(k))]))
  }

  /**
   * Handles one add-checkpoint body (untrusted) and returns the cosignature line (with its newline).
   * Throws WitnessError MALFORMED_REQUEST (400), UNKNOWN_LOG (404), BAD_LOG_SIGNATURE (403),
   * SIZE_CONFLICT (409, with `witnessSize`), BAD_PROOF (422); anything else (e.g. a failed write) means
   * nothing was cosigned.
   */
  async addCheckpoint(body: Uint8Array | string): Promise<string> {
    let request: ParsedAddCheckpointRequest
    try {
      request = parseAddCheckpointRequest(body)
    } catch (cause) {
      throw new WitnessError('MALFORMED_REQUEST', `malformed request: ${(cause as Error).message}`, { cause })
    }
    const { origin, size } = request.checkpoint
    const trusted = this.verifiers.get(origin)
    if (trusted === undefined)
      throw new WitnessError('UNKNOWN_LOG', `unknown log origin ${JSON.stringify(origin)}`)
    try {
      openNote(request.signedCheckpoint, trusted)
    } catch (cause) {
      if (
        cause instanceof TlogError &&
        (cause.code === 'BAD_SIGNATURE' || cause.code === 'NO_VERIFIED_SIGNATURE')
      ) {
        throw new WitnessError('BAD_LOG_SIGNATURE', 'no valid signature by a trusted key of the log', {
          cause,
        })
      }
      throw cause
    }
    if (request.oldSize > size) {
      throw new WitnessError(
        'MALFORMED_REQUEST',
        `old size ${request.oldSize} is above the checkpoint size ${size}`,
      )
    }
    // The body parsed, so it is valid UTF-8: the text is exactly what was sent.
    const text = typeof body === 'string' ? body : new TextDecoder().decode(body)
    return this.withLock(origin, () => this.decide(request, text))
  }

  /** The latest cosigned state of `origin`; undefined when it never cosigned one (then size 0 is assumed). */
  async state(origin: string): Promise<LogState | undefined> {
    return this.store.readState(origin)
  }

  private async decide(request: ParsedAddCheckpointRequest, body: string): Promise<string> {
    const { origin, size, root } = request.checkpoint
    const stored = await this.store.readState(origin)
    const current = stored ?? { size: 0n, root: EMPTY_ROOT, checkpoint: '' }
    // tlog-witness: a log-signed request that fails the checks "might be proof of log misbehavior".
    const evidence = (reason: 'bad-proof' | 'root-conflict') => this.store.writeEvidence(origin, reason, body)
    if (request.oldSize !== current.size) {
      throw new WitnessError(
        'SIZE_CONFLICT',
        `old size ${request.oldSize} is not the size ${current.size} last cosigned`,
        { witnessSize: current.size },
      )
    }
    if (size === 0n && !bytesEqual(root, EMPTY_ROOT)) {
      await evidence('bad-proof')
      throw new WitnessError('BAD_PROOF', 'a checkpoint of size 0 must have the empty tree root')
    }
    if (request.oldSize === size) {
      if (request.proof.length !== 0) {
        throw new WitnessError('BAD_PROOF', 'the proof between equal sizes must be empty')
      }
      if (!bytesEqual(root, current.root)) {
        // tlog-witness v1.0.0: 409 (the later draft says 422); see docs/design/witness.md.
        await evidence('root-conflict')
        throw new WitnessError('SIZE_CONFLICT', `another root hash for size ${size}`, {
          witnessSize: current.size,
        })
      }
    } else {
      try {
        verifyConsistency(request.oldSize, size, request.proof, current.root, root)
      } catch (cause) {
        if (cause instanceof TlogError && cause.code === 'PROOF_MISMATCH') {
          await evidence('bad-proof')
          throw new WitnessError('BAD_PROOF', 'the consistency proof does not verify', { cause })
        }
        throw cause
      }
    }
    const line = this.key.signer.signatureLine(request.note.text, this.clock())
    await this.store.writeState(origin, { size, root, checkpoint: request.signedCheckpoint + line })
    return line
  }

  private async withLock<T>(origin: string, task: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(origin) ?? Promise.resolve()
    const run = previous.then(task, task)
    const settled = run.then(
      () => undefined,
      () => undefined,
    )
    this.locks.set(origin, settled)
    try {
      return await run
    } finally {
      if (this.locks.get(origin) === settled) this.locks.delete(origin)
    }
  }
}

/**
 * The known logs of a parsed tlog-policy's `log` lines, grouped by origin (each vkey's name): a log may
 * have several keys (rotation). Throws WitnessError INVALID_CONFIG when there is none.
 */
export function knownLogsFromVerifierKeys(vkeys: readonly string[]): KnownLog[] {
  const byOrigin = new Map<string, string[]>()
  for (const vkey of vkeys) {
    const { name } = parseVerifierKey(vkey)
    byOrigin.set(name, [...(byOrigin.get(name) ?? []), vkey])
  }
  if (byOrigin.size === 0) throw new WitnessError('INVALID_CONFIG', 'no log to witness')
  return [...byOrigin].map(([origin, keys]) => ({ origin, keys }))
}
