// The verifiable index on a real log (--index, LevelDB): the output log under /index/, and lookups whose
// answers the client verifies as complete. The issue's hole: trusted parties alice and bob logged digest D
// from commit C, carol logged the same commit and subject with another digest; an answer that leaves out
// carol's entry must fail verification, never give a count. Answers are altered here as a lying proxy
// would alter them: an entry dropped (list and entries), another key's map proof, an older output leaf.
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildStatement, signStatement } from '@ledger/attestation'
import { ClientError, verifyIndexAnswer, verifyIndexBatchAnswer } from '@ledger/client'
import type { IndexBatchLookupAnswer } from '@ledger/vindex'
import { defaultConfig, startLogServer, type RunningLog } from '@ledger/log-server'
import { openCheckpoint, parseVerifierKey } from '@ledger/tlog'
import { newRebuilder, type Rebuilder } from './support/load.js'

const hex = (label: string) => createHash('sha256').update(label).digest('hex')
const COMMIT = hex('commit C').slice(0, 40)
const D = hex('artifact D')
const OTHER = hex('artifact D, carol')

let dir: string
let log: RunningLog
let indexKey: string
const alice = newRebuilder()
const bob = newRebuilder('ed25519')
const carol = newRebuilder()

async function start(): Promise<RunningLog> {
  return startLogServer({
    ...defaultConfig(),
    dataDir: dir,
    host: '127.0.0.1',
    port: 0,
    origin: 'index-e2e.example/log',
    verifyWorkers: 0,
    index: true,
  })
}

async function submit(
  rebuilder: Rebuilder,
  sha256: string,
  name = 'app.tgz',
  commit = COMMIT,
): Promise<void> {
  const statement = buildStatement({
    artifacts: [{ name, sha256 }],
    source: { uri: 'git+https://example.com/app', commit },
    builderId: `https://rebuilders.example/${rebuilder.keyId.slice(0, 8)}`,
  })
  const bundle = await signStatement(statement, rebuilder.privateKeyPem)
  const res = await fetch(`${log.url}/api/v1/entries`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ bundle, publicKey: rebuilder.publicKeyPem }),
  })
  expect(res.status).toBe(201)
}

async function lookup(key: string): Promise<Record<string, unknown>> {
  // The index may trail the log by a step: ask until it covers what was submitted.
  for (;;) {
    const info = (await (await fetch(`${log.url}/api/v1/log`)).json()) as { index: { trailing: number } }
    if (info.index.trailing === 0) break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const res = await fetch(`${log.url}/api/v1/index/lookup?key=${encodeURIComponent(key)}`)
  expect(res.status).toBe(200)
  return (await res.json()) as Record<string, unknown>
}

function refusal(run: () => unknown): { kind?: string } {
  try {
    run()
  } catch (err) {
    expect(err).toBeInstanceOf(ClientError)
    expect((err as ClientError).code).toBe('LOG_MISBEHAVING')
    return { kind: (err as ClientError).evidence?.kind }
  }
  throw new Error('the altered answer verified')
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ledger-index-'))
  log = await start()
  const info = (await (await fetch(`${log.url}/api/v1/log`)).json()) as { index: { verifierKey: string } }
  indexKey = info.index.verifierKey
  await submit(alice, D)
  await submit(bob, D)
  await submit(carol, OTHER)
  for (let i = 0; i < 5; i++)
    await submit(alice, hex(`other ${i}`), `other-${i}.tgz`, hex(`other commit ${i}`).slice(0, 40))
})

afterAll(async () => {
  await log?.close()
  await rm(dir, { recursive: true, force: true })
})

describe('the verifiable index', () => {
  test('the output log is served under /index/ and signed by the index key', async () => {
    const text = await (await fetch(`${log.url}/index/checkpoint`)).text()
    const opened = openCheckpoint(text, parseVerifierKey(indexKey))
    expect(opened.checkpoint.origin).toBe('index-e2e.example/log/index')
    expect(opened.checkpoint.size).toBeGreaterThan(0n)
    const tile = await fetch(`${log.url}/index/tile/0/000.p/${opened.checkpoint.size}`)
    expect(tile.status).toBe(200)
    expect((await tile.arrayBuffer()).byteLength).toBe(Number(opened.checkpoint.size) * 32)
  })

  test("a commit lists every entry from it, proven complete; carol's conflicting entry cannot be left out", async () => {
    const answer = await lookup(`commit:${COMMIT}`)
    const verified = verifyIndexAnswer(answer, `commit:${COMMIT}`, indexKey)
    expect(verified.complete).toBe(true)
    expect(verified.inputSize).toBe(8n)
    expect(verified.entries.map((e) => e.verified.keyId)).toEqual([alice.keyId, bob.keyId, carol.keyId])

    // A proxy drops carol's entry from the list and the entries: the map proof no longer holds.
    const dropped = {
      ...answer,
      indexes: (answer.indexes as number[]).slice(0, 2),
      entries: (answer.entries as unknown[]).slice(0, 2),
    }
    expect(refusal(() => verifyIndexAnswer(dropped, `commit:${COMMIT}`, indexKey)).kind).toBe('bad-proof')
    // Only the entry dropped, the list kept: named as a missing entry.
    const short = { ...answer, entries: (answer.entries as unknown[]).slice(0, 2) }
    expect(refusal(() => verifyIndexAnswer(short, `commit:${COMMIT}`, indexKey)).kind).toBe('bad-entry')
  })

  test("a digest: its entries; another key's map proof is refused; an absent digest proves absent", async () => {
    const answer = await lookup(`subject:sha256:${D}`)
    const verified = verifyIndexAnswer(answer, `subject:sha256:${D}`, indexKey)
    expect(verified.entries.map((e) => e.verified.keyId)).toEqual([alice.keyId, bob.keyId])
    const other = await lookup(`subject:sha256:${OTHER}`)
    const swapped = { ...answer, mapProof: other.mapProof }
    expect(refusal(() => verifyIndexAnswer(swapped, `subject:sha256:${D}`, indexKey)).kind).toBe('bad-proof')
    // Claiming D's answer is about another key is refused too.
    expect(refusal(() => verifyIndexAnswer(answer, `subject:sha256:${OTHER}`, indexKey)).kind).toBe(
      'bad-entry',
    )

    const none = `subject:sha256:${hex('never logged')}`
    const absent = verifyIndexAnswer(await lookup(none), none, indexKey)
    expect(absent.entries).toEqual([])
    expect(absent.complete).toBe(true)
  })

  test('an older output leaf is refused, though it is in the checkpoint', async () => {
    const before = await lookup(`subject:sha256:${D}`)
    await submit(carol, D)
    const after = await lookup(`subject:sha256:${D}`)
    expect(verifyIndexAnswer(after, `subject:sha256:${D}`, indexKey).entries).toHaveLength(3)
    // The old leaf, proven in the new checkpoint (the proof a lying index could build): not the newest.
    const stale = { ...before, checkpoint: after.checkpoint }
    expect(refusal(() => verifyIndexAnswer(stale, `subject:sha256:${D}`, indexKey)).kind).toMatch(/bad-proof/)
  })

  test('after a restart the index is rebuilt from the log and answers the same', async () => {
    const key = `commit:${COMMIT}`
    const before = verifyIndexAnswer(await lookup(key), key, indexKey)
    await log.close()
    log = await start()
    const after = verifyIndexAnswer(await lookup(key), key, indexKey)
    expect(after.mapRoot).toEqual(before.mapRoot)
    expect(after.entries.map((e) => e.index)).toEqual(before.entries.map((e) => e.index))
  })

  test('an index key without its index database is refused at start, not reused for a new history', async () => {
    const other = await mkdtemp(join(tmpdir(), 'ledger-index-lost-'))
    try {
      const config = {
        ...defaultConfig(),
        dataDir: other,
        host: '127.0.0.1',
        port: 0,
        verifyWorkers: 0,
        index: true,
      }
      await (await startLogServer(config)).close()
      await rm(join(other, 'index-db'), { recursive: true })
      await expect(startLogServer(config)).rejects.toMatchObject({ code: 'DATA_MISMATCH' })
      await expect(startLogServer(config)).rejects.toThrow(/index\.key exists but .*index-db holds no index/)
    } finally {
      await rm(other, { recursive: true, force: true })
    }
  })

  test('bad lookups are refused with 400', async () => {
    for (const query of ['', '?key=sha256:abc', '?key=subject:sha256:XYZ', `?key=commit:${COMMIT}&x=1`]) {
      const res = await fetch(`${log.url}/api/v1/index/lookup${query}`)
      expect(res.status, query).toBe(400)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('MALFORMED_REQUEST')
    }
  })

  test('POST /api/v1/index/lookup: several keys against one output leaf, each entry sent once', async () => {
    await lookup(`commit:${COMMIT}`) // the index has caught up
    const keys = [
      `commit:${COMMIT}`,
      `subject:sha256:${D}`,
      `key:${bob.keyId}`,
      `subject:sha256:${hex('none')}`,
    ]
    const res = await fetch(`${log.url}/api/v1/index/lookup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ keys }),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const answer = (await res.json()) as IndexBatchLookupAnswer
    const verified = verifyIndexBatchAnswer(answer, keys, indexKey)
    expect(verified.complete).toBe(true)
    expect(verified.results.get(`commit:${COMMIT}`)!.map((e) => e.verified.keyId)).toEqual([
      alice.keyId,
      bob.keyId,
      carol.keyId,
      carol.keyId,
    ])
    expect(verified.results.get(`subject:sha256:${hex('none')}`)).toEqual([])
    // The union, once each: bob's entry is listed under three keys and sent once.
    const listed = new Set(answer.results.flatMap((r) => r.indexes))
    expect(answer.entries.map((e) => e.index)).toEqual([...listed].sort((a, b) => a - b))
    // Asked in another order, the answer must follow it.
    expect(refusal(() => verifyIndexBatchAnswer(answer, [...keys].reverse(), indexKey)).kind).toBe(
      'bad-entry',
    )
    // A key's list shortened (and its entry kept): the map proof no longer holds.
    const shortened = {
      ...answer,
      results: answer.results.map((r, i) => (i === 0 ? { ...r, indexes: r.indexes.slice(1) } : r)),
    }
    expect(refusal(() => verifyIndexBatchAnswer(shortened, keys, indexKey)).kind).toBe('bad-proof')
  })

  test('bad batches are refused: 400 MALFORMED_REQUEST, 415, 413, and nothing else changes', async () => {
    const post = (body: string, contentType = 'application/json', path = '/api/v1/index/lookup') =>
      fetch(`${log.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body })
    const before = await (await fetch(`${log.url}/index/checkpoint`)).text()
    const key = `commit:${COMMIT}`
    for (const body of [
      'not json',
      '[]',
      '{}',
      JSON.stringify({ keys: [] }),
      JSON.stringify({ keys: key }),
      JSON.stringify({ keys: [key, key] }),
      JSON.stringify({ keys: ['sha256:abc'] }),
      JSON.stringify({ keys: [`commit:${COMMIT.toUpperCase()}`] }),
      JSON.stringify({ keys: [7] }),
      JSON.stringify({ keys: [key], limit: 1 }),
      JSON.stringify({ keys: Array.from({ length: 1001 }, (_, i) => `commit:${hex(`c${i}`).slice(0, 40)}`) }),
    ]) {
      const res = await post(body)
      expect(res.status, body.slice(0, 60)).toBe(400)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('MALFORMED_REQUEST')
    }
    const query = await post(JSON.stringify({ keys: [key] }), 'application/json', '/api/v1/index/lookup?x=1')
    expect(query.status).toBe(400)
    const media = await post(JSON.stringify({ keys: [key] }), 'text/plain')
    expect(media.status).toBe(415)
    expect(((await media.json()) as { error: { code: string } }).error.code).toBe('UNSUPPORTED_MEDIA_TYPE')
    const large = await post(JSON.stringify({ keys: [key], pad: 'x'.repeat(300 * 1024) }))
    expect(large.status).toBe(413)
    expect(((await large.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE')
    expect(await (await fetch(`${log.url}/index/checkpoint`)).text()).toBe(before)
  })
})
