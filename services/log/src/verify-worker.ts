// Entry point of a verify worker thread (see verify-pool.ts): verifies packed bodies, answers in one message.
import { parentPort, workerData } from 'node:worker_threads'
import { verifySubmission } from './verify-core.js'
import type { VerifyRequest, VerifyResponse } from './verify-pool.js'

const { marker } = workerData as { marker: string }

parentPort!.on('message', (request: VerifyRequest) => {
  const bytes = new Uint8Array(request.data)
  let start = 0
  const outcomes = request.ends.map((end) => {
    const outcome = verifySubmission(bytes.subarray(start, end), marker)
    start = end
    return outcome
  })
  const response: VerifyResponse = { id: request.id, outcomes }
  parentPort!.postMessage(response)
})
