// The verify pool's workers: the same outcomes as verifying on the main thread, and a lower scheduling
// priority than the main thread (Linux), so that under load the kernel runs the serial stage first.
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { signStatement, generateKeyPair } from '@ledger/attestation'
import { verifySubmission } from '../src/verify-core.js'
import { VERIFY_THREAD_NICE, VerifyPool } from '../src/verify-pool.js'
import { hex, statement } from './helpers.js'

const context = { marker: 'verify-pool-test-marker-7c1d', logIdB64: Buffer.alloc(32, 9).toString('base64') }

/** The nice value of each thread of this process (field 19 of /proc/self/task/<tid>/stat). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
  })
}

/** The value with every byte array as hex, so Buffers and Uint8Array views of the same bytes compare equal. */
function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value))
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')
  if (Array.isArray(value)) return value.map(plain)
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, plain(field)]))
  }
  return value
}

describe('VerifyPool', () => {
  test('a worker answers what the main thread answers, for good and bad bodies', async () => {
    const pool = new VerifyPool(1, context)
    try {
      const key = generateKeyPair('ecdsa-p256')
      const bundle = await signStatement(statement([hex(1)], hex(1, 40)), key.privateKeyPem)
      const good = new TextEncoder().encode(JSON.stringify({ bundle, publicKey: key.publicKeyPem }))
      const bad = new TextEncoder().encode(JSON.stringify({ bundle, publicKey: 'no key' }))
      const inWorker = await Promise.all([pool.verify(good), pool.verify(bad)])
      const onMain = [verifySubmission(good, context), verifySubmission(bad, context)]
      expect(inWorker[0]!.ok).toBe(true)
      expect(inWorker[1]!.ok).toBe(false)
      expect(plain(inWorker)).toEqual(plain(onMain))
    } finally {
      await pool.close()
    }
  })

  test.runIf(process.platform === 'linux')(
    'its worker threads run at a lower priority than the main thread',
    async () => {
      const before = threadNices().filter((nice) => nice === VERIFY_THREAD_NICE).length
      const pool = new VerifyPool(2, context)
      try {
        // A body answered by each worker means both have started.
        await Promise.all(Array.from({ length: 64 }, () => pool.verify(new TextEncoder().encode('{}'))))
        expect(VERIFY_THREAD_NICE).toBeGreaterThan(0)
        expect(threadNices().filter((nice) => nice === VERIFY_THREAD_NICE).length - before).toBe(2)
        expect(Number(readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ')[16])).toBe(0)
      } finally {
        await pool.close()
      }
    },
  )
})
