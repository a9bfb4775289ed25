// Entry point of a verify worker thread (see verify-pool.ts): verifies packed bodies, answers in chunks.
import { parentPort, workerData } from 'node:worker_threads'
import { verifySubmission, type ReceiptContext, type VerifyOutcome } from './verify-core.js'
import { RESULTS_PER_MESSAGE, packOutcomes, type VerifyRequest } from './verify-pool.js'

const { context } = workerData as { context: ReceiptContext }

parentPort!.on('message', (request: VerifyRequest) => {
  const bytes = new Uint8Array(request.data)
  let start = 0
  let from = 0
  let outcomes: VerifyOutcome[] = []
  request.ends.forEach((end, i) => {
    outcomes.push(verifySubmission(bytes.subarray(start, end), context))
    start = end
    const done = i === request.ends.length - 1
    if (done || outcomes.length === RESULTS_PER_MESSAGE) {
      const response = packOutcomes(request.id, from, outcomes, done)
      parentPort!.postMessage(response, [response.bytes])
      from = i + 1
      outcomes = []
    }
  })
})
