// Issue #12, POST /api/v1/lookup: many digests and commits in one verified batch, proven against ONE
// checkpoint, paged, with the flood rules of the single lookup; bad batches get typed 4xx and change
// nothing. Real log on loopback, real signatures, the real client.
import { join } from 'node:path'
import {
  countReproductions,
  countReproductionsBatch,
  LedgerClient,
  loadTrustPolicy,
  lookupBatch,
  type TrustPolicy,
} from '@ledger/client'
import { defaultConfig, startLogServer, type RunningLog } from '@ledger/log-server'
import { statementIndexKeys } from '@ledger/attestation'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeDir, startLog, tempDir } from './e2e-support.js'
import { postgresDatabase } from './support/postgres-test.js'
import { makeSubmissions, newRebuilder, rebuildStatement, submitAll, type Rebuilder } from './support/load.js'

const N = 40
let dir: string
let log: RunningLog
let rebuilders: Rebuilder[]
let policy: TrustPolicy
const digests: string[] = []
const commits: string[] = []

beforeAll(async () => {
  dir = await tempDir()
  log = await startLog(join(dir, 'log-data'))
  rebuilders = [newRebuilder(), newRebuilder('ed25519'), newRebuilder()]
  // Three rebuilders sign the same N statements: every digest has three entries, one per key.
  for (const rebuilder of rebuilders) {
    const results = await submitAll(log.url, await makeSubmissions(rebuilder, 'batch', 0, N), 8)
    expect(results.every((r) => r.status === 201)).toBe(true)
  }
  for (let n = 0; n < N; n++) {
    const keys = statementIndexKeys(rebuildStatement('batch', n))
    digests.push(keys.digests[0]!)
    commits.push(keys.commits[0]!)
  }
  policy = loadTrustPolicy(
    JSON.stringify({
      log: { origin: 'e2e.example/log', verifierKey: log.verifierKey },
      parties: [
        { name: 'a', keys: [rebuilders[0]!.keyId] },
        { name: 'b', keys: [rebuilders[1]!.keyId] },
      ],
      threshold: 2,
    }),
  )
}, 120_000)

afterAll(async () => {
  await log?.close()
  await removeDir(dir)
})

const client = () => LedgerClient.fromPolicy(log.url, policy)
const unknownDigest = `sha512:${'ab'.repeat(64)}`

describe('POST /api/v1/lookup', () => {
  it('answers every digest and commit against one checkpoint, across pages, as the single lookups do', async () => {
    const c = client()
    const answer = await lookupBatch(c, { digests: [...digests, unknownDigest], commits, limit: 7 })
    expect(answer.digests.size).toBe(N + 1)
    expect(answer.commits.size).toBe(N)
    for (const digest of digests) {
      const got = answer.digests.get(digest)!
      expect(got.total).toBe(3)
      expect(new Set(got.entries.map((e) => e.keyId))).toEqual(new Set(rebuilders.map((r) => r.keyId)))
      const single = await c.lookupAll({ digest })
      expect(got.entries.map((e) => e.index)).toEqual(single.entries.map((e) => e.index))
    }
    expect(answer.digests.get(unknownDigest)).toEqual({ total: 0, entries: [], skipped: false })
    for (const commit of commits) expect(answer.commits.get(commit)!.total).toBe(3)
  })

  it('sends an entry named by several keys of one page once', async () => {
    const response = await fetch(`${log.url}/api/v1/lookup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ digests: digests.slice(0, 5), commits: commits.slice(0, 5) }),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8')
    const bytes = Buffer.from(await response.arrayBuffer())
    const body = JSON.parse(bytes.toString('utf8')) as {
      checkpoint: string
      results: { indexes: number[] }[]
      entries: { index: number }[]
    }
    expect(body.results.flatMap((r) => r.indexes)).toHaveLength(30)
    expect(body.entries).toHaveLength(15)
    // The checkpoint's em dashes travel escaped (\u2014): the answer is pure ASCII, the same JSON value.
    expect(body.checkpoint).toBe(log.servedCheckpoint())
    expect(body.checkpoint).toContain('\u2014')
    expect(bytes.every((byte) => byte < 0x80)).toBe(true)
  })

  it('filters by key id while reporting the unfiltered total', async () => {
    const answer = await lookupBatch(client(), { digests, keyIds: [rebuilders[1]!.keyId], limit: 10 })
    for (const digest of digests) {
      const got = answer.digests.get(digest)!
      expect(got.total).toBe(3)
      expect(got.entries.map((e) => e.keyId)).toEqual([rebuilders[1]!.keyId])
    }
  })

  it('the flood rule: keys with more matches than maxTotal come back with their total alone', async () => {
    const answer = await lookupBatch(client(), {
      digests: [...digests.slice(0, 4), unknownDigest],
      maxTotal: 2,
    })
    for (const digest of digests.slice(0, 4))
      expect(answer.digests.get(digest)).toEqual({ total: 3, entries: [], skipped: true })
    expect(answer.digests.get(unknownDigest)).toEqual({ total: 0, entries: [], skipped: false })
  })

  it('entries the client holds (have) are listed, not sent again', async () => {
    const c = client()
    const first = await lookupBatch(c, { digests: digests.slice(0, 2) })
    const held = new Map(first.digests.get(digests[0]!)!.entries.map((e) => [e.index, e]))
    const response = await fetch(`${log.url}/api/v1/lookup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        digests: digests.slice(0, 2),
        size: Number(first.checkpoint.checkpoint.size),
        have: [...held.keys()].map(Number),
      }),
    })
    const body = (await response.json()) as {
      checkpoint?: string
      entries: { index: number }[]
      results: unknown[]
    }
    expect(body.checkpoint).toBeUndefined()
    expect(body.results).toHaveLength(2)
    expect(body.entries.map((e) => e.index)).toEqual(
      first.digests.get(digests[1]!)!.entries.map((e) => Number(e.index)),
    )
    const again = await lookupBatch(
      c,
      { digests: digests.slice(0, 2) },
      { checkpoint: first.checkpoint, have: held },
    )
    expect(again.digests.get(digests[0]!)!.entries).toEqual(first.digests.get(digests[0]!)!.entries)
  })

  it('a batch pinned to a checkpoint answers about its tree, even after the log grew', async () => {
    const c = client()
    const first = await lookupBatch(c, { digests: digests.slice(0, 3) })
    const more = await submitAll(log.url, await makeSubmissions(newRebuilder(), 'batch', 0, 3), 3)
    expect(more.every((r) => r.status === 201)).toBe(true)
    const pinned = await lookupBatch(c, { digests: digests.slice(0, 3) }, { checkpoint: first.checkpoint })
    expect(pinned.checkpoint).toBe(first.checkpoint)
    for (const digest of digests.slice(0, 3)) expect(pinned.digests.get(digest)!.total).toBe(3)
    const fresh = await lookupBatch(client(), { digests: digests.slice(0, 3) })
    for (const digest of digests.slice(0, 3)) expect(fresh.digests.get(digest)!.total).toBe(4)
  })

  it('countReproductionsBatch gives, for every query, what countReproductions gives', async () => {
    const queries = digests
      .slice(0, 12)
      .map((digest, i) => ({ digest, ...(i % 3 === 0 && { commit: commits[i] }) }))
    const batch = await countReproductionsBatch({ client: client(), policy, queries, pageSize: 5 })
    expect(batch.answers).toHaveLength(queries.length)
    for (const [i, query] of queries.entries()) {
      const single = await countReproductions({ client: client(), policy, ...query })
      const answer = batch.answers[i]!
      expect(answer.checkpoint).toBe(batch.checkpoint)
      expect({ ...answer, checkpoint: '' }).toEqual({ ...single, checkpoint: '' })
      expect(answer.count).toBe(2)
      expect(answer.unknown.count).toBeGreaterThanOrEqual(1)
    }
  })

  it('GET lookups of a popular digest: the same bytes while the tree stays, a new answer once it grows', async () => {
    const path = `${log.url}/api/v1/lookup?digest=${digests[5]!}`
    const first = await (await fetch(path)).text()
    expect(await (await fetch(path)).text()).toBe(first)
    const more = await submitAll(log.url, await makeSubmissions(newRebuilder(), 'batch', 5, 6), 1)
    expect(more[0]!.status).toBe(201)
    const after = JSON.parse(await (await fetch(path)).text()) as { total: number; checkpoint: string }
    expect(after.total).toBe((JSON.parse(first) as { total: number }).total + 1)
    expect(after.checkpoint).toBe(log.servedCheckpoint())
    await expect(client().lookupAll({ digest: digests[5]! })).resolves.toMatchObject({ total: after.total })
  })

  const bad: [string, number, string, unknown, string?][] = [
    ['not JSON', 400, 'MALFORMED_REQUEST', '{"digests": ['],
    ['an array', 400, 'MALFORMED_REQUEST', []],
    ['an unknown field', 400, 'MALFORMED_REQUEST', { digests: [unknownDigest], extra: 1 }],
    ['no keys', 400, 'MALFORMED_REQUEST', { digests: [], commits: [] }],
    [
      '1,001 keys',
      400,
      'MALFORMED_REQUEST',
      { digests: Array.from({ length: 1001 }, (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`) },
    ],
    ['an uppercase digest', 400, 'MALFORMED_REQUEST', { digests: [`sha256:${'AB'.repeat(32)}`] }],
    ['a sha1 digest', 400, 'MALFORMED_REQUEST', { digests: [`sha1:${'ab'.repeat(20)}`] }],
    [
      'an SRI digest',
      400,
      'MALFORMED_REQUEST',
      { digests: [`sha512-${Buffer.alloc(64).toString('base64')}`] },
    ],
    ['a repeated digest', 400, 'MALFORMED_REQUEST', { digests: [unknownDigest, unknownDigest] }],
    ['a short commit', 400, 'MALFORMED_REQUEST', { commits: ['ab'.repeat(19)] }],
    ['digests not a list', 400, 'MALFORMED_REQUEST', { digests: unknownDigest }],
    [
      '101 key ids',
      400,
      'MALFORMED_REQUEST',
      { digests: [unknownDigest], keyids: Array(101).fill('ab'.repeat(32)) },
    ],
    ['a bad key id', 400, 'MALFORMED_REQUEST', { digests: [unknownDigest], keyids: ['AB'.repeat(32)] }],
    ['limit 0', 400, 'MALFORMED_REQUEST', { digests: [unknownDigest], limit: 0 }],
    ['limit 1001', 400, 'MALFORMED_REQUEST', { digests: [unknownDigest], limit: 1001 }],
    ['limit as a string', 400, 'MALFORMED_REQUEST', { digests: [unknownDigest], limit: '5' }],
    ['a cursor past the keys', 400, 'MALFORMED_REQUEST', { digests: [unknownDigest], cursor: '1.0' }],
    ['a malformed cursor', 400, 'MALFORMED_REQUEST', { digests: [unknownDigest], cursor: '0.-1' }],
    ['size 0', 400, 'MALFORMED_REQUEST', { digests: [unknownDigest], size: 0 }],
    ['have without size', 400, 'MALFORMED_REQUEST', { digests: [unknownDigest], have: [0] }],
    ['have past the tree', 400, 'MALFORMED_REQUEST', { digests: [unknownDigest], size: 1, have: [1] }],
    ['have not a list', 400, 'MALFORMED_REQUEST', { digests: [unknownDigest], size: 1, have: 0 }],
    ['a negative maxTotal', 400, 'MALFORMED_REQUEST', { digests: [unknownDigest], maxTotal: -1 }],
    ['a size above the log', 400, 'SIZE_OUT_OF_RANGE', { digests: [unknownDigest], size: 1e12 }],
    ['a text body', 415, 'UNSUPPORTED_MEDIA_TYPE', { digests: [unknownDigest] }, 'text/plain'],
    ['a body over 256 KiB', 413, 'PAYLOAD_TOO_LARGE', { digests: [unknownDigest], pad: 'x'.repeat(300_000) }],
  ]
  it.each(bad)('refuses %s: %i %s, and nothing changes', async (_label, status, code, body, type) => {
    const before = await (await fetch(`${log.url}/checkpoint`)).text()
    const response = await fetch(`${log.url}/api/v1/lookup`, {
      method: 'POST',
      headers: { 'content-type': type ?? 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
    expect(response.status).toBe(status)
    const json = (await response.json()) as { error: { code: string; message: string } }
    expect(json.error.code).toBe(code)
    expect(typeof json.error.message).toBe('string')
    expect(await (await fetch(`${log.url}/checkpoint`)).text()).toBe(before)
  })

  it('a query parameter on the batch is refused', async () => {
    const response = await fetch(`${log.url}/api/v1/lookup?digest=${unknownDigest}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ digests: [unknownDigest] }),
    })
    expect(response.status).toBe(400)
  })
})

describe('POST /api/v1/lookup on PostgreSQL', () => {
  it('answers a batch from the same storage contract, proven against one checkpoint', async () => {
    const database = await postgresDatabase()
    const pgDir = await tempDir()
    const pgLog = await startLogServer({
      ...defaultConfig(),
      dataDir: join(pgDir, 'data'),
      store: database.url,
      host: '127.0.0.1',
      port: 0,
      origin: 'pg.example/log',
      verifyWorkers: 0,
      batchWaitMs: 1,
    })
    try {
      const signers = [newRebuilder(), newRebuilder('ed25519')]
      for (const rebuilder of signers) {
        const results = await submitAll(pgLog.url, await makeSubmissions(rebuilder, 'pg', 0, 5), 5)
        expect(results.every((r) => r.status === 201)).toBe(true)
      }
      const pgPolicy = loadTrustPolicy(
        JSON.stringify({
          log: { origin: 'pg.example/log', verifierKey: pgLog.verifierKey },
          parties: signers.map((r, i) => ({ name: `p${i}`, keys: [r.keyId] })),
          threshold: 2,
        }),
      )
      const queries = Array.from({ length: 5 }, (_, n) => ({
        digest: statementIndexKeys(rebuildStatement('pg', n)).digests[0]!,
      }))
      const batch = await countReproductionsBatch({
        client: LedgerClient.fromPolicy(pgLog.url, pgPolicy),
        policy: pgPolicy,
        queries,
        pageSize: 3,
      })
      expect(batch.answers.map((a) => [a.count, a.ok])).toEqual(Array(5).fill([2, true]))
    } finally {
      await pgLog.close()
      await database.drop()
      await removeDir(pgDir)
    }
  }, 120_000)
})
