import {
  ADD_CHECKPOINT_PATH,
  addSignatures,
  openCheckpoint,
  parseCosignatureVerifierKey,
  requestCosignature,
  verifyConsistency,
  type CosignatureVerifier,
  type Hash,
  type NoteVerifier,
  type WitnessHttpAnswer,
} from '@ledger/tlog'
import { LogServerError } from './errors.js'
import type { TreeHead } from './log-tree.js'
import type { WitnessedStore } from './store.js'

/** A witness the log asks to cosign its checkpoints: where (its tlog-witness submission prefix), and its key. */
export interface WitnessEndpoint {
  /** http(s) URL; requests go to `<url>/add-checkpoint`. */
  url: string
  /** The witness's cosignature/v1 verifier key string (`name+id+base64(0x04 || key)`). */
  verifierKey: string
}

/** How the log reaches a witness: one POST. Tests pass their own; the default is fetch. */
export type WitnessPost = (url: string, body: string, signal: AbortSignal) => Promise<WitnessHttpAnswer>

export type { WitnessedStore }

export interface WitnessingOptions {
  witnesses: readonly WitnessEndpoint[]
  /** Distinct witnesses whose cosignatures make a checkpoint served; 1..witnesses.length. */
  quorum: number
  /** Longest one exchange with a witness may take (both requests of a 409 retry), ms. */
  timeoutMs: number
  /** The log's note verifier (its own key), to check the stored witnessed checkpoint on start. */
  logVerifier: NoteVerifier
  store: WitnessedStore
  /** RFC 6962 consistency proof between two committed sizes, from the log's own tiles. */
  consistencyProof(from: bigint, to: bigint): Promise<Hash[]>
  post?: WitnessPost
  /** Told of every exchange with a witness and how it ended (metrics); must not throw. */
  observer?: WitnessingObserver
  /** Where refusals and failures are reported (default console.error). */
  report?: (message: string) => void
  /**
   * Freshness: when no newer checkpoint came for this long (ms) since the served one was cosigned, the
   * witnesses are asked to cosign it again (same size, new time), so that clients with a maximum
   * checkpoint age keep accepting an idle log. 0 or undefined: never.
   */
  refreshMs?: number
}

/** How one exchange with a witness ended: a cosignature, a refusal (4xx), a failure, or no answer in time. */
export type WitnessExchangeResult = 'cosigned' | 'refused' | 'failed' | 'timeout'

export interface WitnessingObserver {
  exchanged(witness: string, result: WitnessExchangeResult, seconds: number): void
}

interface Witness {
  slot: number
  url: string
  verifier: CosignatureVerifier
  /** The size this witness last cosigned for us, as far as we know (0 after a restart: its 409 tells). */
  size: bigint
  busy: boolean
  /** Size of the checkpoint it was last asked about. */
  asked: bigint | undefined
  /** After a failure or refusal: not asked again before this time (ms since the epoch). */
  retryAt: number
  controller: AbortController | undefined
  /** The last failure reported, so that a witness that stays down is reported once, not per round. */
  lastProblem: string | undefined
}

/** Cosignatures gathered for one checkpoint. */
interface Gathered {
  head: TreeHead
  /** Signature line (with its newline) per witness slot. */
  lines: Map<number, string>
  /** Slots that answered (cosigned, refused, failed or timed out) for this checkpoint. */
  answered: Set<number>
}

/**
 * After a failed or refused exchange, a witness is left alone for max(timeoutMs, 1 s): a witness that is
 * down is not hammered with a request per checkpoint, and one that refuses is asked again now and then.
 */
const MIN_RETRY_MS = 1000
/** Rounds whose partial cosignatures are kept, for witnesses that answer late. */
const REMEMBERED_ROUNDS = 16

function problem(message: string): LogServerError {
  return new LogServerError('INVALID_CONFIG', message)
}

/**
 * The log's side of C2SP tlog-witness (DESIGN §9): after each commit the log's checkpoint goes to every
 * configured witness, in parallel, each exchange bounded by `timeoutMs`; nothing here ever delays a commit
 * or a receipt. One request per witness is in flight at a time. Witnesses are asked in rounds: a round's
 * checkpoint is the newest when the round starts, and every witness is asked about that one (a witness
 * that is still busy joins when it is free), so that a quorum can gather on one checkpoint however
 * differently the witnesses answer; a new round starts when the quorum is reached or every witness has
 * answered (or is waiting to be asked again), if a newer checkpoint exists. A witness whose exchange failed
 * or was refused is asked again, about the current round, after max(timeoutMs, 1 s). Each witness's last
 * cosigned size is kept in memory (0 after a restart: requestCosignature then learns it from the
 * witness's 409).
 *
 * What is served (`served`): the newest checkpoint whose cosignatures reached the quorum, with them. It is
 * written to the store (synced) before it is served, so a restart serves it again, and it only moves
 * forward. Before any checkpoint of this data directory reached the quorum with the configured witnesses,
 * the checkpoint current at start is served, without cosignatures: readers that require none keep working,
 * and the first round is about that very checkpoint, so the served tree never moves back.
 */
export class Witnessing {
  private readonly witnesses: Witness[]
  private readonly gathered = new Map<bigint, Gathered>()
  private newest: TreeHead
  private target: TreeHead | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private retryAt = 0
  private persisting: Promise<void> = Promise.resolve()
  private waiters: { size: bigint; wake: (head: TreeHead | undefined) => void; timer: NodeJS.Timeout }[] = []
  private closed = false
  private refreshTimer: NodeJS.Timeout | undefined
  /** The size of the served checkpoint being cosigned again (refresh), until it is. */
  private refreshing: bigint | undefined
  private readonly post: WitnessPost
  private readonly report: (message: string) => void

  private constructor(
    private readonly options: WitnessingOptions,
    private current: TreeHead,
    /** Witness slots whose cosignatures `current` carries. */
    private currentSlots: Set<number>,
    head: TreeHead,
  ) {
    this.witnesses = options.witnesses.map((endpoint, slot) => ({
      slot,
      url: endpoint.url.replace(/\/+$/, '') + ADD_CHECKPOINT_PATH,
      verifier: parseCosignatureVerifierKey(endpoint.verifierKey),
      size: 0n,
      busy: false,
      asked: undefined,
      retryAt: 0,
      controller: undefined,
      lastProblem: undefined,
    }))
    this.newest = head
    this.post = options.post ?? fetchPost
    this.report = options.report ?? ((message) => console.error(message))
  }

  /**
   * Starts witnessing a log whose committed head is `head`. Reads the stored witnessed checkpoint: it is
   * served when it is a checkpoint of this log (signature, origin), consistent with `head`, and still
   * carries the quorum of the configured witnesses; otherwise `head` is served until a quorum gathers.
   * Throws LogServerError INVALID_CONFIG for a bad witness list or quorum, DATA_MISMATCH for a stored
   * witnessed checkpoint that is not one of this log's checkpoints of this tree.
   */
  static async open(options: WitnessingOptions, head: TreeHead): Promise<Witnessing> {
    const verifiers = options.witnesses.map((w) => {
      try {
        return parseCosignatureVerifierKey(w.verifierKey)
      } catch (cause) {
        throw new LogServerError('INVALID_CONFIG', `witness key ${w.verifierKey} is not a cosignature key`, {
          cause,
        })
      }
    })
    if (verifiers.length === 0) throw problem('witnessing needs at least one witness')
    if (!Number.isSafeInteger(options.quorum) || options.quorum < 1 || options.quorum > verifiers.length) {
      throw problem(`witness quorum ${options.quorum} is not in 1..${verifiers.length}`)
    }
    const stored = await loadWitnessed(options, verifiers, head)
    const served = stored?.head ?? head
    const slots = stored?.slots ?? new Set<number>()
    const witnessing = new Witnessing(options, served, slots, head)
    witnessing.advance()
    // A stored checkpoint's cosignatures may be old already: refreshed at once when nothing newer comes.
    if (stored !== undefined) witnessing.scheduleRefresh(0)
    return witnessing
  }

  /** The checkpoint to serve: the newest that reached the quorum, with its cosignatures (see the class). */
  get served(): TreeHead {
    return this.current
  }

  /** Each witness's state, for status and tests. */
  status(): { url: string; size: bigint; busy: boolean }[] {
    return this.witnesses.map((w) => ({ url: w.url, size: w.size, busy: w.busy }))
  }

  /** A new committed checkpoint (from Sequencer.onCommit): free witnesses are asked at once. */
  onCheckpoint(head: TreeHead): void {
    if (head.size <= this.newest.size) return
    this.newest = head
    this.advance()
  }

  /**
   * Resolves with the served checkpoint once it covers `size` entries, or with undefined after `timeoutMs`
   * (or at close).
   */
  waitForSize(size: bigint, timeoutMs: number): Promise<TreeHead | undefined> {
    if (this.current.size >= size) return Promise.resolve(this.current)
    if (this.closed || timeoutMs <= 0) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const waiter = {
        size,
        wake: resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter)
          resolve(undefined)
        }, timeoutMs),
      }
      this.waiters.push(waiter)
    })
  }

  /** Stops: aborts requests in flight, waits for a witnessed checkpoint being saved. */
  async close(): Promise<void> {
    this.closed = true
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer)
    for (const w of this.witnesses) w.controller?.abort()
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer)
      waiter.wake(undefined)
    }
    await this.persisting
  }

  /** Plans a refresh of the served checkpoint in `delayMs` (replacing one planned). */
  private scheduleRefresh(delayMs: number): void {
    const refreshMs = this.options.refreshMs ?? 0
    if (refreshMs <= 0 || this.closed) return
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer)
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined
      this.refresh()
    }, delayMs)
    this.refreshTimer.unref()
  }

  /**
   * Asks every witness to cosign the served checkpoint again, when nothing newer is being witnessed (a
   * newer checkpoint's cosignatures refresh it anyway). The witnesses answer a checkpoint of the size they
   * cosigned last with a new cosignature (tlog-witness: same size, same root, empty proof).
   */
  private refresh(): void {
    if (this.closed) return
    const size = this.current.size
    if (this.newest.size > size || this.witnesses.some((w) => w.busy)) {
      this.scheduleRefresh(this.options.refreshMs!)
      return
    }
    this.refreshing = size
    this.gathered.delete(size)
    for (const w of this.witnesses) if (w.asked === size) w.asked = undefined
    this.target = this.newest
    this.advance()
    // Asked again later if this round gathers no quorum (witnesses down).
    this.scheduleRefresh(this.options.refreshMs!)
  }

  private quorumReached(g: Gathered): boolean {
    return g.lines.size >= this.options.quorum
  }

  /** Starts a new round when the current one is over and a newer checkpoint exists; asks free witnesses. */
  private advance(): void {
    if (this.closed) return
    const now = Date.now()
    const target = this.target
    if (target === undefined) {
      this.target = this.newest
    } else if (this.newest.size > target.size) {
      const g = this.gathered.get(target.size)
      const over =
        g === undefined ||
        this.quorumReached(g) ||
        this.witnesses.every((w) => g.answered.has(w.slot) || (!w.busy && w.retryAt > now))
      if (over) {
        this.target = this.newest
        this.forget()
      }
    }
    const round = this.target!
    const g = this.gatheredFor(round)
    let wake = Infinity
    for (const w of this.witnesses) {
      if (w.busy || g.lines.has(w.slot)) continue
      if (w.retryAt > now) {
        wake = Math.min(wake, w.retryAt)
        continue
      }
      // Asked about this round already: only a failed exchange is tried again (its wait is over).
      if (w.asked === round.size && w.lastProblem === undefined) continue
      void this.ask(w, round)
    }
    if (wake !== Infinity) this.wakeAt(wake)
  }

  /** Calls advance at `time` (ms since the epoch), or earlier if already planned. */
  private wakeAt(time: number): void {
    if (this.retryTimer !== undefined) {
      if (this.retryAt <= time) return
      clearTimeout(this.retryTimer)
    }
    this.retryAt = time
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined
        this.advance()
      },
      Math.max(0, time - Date.now()),
    )
    this.retryTimer.unref()
  }

  /**
   * Drops what older rounds gathered when it can no longer be served: nothing, or too long ago. (A late
   * cosignature for an older round still counts while its round is remembered.)
   */
  private forget(): void {
    for (const [size, g] of this.gathered) {
      if (size < this.target!.size && g.lines.size === 0) this.gathered.delete(size)
    }
    const sizes = [...this.gathered.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    for (const size of sizes.slice(0, Math.max(0, sizes.length - REMEMBERED_ROUNDS)))
      this.gathered.delete(size)
  }

  private gatheredFor(head: TreeHead): Gathered {
    let g = this.gathered.get(head.size)
    if (g === undefined) {
      g = { head, lines: new Map(), answered: new Set() }
      this.gathered.set(head.size, g)
    }
    return g
  }

  private async ask(w: Witness, head: TreeHead): Promise<void> {
    w.busy = true
    w.asked = head.size
    const controller = new AbortController()
    w.controller = controller
    const timer = setTimeout(() => controller.abort(), this.options.timeoutMs)
    let failure: string | undefined
    let result: WitnessExchangeResult = 'failed'
    const started = process.hrtime.bigint()
    try {
      const outcome = await requestCosignature({
        signedCheckpoint: head.checkpoint,
        witness: w.verifier,
        witnessSize: w.size,
        proveConsistency: (from, to) => this.options.consistencyProof(from, to),
        post: (body) => this.post(w.url, body, controller.signal),
      })
      if (outcome.kind === 'cosigned') {
        w.size = outcome.witnessSize
        result = 'cosigned'
        this.record(head, w, outcome.cosignature.line)
      } else {
        result = 'refused'
        if (outcome.witnessSize !== undefined) w.size = outcome.witnessSize
        failure = `refused with ${outcome.status} (${outcome.reason})`
        if (outcome.error !== undefined) failure += `: ${outcome.error.message}`
      }
    } catch (err) {
      if (controller.signal.aborted) result = 'timeout'
      failure = controller.signal.aborted
        ? `no answer within ${this.options.timeoutMs} ms`
        : `failed: ${(err as Error).message}`
    } finally {
      clearTimeout(timer)
      w.busy = false
      w.controller = undefined
    }
    if (this.closed) return
    this.options.observer?.exchanged(w.verifier.name, result, Number(process.hrtime.bigint() - started) / 1e9)
    // A witness that stays down or keeps refusing is reported when that starts, not on every checkpoint.
    if (failure !== undefined && failure !== w.lastProblem) {
      this.report(`witness ${w.verifier.name} (${w.url}) ${failure}, checkpoint ${head.size}`)
    } else if (failure === undefined && w.lastProblem !== undefined) {
      this.report(`witness ${w.verifier.name} (${w.url}) cosigns again, checkpoint ${head.size}`)
    }
    w.lastProblem = failure
    w.retryAt = failure === undefined ? 0 : Date.now() + Math.max(MIN_RETRY_MS, this.options.timeoutMs)
    this.gatheredFor(head).answered.add(w.slot)
    this.advance()
  }

  private record(head: TreeHead, w: Witness, line: string): void {
    const g = this.gatheredFor(head)
    g.lines.set(w.slot, line)
    if (!this.quorumReached(g)) return
    const servedSize = this.current.size
    const refresh = this.refreshing === head.size && head.size === servedSize
    // A newer checkpoint, or more cosignatures on the one served (the quorum may be fewer than all), or
    // newer ones (a refresh).
    if (
      head.size > servedSize ||
      refresh ||
      (head.size === servedSize && g.lines.size > this.currentSlots.size)
    ) {
      if (refresh) this.refreshing = undefined
      this.publish(g, refresh)
    }
  }

  /** Saves the checkpoint with its cosignatures, then serves it (unless something newer won meanwhile). */
  private publish(g: Gathered, refresh = false): void {
    const slots = new Set(g.lines.keys())
    const note = addSignatures(g.head.checkpoint, [...g.lines.values()])
    const bytes = Buffer.from(note, 'utf8')
    const head: TreeHead = { size: g.head.size, root: g.head.root, checkpoint: note, checkpointBytes: bytes }
    this.persisting = this.persisting.then(async () => {
      const current = this.current
      if (
        head.size < current.size ||
        (head.size === current.size && !refresh && slots.size <= this.currentSlots.size)
      ) {
        return
      }
      try {
        await this.options.store.writeWitnessed(bytes)
      } catch (err) {
        this.report(`saving the witnessed checkpoint ${head.size} failed: ${(err as Error).message}`)
        return
      }
      this.current = head
      this.currentSlots = slots
      this.scheduleRefresh(this.options.refreshMs ?? 0)
      for (const size of this.gathered.keys()) if (size < head.size) this.gathered.delete(size)
      const waiting = this.waiters
      this.waiters = []
      for (const waiter of waiting) {
        if (waiter.size <= head.size) {
          clearTimeout(waiter.timer)
          waiter.wake(head)
        } else {
          this.waiters.push(waiter)
        }
      }
    })
  }
}

/** The slots of `verifiers` with a valid cosignature on the (log-signed) note `text`. */
function cosignedSlots(
  text: string,
  logVerifier: NoteVerifier,
  verifiers: readonly CosignatureVerifier[],
): Set<number> {
  const slots = new Set<number>()
  const opened = openCheckpoint(text, logVerifier, { witnesses: [...verifiers], quorum: 0 })
  verifiers.forEach((v, slot) => {
    if (opened.witnessSignatures.some((sig) => sig.name === v.name && sig.keyId === v.keyId)) slots.add(slot)
  })
  return slots
}

/** POST with fetch (undici), the body as text; the answer's status, Content-Type and body. */
async function fetchPost(url: string, body: string, signal: AbortSignal): Promise<WitnessHttpAnswer> {
  const res = await fetch(url, { method: 'POST', body, signal, headers: { 'content-type': 'text/plain' } })
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? undefined,
    body: await res.text(),
  }
}

/**
 * The stored witnessed checkpoint, when it is one of this log's checkpoints (signature, origin), consistent
 * with `head`, and carries the quorum of the configured witnesses (`verifiers`, by slot); undefined when
 * there is none or it lacks the quorum (the witness list changed: reported). Throws LogServerError
 * DATA_MISMATCH for a stored checkpoint that is not one of this log's checkpoints of this tree.
 */
export async function loadWitnessed(
  options: Pick<WitnessingOptions, 'store' | 'logVerifier' | 'consistencyProof' | 'quorum' | 'report'>,
  verifiers: readonly CosignatureVerifier[],
  head: TreeHead,
): Promise<{ head: TreeHead; slots: Set<number> } | undefined> {
  const stored = await options.store.readWitnessed()
  if (stored === undefined) return undefined
  const text = Buffer.from(stored).toString('utf8')
  let checkpoint
  try {
    checkpoint = openCheckpoint(text, options.logVerifier).checkpoint
  } catch (cause) {
    throw new LogServerError('DATA_MISMATCH', 'the stored witnessed checkpoint is not signed by the log', {
      cause,
    })
  }
  if (checkpoint.size > head.size) {
    throw new LogServerError('DATA_MISMATCH', 'the stored witnessed checkpoint is ahead of the tree')
  }
  try {
    const proof = await options.consistencyProof(checkpoint.size, head.size)
    verifyConsistency(checkpoint.size, head.size, proof, checkpoint.root, head.root)
  } catch (cause) {
    throw new LogServerError('DATA_MISMATCH', 'the stored witnessed checkpoint is not of this tree', {
      cause,
    })
  }
  let cosigned: Set<number>
  try {
    cosigned = cosignedSlots(text, options.logVerifier, verifiers)
  } catch (cause) {
    throw new LogServerError('DATA_MISMATCH', 'the stored witnessed checkpoint has a bad cosignature', {
      cause,
    })
  }
  if (cosigned.size < options.quorum) {
    // The witness list changed: the old cosignatures do not make today's quorum.
    ;(options.report ?? console.error)(
      'the stored witnessed checkpoint lacks the quorum of the configured witnesses; serving the latest until it gathers',
    )
    return undefined
  }
  return {
    head: {
      size: checkpoint.size,
      root: checkpoint.root,
      checkpoint: text,
      checkpointBytes: Buffer.from(stored),
    },
    slots: cosigned,
  }
}
