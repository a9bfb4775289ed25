// Entry point of a verify worker thread (see verify-pool.ts): verifies packed bodies, answers in chunks.
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { verifySubmission, type ReceiptContext, type VerifyOutcome } from './verify-core.js'
import { RESULTS_PER_MESSAGE, VERIFY_THREAD_NICE, packOutcomes, type VerifyRequest } from './verify-pool.js'

const { context } = workerData as { context: ReceiptContext }

/**
 * Lowers this thread's scheduling priority (Linux: a thread id is a pid to setpriority). Verifying is
 * throughput work, while every submission waits for the main thread, the log's one serial stage (HTTP,
 * sequencing, commits): when the cores are all busy, the kernel should run the main thread first.
 * Best effort: elsewhere, or when refused, nothing changes.
 */
function yieldToMainThread(nice: number): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
    if (Number.isSafeInteger(tid) && tid > 0) setPriority(tid, nice)
  } catch {
    // Not Linux, or not allowed: the default priority is still correct, only slower under load.
  }
}

yieldToMainThread(VERIFY_THREAD_NICE)

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
