// The thread of a LeafWorker (leaf-worker.ts): verifyEntryLeaf, exactly as the main thread runs it, on the
// leaves it is sent. Leaves come as one transferred buffer and their lengths; each answer is the verified
// leaf, or the error it threw as plain data (the main thread rebuilds it).
import { parentPort } from 'node:worker_threads'
import { verifyEntryLeaf, type VerifiedLeaf } from './entry.js'

/** One request: `lengths[i]` bytes of `bytes` after the previous leaves are leaf i. */
export interface LeafRequest {
  id: number
  bytes: ArrayBuffer
  lengths: number[]
}

/**
 * A verified leaf without its bytes: `spkiDer`, `payload` and `signature` are the next `lengths` bytes
 * of the response's `bytes` (one transferred buffer, rather than a copy of every buffer they sit in).
 */
export interface LeafFields {
  keyId: string
  statement: VerifiedLeaf['statement']
  keys: VerifiedLeaf['keys']
  lengths: [number, number, number]
}

/** The error a leaf threw: its class name, its code (AttestationError) and its message. */
export interface LeafFailure {
  name: string
  code?: string
  message: string
}

export type LeafOutcome = { leaf: LeafFields } | { failure: LeafFailure }

export interface LeafResponse {
  id: number
  outcomes: LeafOutcome[]
  bytes: ArrayBuffer
}

function failureOf(err: unknown): LeafFailure {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) }
  const code = (err as { code?: unknown }).code
  return { name: err.name, ...(typeof code === 'string' && { code }), message: err.message }
}

parentPort?.on('message', (request: LeafRequest) => {
  const outcomes: LeafOutcome[] = []
  const parts: Uint8Array[] = []
  let offset = 0
  for (const length of request.lengths) {
    const leaf = new Uint8Array(request.bytes, offset, length)
    offset += length
    try {
      const { keyId, statement, keys, spkiDer, payload, signature } = verifyEntryLeaf(leaf)
      parts.push(spkiDer, payload, signature)
      outcomes.push({
        leaf: { keyId, statement, keys, lengths: [spkiDer.length, payload.length, signature.length] },
      })
    } catch (err) {
      outcomes.push({ failure: failureOf(err) })
    }
  }
  const bytes = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
  let at = 0
  for (const part of parts) {
    bytes.set(part, at)
    at += part.length
  }
  parentPort!.postMessage({ id: request.id, outcomes, bytes: bytes.buffer } satisfies LeafResponse, [
    bytes.buffer,
  ])
})

// The modules are loaded: say so, so that the first page need not wait for them.
parentPort?.postMessage('ready')
