// The plans PostgreSQL chooses for the sequencer's reads, on a real server: each must stay a probe per key,
// whatever the size of the log (a plan that reads a whole table gets slower with every entry logged).
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { postgresDatabase } from '../../../test/support/postgres-test.js'
import { FIND_SQL, PostgresStore } from '../src/postgres-store.js'

const ROWS = 20_000
const hex = (n: number) => n.toString(16).padStart(64, '0')

let database: Awaited<ReturnType<typeof postgresDatabase>>
let store: PostgresStore

beforeAll(async () => {
  database = await postgresDatabase()
  store = await PostgresStore.open(database.url)
  // Dedup rows of a log of ROWS entries by 16 keys (row i: key i % 16, payload i), and fresh statistics,
  // as autovacuum would have them.
  await store.pool.query(
    `INSERT INTO ledger_dedup (key_id, payload_hash, idx)
     SELECT decode(lpad(to_hex(i % 16), 64, '0'), 'hex'), decode(lpad(to_hex(i), 64, '0'), 'hex'), i
     FROM generate_series(0, $1::int - 1) AS i`,
    [ROWS],
  )
  await store.pool.query('ANALYZE ledger_dedup')
})

afterAll(async () => {
  await store.close()
  await database.drop()
})

/** A batch's worth of dedup keys: every 7th logged entry, and as many never logged. */
const keys = Array.from({ length: 1000 }, (_, i) =>
  i % 2 === 0
    ? { keyId: hex((i * 7) % 16), payloadHash: hex(i * 7) }
    : { keyId: hex(1), payloadHash: hex(ROWS + i) },
)

describe('PostgreSQL plans of the sequencer reads', () => {
  test('a dedup read of 1,000 keys probes the primary key, and reads no table whole', async () => {
    const { rows } = await store.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${FIND_SQL}`, [
      keys.length,
      Buffer.from(keys.map((k) => k.keyId).join(''), 'hex'),
      Buffer.from(keys.map((k) => k.payloadHash).join(''), 'hex'),
    ])
    const plan = rows.map((row) => row['QUERY PLAN']).join('\n')
    expect(plan).toContain('Index Scan using ledger_dedup_pkey on ledger_dedup')
    expect(plan).not.toMatch(/Seq Scan on ledger_dedup|Hash Join/)
  })

  test('the dedup read finds exactly the logged keys', async () => {
    const found = await store.findEntries(keys)
    expect(found).toEqual(keys.map((_, i) => (i % 2 === 0 ? BigInt(i * 7) : undefined)))
  })
})
