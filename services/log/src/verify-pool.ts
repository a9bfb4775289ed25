import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { verifySubmission, type VerifyOutcome } from './verify-core.js'

/** A request to a verify worker: many bodies packed into one transferred buffer. */
export interface VerifyRequest {
  id: number
  data: ArrayBuffer
  /** End offset of each body in `data`. */
  ends: number[]
}

/** A worker's answer to one VerifyRequest, one outcome per body, in order. */
export interface VerifyResponse {
  id: number
  outcomes: VerifyOutcome[]
}

interface Pending {
  body: Uint8Array
  resolve: (outcome: VerifyOutcome) => void
}

interface Slot {
  worker: Worker
  batches: Map<number, Pending[]>
}

/** Most bodies packed into one message: enough to amortize the message, small enough to spread work. */
const MAX_BODIES_PER_MESSAGE = 256
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
 * Verifies submissions (signature, schemas, leaf encoding: verify-core.ts) off the main thread. Bodies
 * travel in batches, many per message, since a message per submission costs a good part of the
 * verification it carries (see flush). With `workers` 0 it verifies on the main
 * thread. `verify` never rejects: failures are outcomes. A worker that dies fails its outstanding bodies
 * with INTERNAL and is replaced.
 */
export class VerifyPool {
  private readonly slots: Slot[] = []
  private queue: Pending[] = []
  private flushScheduled = false
  private nextId = 1
  private closed = false

  constructor(
    private readonly workers: number,
    private readonly marker: string,
  ) {
    for (let i = 0; i < workers; i++) this.slots.push(this.spawn())
  }

  verify(body: Uint8Array): Promise<VerifyOutcome> {
    if (this.workers === 0) return Promise.resolve(verifySubmission(body, this.marker))
    return new Promise((resolve) => {
      this.queue.push({ body, resolve })
      if (!this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(() => this.flush())
      }
    })
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
            marker: this.marker,
            tsx: new URL(
              'dist/esm/api/index.mjs',
              pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json')),
            ).href,
            entry: new URL('./verify-worker.ts', import.meta.url).href,
          },
        })
      : new Worker(new URL('./verify-worker.js', import.meta.url), { workerData: { marker: this.marker } })
    const slot: Slot = { worker, batches: new Map() }
    worker.on('message', (response: VerifyResponse) => {
      const batch = slot.batches.get(response.id)
      if (batch === undefined) return
      slot.batches.delete(response.id)
      // Keep the worker busy first: what queued meanwhile goes out before these results are handled.
      this.flush()
      batch.forEach((pending, i) => pending.resolve(response.outcomes[i] ?? INTERNAL_FAILURE))
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
      if (slot === undefined) return
      const free = this.slots.filter((candidate) => candidate.batches.size < MAX_MESSAGES_IN_FLIGHT).length
      const size = Math.min(MAX_BODIES_PER_MESSAGE, Math.ceil(this.queue.length / free))
      this.send(slot, this.queue.splice(0, size))
    }
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
