// Health, metrics and the status page of a log on PostgreSQL with two processes: one sequences, the other
// follows and forwards its submissions through the queue; each says which it is, and each counts its own.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildStatement, generateKeyPair, signStatement } from '@ledger/attestation'
import { defaultConfig as logDefaults, startLogServer, type RunningLog } from '@ledger/log-server'
import { postgresDatabase } from './support/postgres-test.js'
import { parsePrometheusText, sampleValue } from './support/prometheus.js'

const ORIGIN = 'operate-pg.example/log'
const COUNT = 3
let dir: string
let database: Awaited<ReturnType<typeof postgresDatabase>>
let first: RunningLog
let second: RunningLog

async function metrics(log: RunningLog) {
  return parsePrometheusText(await (await fetch(`${log.url}/metrics`)).text())
}

async function ready(log: RunningLog): Promise<Record<string, unknown>> {
  const res = await fetch(`${log.url}/readyz`)
  expect(res.status).toBe(200)
  return (await res.json()) as Record<string, unknown>
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'operate-pg-'))
  database = await postgresDatabase()
  const config = {
    ...logDefaults(),
    dataDir: join(dir, 'log'),
    store: database.url,
    port: 0,
    origin: ORIGIN,
    verifyWorkers: 0,
  }
  // The first process takes the sequencing lock; the second, on the same key, follows.
  first = await startLogServer(config)
  second = await startLogServer(config)
})

afterAll(async () => {
  await second?.close()
  await first?.close()
  await database?.drop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('a PostgreSQL log of two processes, operated', () => {
  it('each process says whether it sequences, counts its own submissions, and shows the log', async () => {
    expect(await ready(first)).toMatchObject({ ready: true, store: 'ok', sequencer: 'sequencing' })
    expect(await ready(second)).toMatchObject({ ready: true, store: 'ok', sequencer: 'following' })

    const rebuilder = generateKeyPair('ed25519')
    for (let n = 0; n < COUNT; n++) {
      const statement = buildStatement({
        artifacts: [{ name: `pg-${n}.tgz`, sha256: (n + 1).toString(16).padStart(64, 'a') }],
        source: { uri: 'git+https://github.com/example/pg', commit: 'fe'.repeat(20) },
        builderId: 'https://rebuilder.example/pg',
      })
      const bundle = await signStatement(statement, rebuilder.privateKeyPem)
      // To the follower: its answer waits for the sequencer's commit.
      const res = await fetch(`${second.url}/api/v1/entries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ bundle, publicKey: rebuilder.publicKeyPem }),
      })
      expect(res.status).toBe(201)
      await res.arrayBuffer()
    }

    const follower = await metrics(second)
    expect(sampleValue(follower, 'ledger_log_submissions_total', { code: 'CREATED' })).toBe(COUNT)
    // The follower committed nothing itself.
    expect(sampleValue(follower, 'ledger_log_batch_entries_count')).toBe(0)
    expect(sampleValue(follower, 'ledger_log_index_keys_written_total')).toBe(0)
    const sequencer = await metrics(first)
    expect(sampleValue(sequencer, 'ledger_log_batch_entries_sum')).toBe(COUNT)
    expect(sampleValue(sequencer, 'ledger_log_index_keys_written_total')).toBe(2 * COUNT)
    expect(sampleValue(sequencer, 'ledger_log_tree_size', { checkpoint: 'committed' })).toBe(COUNT)
    expect(sequencer.get('ledger_log_submissions_total')!.samples).toEqual([])

    // The follower's status page shows the log it serves, from the database.
    const page = await (await fetch(`${second.url}/`, { headers: { accept: 'text/html' } })).text()
    expect(page).toContain(`<td id="tree-size">${COUNT}</td>`)
    for (let n = 0; n < COUNT; n++) expect(page).toContain(`pg-${n}.tgz`)
  })
})
