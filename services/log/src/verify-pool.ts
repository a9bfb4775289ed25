import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import {
  verifySubmission,
  type ReceiptContext,
  type VerifiedEntry,
  type VerifyOutcome,
} from './verify-core.js'

/** A request to a verify worker: many bodies packed into one transferred buffer. */
export interface VerifyRequest {
  id: number
  data: ArrayBuffer
  /** End offset of each body in `data`. */
  ends: number[]
}

/**
 * Part of a worker's answer to one VerifyRequest: the outcomes of its bodies `from`, `from + 1`, ... in
 * order. A worker answers in chunks of RESULTS_PER_MESSAGE, so that the first bodies of a large request go
 * on to be sequenced while it verifies the others; `done` marks the last chunk.
 */
export interface VerifyResponse {
  id: number
  from: number
  outcomes: WireOutcome[]
  /**
   * The bytes of every verified entry of the chunk, in one transferred buffer (one allocation, no copy on
   * the main thread): per entry its leaf, leaf hash, and receipt template head, entry fields and tail.
   */
  bytes: ArrayBuffer
  done: boolean
}

/** An outcome as it crosses threads: a verified entry's byte fields are in VerifyResponse.bytes. */
export type WireOutcome =
  | Exclude<VerifyOutcome, { ok: true }>
  | {
      ok: true
      entry: Omit<VerifiedEntry, 'leaf' | 'leafHash' | 'template'>
      at: number
      /** Byte lengths of the leaf, leaf hash, template head, entry and tail, packed in that order. */
      lengths: [number, number, number, number, number]
    }

function packedFields(entry: VerifiedEntry): Uint8Array[] {
  return [entry.leaf, entry.leafHash, entry.template.head, entry.template.entry, entry.template.tail]
}

/** Outcomes per answer message (see VerifyResponse). */
export const RESULTS_PER_MESSAGE = 8

/**
 * The nice value of verify worker threads (see verify-worker.ts). Measured on 2 cores with 64 clients
 * (`npm run bench -- log`): ingest rose by about a tenth against the default priority.
 */
export const VERIFY_THREAD_NICE = 10

/** Packs a chunk of outcomes for postMessage (the worker's side). */
export function packOutcomes(id: number, from: number, outcomes: VerifyOutcome[], done: boolean) {
  let total = 0
  for (const outcome of outcomes) {
    if (outcome.ok) for (const field of packedFields(outcome.entry)) total += field.length
  }
  const bytes = new ArrayBuffer(total)
  const view = new Uint8Array(bytes)
  let at = 0
  const wire = outcomes.map((outcome): WireOutcome => {
    if (!outcome.ok) return outcome
    const { leaf: _leaf, leafHash: _leafHash, template: _template, ...entry } = outcome.entry
    const fields = packedFields(outcome.entry)
    const start = at
    for (const field of fields) {
      view.set(field, at)
      at += field.length
    }
    const lengths = fields.map((field) => field.length) as [number, number, number, number, number]
    return { ok: true as const, entry, at: start, lengths }
  })
  const response: VerifyResponse = { id, from, outcomes: wire, bytes, done }
  return response
}

/** Unpacks one outcome of a VerifyResponse (the main thread's side): its byte fields are views of `bytes`. */
function unpack(wire: WireOutcome, bytes: ArrayBuffer): VerifyOutcome {
  if (!wire.ok) return wire
  let at = wire.at
  const [leaf, leafHash, head, entry, tail] = wire.lengths.map((length) => {
    const field = new Uint8Array(bytes, at, length)
    at += length
    return field
  }) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array]
  return { ok: true, entry: { ...wire.entry, leaf, leafHash, template: { head, entry, tail } } }
}

interface Pending {
  body: Uint8Array
  resolve: (outcome: VerifyOutcome) => void
}

interface Slot {
  worker: Worker
  batches: Map<number, Pending[]>
}

/**
 * Most bodies packed into one message: enough to amortize the message, few enough that a body does not
 * wait long behind others (measured on 2 cores with 64 clients: 64 beat 256, 16 and 8).
 */
const MAX_BODIES_PER_MESSAGE = 64
/** Messages a worker may have unanswered: two, so it never idles while its next work is on the way. */
const MAX_MESSAGES_IN_FLIGHT = 2

const TS_BOOTSTRAP = `
const { workerData } = require('node:worker_threads')
import(workerData.tsx).then((tsx) => {
  tsx.register()
  return import(workerData.entry)
})
`

const INTERNAL_FAILURE: VerifyOutcome = { ok: false, code: 'INTERNAL', message: 'verification failed' }

/**
 * Verifies submissions (signature, schemas, leaf encoding, leaf hash, receipt template: verify-core.ts)
 * off the main thread. Bodies travel in batches, many per message, since a message per submission costs a
 * good part of the verification it carries (see flush); answers come back in chunks of
 * RESULTS_PER_MESSAGE, each chunk's leaves in one transferred buffer, so that the first of a batch are
 * sequenced while the worker verifies the rest. With `workers` 0 it verifies on the main thread. `verify`
 * never rejects: failures are outcomes. A worker that dies fails its outstanding bodies with INTERNAL and
 * is replaced.
 */
export class VerifyPool {
  private readonly slots: Slot[] = []
  private queue: Pending[] = []
  private flushScheduled = false
  private helping = false
  private nextId = 1
  private closed = false

  constructor(
    private readonly workers: number,
    private readonly context: ReceiptContext,
  ) {
    for (let i = 0; i < workers; i++) this.slots.push(this.spawn())
  }

  verify(body: Uint8Array): Promise<VerifyOutcome> {
    if (this.workers === 0) return Promise.resolve(verifySubmission(body, this.context))
    return new Promise((resolve) => {
      this.queue.push({ body, resolve })
      if (!this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  /** Bodies waiting for a worker, bodies out at the workers, and the number of workers (metrics). */
  get load(): { queued: number; inFlight: number; workers: number } {
    let inFlight = 0
    for (const slot of this.slots) for (const batch of slot.batches.values()) inFlight += batch.length
    return { queued: this.queue.length, inFlight, workers: this.slots.length }
  }

  /** Terminates the workers; bodies still out are answered INTERNAL. */
  async close(): Promise<void> {
    this.closed = true
    const slots = this.slots.splice(0)
    await Promise.all(slots.map((slot) => slot.worker.terminate()))
    for (const slot of slots) this.failAll(slot)
    for (const pending of this.queue.splice(0)) pending.resolve(INTERNAL_FAILURE)
  }

  private spawn(): Slot {
    const worker = import.meta.url.endsWith('.ts')
      ? // Under vitest this module runs from its TypeScript source: load the worker's through tsx.
        new Worker(TS_BOOTSTRAP, {
          eval: true,
          workerData: {
            context: this.context,
            tsx: new URL(
              'dist/esm/api/index.mjs',
              pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json')),
            ).href,
            entry: new URL('./verify-worker.ts', import.meta.url).href,
          },
        })
      : new Worker(new URL('./verify-worker.js', import.meta.url), { workerData: { context: this.context } })
    const slot: Slot = { worker, batches: new Map() }
    worker.on('message', (response: VerifyResponse) => {
      const batch = slot.batches.get(response.id)
      if (batch === undefined) return
      if (response.done) {
        slot.batches.delete(response.id)
        // Keep the worker busy first: what queued meanwhile goes out before these results are handled.
        this.flush()
      }
      response.outcomes.forEach((outcome, i) =>
        batch[response.from + i]!.resolve(unpack(outcome, response.bytes)),
      )
      if (response.done) {
        // A worker that answered fewer outcomes than bodies is broken: do not leave anyone waiting.
        for (let i = response.from + response.outcomes.length; i < batch.length; i++) {
          batch[i]!.resolve(INTERNAL_FAILURE)
        }
      }
    })
    worker.on('error', (err) => {
      console.error('verify worker failed:', err)
    })
    worker.on('exit', () => {
      this.failAll(slot)
      const at = this.slots.indexOf(slot)
      if (at >= 0 && !this.closed) this.slots[at] = this.spawn()
    })
    // Idle workers must not keep the process alive.
    worker.unref()
    return slot
  }

  private failAll(slot: Slot): void {
    for (const batch of slot.batches.values()) for (const pending of batch) pending.resolve(INTERNAL_FAILURE)
    slot.batches.clear()
  }

  /**
   * Sends queued bodies to workers with fewer than MAX_MESSAGES_IN_FLIGHT messages out. A busy worker
   * gets nothing more until it answers: meanwhile bodies accumulate, so under load each message carries
   * many bodies and the per-message cost (serializing, waking the thread) is shared.
   */
  private flush(): void {
    this.flushScheduled = false
    if (this.slots.length === 0) {
      for (const pending of this.queue.splice(0)) pending.resolve(INTERNAL_FAILURE)
      return
    }
    while (this.queue.length > 0) {
      let slot: Slot | undefined
      for (const candidate of this.slots) {
        if (candidate.batches.size >= MAX_MESSAGES_IN_FLIGHT) continue
        if (slot === undefined || candidate.batches.size < slot.batches.size) slot = candidate
      }
      if (slot === undefined) {
        this.helpLater()
        return
      }
      const free = this.slots.filter((candidate) => candidate.batches.size < MAX_MESSAGES_IN_FLIGHT).length
      const size = Math.min(MAX_BODIES_PER_MESSAGE, Math.ceil(this.queue.length / free))
      this.send(slot, this.queue.splice(0, size))
    }
  }

  /**
   * Every worker has its next message already: the main thread verifies a body itself when it has nothing
   * else to do (setImmediate runs after pending I/O), so bursts wait less for the worker.
   */
  private helpLater(): void {
    if (this.helping) return
    this.helping = true
    setImmediate(() => {
      this.helping = false
      const pending = this.queue.shift()
      if (pending === undefined) return
      pending.resolve(verifySubmission(pending.body, this.context))
      if (this.queue.length > 0) this.helpLater()
    })
  }

  private send(slot: Slot, batch: Pending[]): void {
    let total = 0
    for (const pending of batch) total += pending.body.length
    const data = new ArrayBuffer(total)
    const view = new Uint8Array(data)
    const ends: number[] = []
    let offset = 0
    for (const pending of batch) {
      view.set(pending.body, offset)
      offset += pending.body.length
      ends.push(offset)
    }
    const id = this.nextId++
    slot.batches.set(id, batch)
    const request: VerifyRequest = { id, data, ends }
    slot.worker.postMessage(request, [data])
  }
}
