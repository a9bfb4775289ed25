// Each error class answers its status and code from the one table, writes nothing (the checkpoint does
// not change, the whole log still verifies), and a 500 never echoes internals.
import { generateKeyPairSync } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, signPayload } from '@ledger/attestation'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { STATUS_BY_CODE } from '../src/errors.js'
import { LevelStore } from '../src/level-store.js'
import { startLogServer, type RunningLog } from '../src/server.js'
import type { IntegratedBatch, LogBackend } from '../src/store.js'
import {
  checkpointText,
  getBytes,
  getJSON,
  hex,
  post,
  signed,
  statement,
  tempDir,
  testConfig,
  verifyWholeLog,
  type Json,
} from './helpers.js'

let dir: { path: string; remove: () => Promise<void> }
let log: RunningLog | undefined

beforeEach(async () => {
  dir = await tempDir()
})

afterEach(async () => {
  await log?.close()
  log = undefined
  await dir.remove()
})

/** Checks status, code and body shape, and that nothing was written. */
async function expectError(
  running: RunningLog,
  act: () => Promise<{ status: number; json: Json; headers?: Headers }>,
  code: string,
): Promise<{ status: number; json: Json; headers?: Headers }> {
  const before = await checkpointText(running.url)
  const answer = await act()
  expect(answer.json?.error?.code, JSON.stringify(answer.json)).toBe(code)
  expect(answer.status).toBe(STATUS_BY_CODE[code as keyof typeof STATUS_BY_CODE])
  expect(Object.keys(answer.json)).toEqual(['error'])
  expect(typeof answer.json.error.message).toBe('string')
  expect(await checkpointText(running.url)).toBe(before)
  await verifyWholeLog(running.url, running.verifierKey)
  return answer
}

describe('submission errors', () => {
  test('400, 413, 415, 422 and 403 answer their codes and write nothing', async () => {
    const allowed = generateKeyPair()
    const allowlist = join(dir.path, 'allowlist')
    await writeFile(allowlist, `# the only admitted key\n${allowed.keyId}\n\n`)
    log = await startLogServer(testConfig(dir.path, { bodyLimit: 16 * 1024, allowlistFile: allowlist }))
    const running = log
    const good = await signed(statement([hex(1)], hex(1, 40)), allowed)

    await expectError(running, () => post(running.url, '{"bundle":'), 'MALFORMED_REQUEST')
    await expectError(
      running,
      () => post(running.url, new Uint8Array([0x7b, 0xff, 0x7d])),
      'MALFORMED_REQUEST',
    )
    await expectError(running, () => post(running.url, good.body, 'text/plain'), 'UNSUPPORTED_MEDIA_TYPE')
    await expectError(
      running,
      () => post(running.url, good.body, 'application/jsonx'),
      'UNSUPPORTED_MEDIA_TYPE',
    )
    const huge = JSON.stringify({ padding: 'x'.repeat(20 * 1024) })
    await expectError(running, () => post(running.url, huge), 'PAYLOAD_TOO_LARGE')
    // Without a Content-Length the limit holds while streaming.
    await expectError(
      running,
      async () => {
        const res = await fetch(`${running.url}/api/v1/entries`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: new ReadableStream({
            start(controller) {
              for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)))
              controller.close()
            },
          }),
          duplex: 'half',
        } as RequestInit)
        return { status: res.status, json: await res.json() }
      },
      'PAYLOAD_TOO_LARGE',
    )

    await expectError(running, () => post(running.url, JSON.stringify({ bundle: {} })), 'INVALID_SUBMISSION')
    const sig = good.bundle.dsseEnvelope.signatures[0]!
    const twoSigs = structuredClone(good.bundle)
    twoSigs.dsseEnvelope.signatures.push({ ...sig })
    await expectError(
      running,
      () => post(running.url, JSON.stringify({ bundle: twoSigs, publicKey: allowed.publicKeyPem })),
      'INVALID_SUBMISSION',
    )
    const badSig = structuredClone(good.bundle)
    const raw = Buffer.from(sig.sig, 'base64')
    raw[raw.length - 1]! ^= 1
    badSig.dsseEnvelope.signatures[0]!.sig = raw.toString('base64')
    await expectError(
      running,
      () => post(running.url, JSON.stringify({ bundle: badSig, publicKey: allowed.publicKeyPem })),
      'BAD_SIGNATURE',
    )
    const wrongType = await signPayload(
      Buffer.from(JSON.stringify({ any: 1 })),
      allowed.privateKeyPem,
      'text/plain',
    )
    await expectError(
      running,
      () => post(running.url, JSON.stringify({ bundle: wrongType, publicKey: allowed.publicKeyPem })),
      'INVALID_SUBMISSION',
    )
    const notStatement = await signPayload(Buffer.from(JSON.stringify({ any: 1 })), allowed.privateKeyPem)
    await expectError(
      running,
      () => post(running.url, JSON.stringify({ bundle: notStatement, publicKey: allowed.publicKeyPem })),
      'INVALID_STATEMENT',
    )
    const other = generateKeyPair()
    await expectError(
      running,
      () => post(running.url, JSON.stringify({ bundle: good.bundle, publicKey: other.publicKeyPem })),
      'KEY_MISMATCH',
    )
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    })
    const { createHash, createPublicKey } = await import('node:crypto')
    const rsaKeyId = createHash('sha256')
      .update(createPublicKey(rsa).export({ type: 'spki', format: 'der' }))
      .digest('hex')
    const rsaBundle = structuredClone(good.bundle)
    rsaBundle.verificationMaterial.publicKey.hint = rsaKeyId
    await expectError(
      running,
      () => post(running.url, JSON.stringify({ bundle: rsaBundle, publicKey: rsa as string })),
      'UNSUPPORTED_KEY',
    )
    const outsider = await signed(statement([hex(2)], hex(2, 40)), other)
    await expectError(running, () => post(running.url, outsider.body), 'NOT_ADMITTED')

    // After all that, the admitted key still gets in.
    expect((await post(running.url, good.body)).status).toBe(201)
    expect((await verifyWholeLog(running.url, running.verifierKey)).size).toBe(1n)
  })

  test('503 with Retry-After when the queue is full or the log is closing; queued submissions still commit', async () => {
    // A store whose commits can be held, so that the shutdown's drain lasts as long as the test needs.
    const gate: { hold?: Promise<void> } = {}
    const openStore = async (location: string): Promise<LogBackend> => {
      const inner = await LevelStore.open(location)
      return Object.assign(Object.create(inner) as LogBackend, {
        commit: async (batch: IntegratedBatch) => {
          await gate.hold
          await inner.commit(batch)
        },
      })
    }
    log = await startLogServer(testConfig(dir.path, { queueLimit: 1, batchWaitMs: 5_000 }), { openStore })
    const running = log
    const [first, second, third] = await Promise.all(
      [3, 4, 9].map((n) => signed(statement([hex(n)], hex(n, 40)))),
    )
    const waiting = post(running.url, first!.body)
    // Until the first submission is admitted: a probe with the wrong media type is admitted and answered
    // 415 while the queue (of one) is free, and refused 503 once the first holds it.
    for (;;) {
      const probe = await post(running.url, 'probe', 'text/plain')
      if (probe.status === 503) break
      expect(probe.status).toBe(415)
    }
    const full = await expectError(running, () => post(running.url, second!.body), 'OVERLOADED')
    expect(full.headers!.get('retry-after')).toBe('1')

    let release!: () => void
    gate.hold = new Promise((resolve) => (release = resolve))
    const closing = running.close()
    // While it drains, new submissions are told to come back later; reads still work.
    const late = await post(running.url, third!.body)
    expect(late.status).toBe(503)
    expect(late.json.error.code).toBe('SHUTTING_DOWN')
    expect(late.headers.get('retry-after')).toBe('1')
    expect((await fetch(`${running.url}/checkpoint`)).status).toBe(200)
    release()
    expect((await waiting).status).toBe(201)
    await closing
    log = await startLogServer(testConfig(dir.path))
    expect((await verifyWholeLog(log.url, log.verifierKey)).size).toBe(1n)
  })
})

describe('read errors', () => {
  test('404 for unknown entries, tiles and routes; 400 for malformed parameters', async () => {
    log = await startLogServer(testConfig(dir.path))
    const running = log
    expect((await post(running.url, (await signed(statement([hex(5)], hex(5, 40)))).body)).status).toBe(201)
    const get = (path: string) => () => getJSON(`${running.url}${path}`)
    const tile = (path: string) => async () => {
      const got = await getBytes(`${running.url}${path}`)
      return { status: got.status, json: JSON.parse(Buffer.from(got.bytes).toString('utf8')) }
    }
    await expectError(running, get('/api/v1/entries/1'), 'NOT_FOUND')
    await expectError(running, get('/api/v1/entries/01'), 'MALFORMED_REQUEST')
    await expectError(running, get('/api/v1/entries/-1'), 'MALFORMED_REQUEST')
    await expectError(running, get('/api/v1/entries/9007199254740992'), 'MALFORMED_REQUEST')
    await expectError(running, get('/api/v1/nothing'), 'NOT_FOUND')
    await expectError(running, get('/nothing'), 'NOT_FOUND')
    await expectError(running, tile('/tile/0/000'), 'NOT_FOUND')
    await expectError(running, tile('/tile/0/000.p/2'), 'NOT_FOUND')
    await expectError(running, tile('/tile/0/001.p/1'), 'NOT_FOUND')
    await expectError(running, tile('/tile/entries/000.p/2'), 'NOT_FOUND')
    await expectError(running, tile('/tile/x/000'), 'NOT_FOUND')
    await expectError(running, get('/api/v1/proof/inclusion?index=0&size=2'), 'SIZE_OUT_OF_RANGE')
    await expectError(running, get('/api/v1/proof/inclusion?index=1&size=1'), 'SIZE_OUT_OF_RANGE')
    await expectError(running, get('/api/v1/proof/inclusion?index=0'), 'MALFORMED_REQUEST')
    await expectError(running, get('/api/v1/proof/inclusion?index=0&size=1&size=1'), 'MALFORMED_REQUEST')
    await expectError(running, get('/api/v1/proof/consistency?from=1&to=2'), 'SIZE_OUT_OF_RANGE')
    await expectError(running, get('/api/v1/proof/consistency?from=2&to=1'), 'SIZE_OUT_OF_RANGE')
    await expectError(running, get('/api/v1/proof/consistency?from=a&to=1'), 'MALFORMED_REQUEST')
    const digest = `sha256:${hex(5)}`
    for (const query of [
      '',
      `digest=${hex(5)}`,
      `digest=sha256:${hex(0xab).toUpperCase()}`,
      `digest=${digest}&commit=${hex(5, 40)}`,
      `commit=${hex(5, 41)}`,
      `digest=${digest}&limit=0`,
      `digest=${digest}&limit=1001`,
      `digest=${digest}&limit=01`,
      `digest=${digest}&cursor=x`,
      `digest=${digest}&keyid=abc`,
      `digest=${digest}&digest=${digest}`,
      `digest=${digest}&other=1`,
    ]) {
      await expectError(running, get(`/api/v1/lookup?${query}`), 'MALFORMED_REQUEST')
    }
  })

  test('a failed commit answers 500 without internals and writes nothing; a commit that landed anyway is kept', async () => {
    let mode: 'ok' | 'fail' | 'fail-after-write' = 'ok'
    const openStore = async (location: string): Promise<LogBackend> => {
      const inner = await LevelStore.open(location)
      return Object.assign(Object.create(inner) as LogBackend, {
        commit: async (batch: IntegratedBatch) => {
          if (mode === 'fail') throw new Error('disk on fire: /secret/path')
          await inner.commit(batch)
          if (mode === 'fail-after-write') throw new Error('lost acknowledgement')
        },
      })
    }
    log = await startLogServer(testConfig(dir.path), { openStore })
    const running = log
    mode = 'fail'
    const failed = await expectError(
      running,
      async () => post(running.url, (await signed(statement([hex(6)], hex(6, 40)))).body),
      'INTERNAL',
    )
    expect(failed.json.error.message).toBe('internal error')
    expect(JSON.stringify(failed.json)).not.toContain('secret')

    mode = 'fail-after-write'
    const landed = await post(running.url, (await signed(statement([hex(7)], hex(7, 40)))).body)
    expect(landed.status).toBe(201)
    expect(landed.json.verificationMaterial.tlogEntries[0].logIndex).toBe('0')

    mode = 'ok'
    const next = await post(running.url, (await signed(statement([hex(8)], hex(8, 40)))).body)
    expect(next.json.verificationMaterial.tlogEntries[0].logIndex).toBe('1')
    expect((await verifyWholeLog(running.url, running.verifierKey)).size).toBe(2n)
  })
})
