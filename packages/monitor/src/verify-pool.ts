import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { PublicKeyInfo } from '@ledger/attestation'
import { packLeaves, verifyLeaf, type EntryOutcome } from './verify-core.js'

/** Leaves per message: enough to amortize a message, few enough to spread a chunk over the workers. */
const LEAVES_PER_MESSAGE = 256

const TS_BOOTSTRAP = `
const { workerData } = require('node:worker_threads')
import(workerData.tsx).then((tsx) => {
  tsx.register()
  return import(workerData.entry)
})
`

interface Slot {
  worker: Worker
  load: number
  pending: Map<number, { count: number; resolve: (o: EntryOutcome[]) => void; reject: (e: Error) => void }>
}

/**
 * Re-verifies leaves (verify-core.ts) on `workers` threads, in batches of up to 256 leaves per message,
 * each batch packed into one transferred buffer and sent to the least loaded thread. With 0 workers it
 * verifies on the calling thread. A worker that dies fails its batches (the pass stops; nothing is
 * indexed unverified). A worker keeps the process alive exactly while it has batches in flight.
 */
export class VerifyPool {
  private readonly slots: Slot[] = []
  private readonly keyCache = new Map<string, PublicKeyInfo>()
  private nextId = 1
  private closed = false

  constructor(workers: number) {
    for (let i = 0; i < workers; i++) this.slots.push(this.spawn())
  }

  /** Verifies every leaf; outcomes in input order. */
  async verify(leaves: readonly Uint8Array[]): Promise<EntryOutcome[]> {
    if (this.slots.length === 0) return leaves.map((leaf) => verifyLeaf(leaf, this.keyCache))
    const batches: Promise<EntryOutcome[]>[] = []
    for (let i = 0; i < leaves.length; i += LEAVES_PER_MESSAGE) {
      batches.push(this.send(leaves.slice(i, i + LEAVES_PER_MESSAGE)))
    }
    return (await Promise.all(batches)).flat()
  }

  async close(): Promise<void> {
    this.closed = true
    const slots = this.slots.splice(0)
    await Promise.all(slots.map((slot) => slot.worker.terminate()))
  }

  private send(leaves: Uint8Array[]): Promise<EntryOutcome[]> {
    const slot = this.slots.reduce((a, b) => (b.load < a.load ? b : a))
    const id = this.nextId++
    const packed = packLeaves(leaves)
    return new Promise((resolve, reject) => {
      // A worker with batches in flight keeps the process alive: the caller awaits its answer, and with
      // nothing else pending (`--once`, no health endpoint) an unref'd worker let Node exit mid-pass.
      if (slot.pending.size === 0) slot.worker.ref()
      slot.pending.set(id, { count: leaves.length, resolve, reject })
      slot.load += leaves.length
      slot.worker.postMessage({ id, ...packed }, [packed.data])
    })
  }

  private spawn(): Slot {
    const worker = import.meta.url.endsWith('.ts')
      ? // Under vitest this module runs from its TypeScript source: load the worker's through tsx.
        new Worker(TS_BOOTSTRAP, {
          eval: true,
          workerData: {
            tsx: new URL(
              'dist/esm/api/index.mjs',
              pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json')),
            ).href,
            entry: new URL('./verify-worker.ts', import.meta.url).href,
          },
        })
      : new Worker(new URL('./verify-worker.js', import.meta.url))
    const slot: Slot = { worker, load: 0, pending: new Map() }
    worker.on('message', (answer: { id: number; outcomes: EntryOutcome[] }) => {
      const pending = slot.pending.get(answer.id)
      if (pending === undefined) return
      slot.pending.delete(answer.id)
      slot.load -= pending.count
      if (slot.pending.size === 0) worker.unref()
      pending.resolve(answer.outcomes)
    })
    const failAll = (err: Error) => {
      for (const pending of slot.pending.values()) pending.reject(err)
      slot.pending.clear()
      slot.load = 0
      worker.unref()
    }
    worker.on('error', failAll)
    worker.on('exit', (code) => {
      failAll(new Error(`verify worker exited with code ${code}`))
      const at = this.slots.indexOf(slot)
      if (at >= 0 && !this.closed) this.slots[at] = this.spawn()
    })
    // An idle worker does not keep the process alive (send() refs it while it has work).
    worker.unref()
    return slot
  }
}
