// A second thread for the leaf checks of a batch (issue #12, docs/design/fast-cli.md): checking a page of
// 1,000 entries is mostly verifyEntryLeaf (leaf decoding, payload hash, DSSE signature, statement schema),
// and one thread did all of it while the log waited. A LeafWorker runs the same function on its share of
// each page in a worker_thread; what it sends back is the verified leaf, or the error, rebuilt here.
import { Worker } from 'node:worker_threads'
import { AttestationError, type AttestationErrorCode } from '@ledger/attestation/errors.js'
import type { VerifiedLeaf } from './entry.js'
import type { LeafFailure, LeafRequest, LeafResponse } from './leaf-worker-thread.js'

/** The outcome of one leaf: verified, or the error verifyEntryLeaf threw (rebuilt: same class, code, message). */
export type LeafResult = { leaf: VerifiedLeaf } | { error: Error }

/**
 * One worker thread that verifies leaves (verifyEntryLeaf) for the main thread. Start it before it is
 * needed (it loads its modules meanwhile: about as long as a round trip to a log); `verify` answers in
 * the order asked. The thread does not keep the process alive; `close` ends it. If the thread dies, every
 * pending and later `verify` rejects, and the caller checks those leaves itself.
 */
export class LeafWorker {
  private readonly worker: Worker
  private readonly pending = new Map<
    number,
    { resolve: (r: LeafResult[]) => void; reject: (e: Error) => void }
  >()
  private nextId = 0
  /** The thread has loaded its modules and answers at once. */
  ready = false
  /** Leaves the thread has answered for. */
  checked = 0
  private dead: Error | undefined

  private constructor() {
    // From src/ (tests) and from dist/ alike, the thread is the built module.
    this.worker = new Worker(new URL('../dist/leaf-worker-thread.js', import.meta.url))
    this.worker.unref()
    this.worker.on('message', (response: LeafResponse | 'ready') => {
      if (response === 'ready') {
        this.ready = true
        return
      }
      const waiting = this.pending.get(response.id)
      if (waiting === undefined) return
      this.pending.delete(response.id)
      this.checked += response.outcomes.length
      let at = 0
      const take = (length: number) => new Uint8Array(response.bytes, (at += length) - length, length)
      waiting.resolve(
        response.outcomes.map((outcome) => {
          if ('failure' in outcome) return { error: errorOf(outcome.failure) }
          const { keyId, statement, keys, lengths } = outcome.leaf
          const [spkiDer, payload, signature] = lengths.map(take) as [Uint8Array, Uint8Array, Uint8Array]
          return { leaf: { keyId, spkiDer, payload, signature, statement, keys } }
        }),
      )
    })
    const die = (err: Error) => {
      this.dead ??= err
      for (const waiting of this.pending.values()) waiting.reject(this.dead)
      this.pending.clear()
    }
    this.worker.on('error', die)
    this.worker.on('exit', (code) => die(new Error(`the leaf worker exited (code ${code})`)))
  }

  /** Starts the thread; undefined when no thread can be started here (the caller works alone). */
  static start(): LeafWorker | undefined {
    try {
      return new LeafWorker()
    } catch {
      return undefined
    }
  }

  /** Verifies `leaves` in the thread; resolves with one result per leaf, in order. */
  verify(leaves: readonly Uint8Array[]): Promise<LeafResult[]> {
    if (this.dead !== undefined) return Promise.reject(this.dead)
    const lengths = leaves.map((leaf) => leaf.byteLength)
    const bytes = new Uint8Array(lengths.reduce((a, b) => a + b, 0))
    let offset = 0
    for (const leaf of leaves) {
      bytes.set(leaf, offset)
      offset += leaf.byteLength
    }
    const id = this.nextId++
    const request: LeafRequest = { id, bytes: bytes.buffer, lengths }
    return new Promise<LeafResult[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.worker.postMessage(request, [bytes.buffer])
    })
  }

  /** Ends the thread. */
  async close(): Promise<void> {
    this.dead ??= new Error('the leaf worker is closed')
    await this.worker.terminate()
  }
}

/** The error the thread caught, as verifyEntryLeaf threw it here (what callers see: class, code, message). */
function errorOf(failure: LeafFailure): Error {
  if (failure.name === 'AttestationError' && failure.code !== undefined) {
    return new AttestationError(failure.code as AttestationErrorCode, failure.message)
  }
  const error = new Error(failure.message)
  error.name = failure.name
  if (failure.code !== undefined) Object.assign(error, { code: failure.code })
  return error
}
