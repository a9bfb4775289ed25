// The plans PostgreSQL chooses for the sequencer's reads, on a real server: each must stay a probe per key,
// whatever the size of the log (a plan that reads a whole table gets slower with every entry logged).
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { postgresDatabase } from '../../../test/support/postgres-test.js'
import {
  COUNTS_SQL,
  FILL_DEDUP_SQL,
  FILL_VALUES_SQL,
  FIND_SQL,
  LOOKUP_BY_KEYS_SQL,
  LOOKUP_SQL,
  PostgresStore,
  lookupKeyHash,
} from '../src/postgres-store.js'

const ROWS = 20_000
const flooded = lookupKeyHash('digest', `sha256:${'f'.repeat(64)}`)
const hex = (n: number) => n.toString(16).padStart(64, '0')

let database: Awaited<ReturnType<typeof postgresDatabase>>
let store: PostgresStore

beforeAll(async () => {
  database = await postgresDatabase()
  store = await PostgresStore.open(database.url)
  // Dedup rows of a log of ROWS entries by 16 keys (row i: key i % 16, payload i), lookup rows of as many
  // values (one flooded: every 10th entry names it), and fresh statistics, as autovacuum would have them.
  await store.pool.query(
    `INSERT INTO ledger_dedup (key_id, payload_hash, idx)
     SELECT decode(lpad(to_hex(i % 16), 64, '0'), 'hex'), decode(lpad(to_hex(i), 64, '0'), 'hex'), i
     FROM generate_series(0, $1::int - 1) AS i`,
    [ROWS],
  )
  await store.pool.query(
    `INSERT INTO ledger_lookup (value_hash, idx, key_id, n)
     SELECT CASE WHEN i % 10 = 0 THEN $2::bytea ELSE sha256(int8send(i)) END, i,
            decode(lpad(to_hex(i % 16), 64, '0'), 'hex'), CASE WHEN i % 10 = 0 THEN i / 10 + 1 ELSE 1 END
     FROM generate_series(0, $1::int - 1) AS i`,
    [ROWS, flooded],
  )
  await store.pool.query('ANALYZE ledger_dedup')
  await store.pool.query('ANALYZE ledger_lookup')
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

/** A parameter as an SQL literal: bytes, arrays of bytes, numbers and numeric strings. */
function literal(value: unknown): string {
  if (Buffer.isBuffer(value)) return `'\\x${value.toString('hex')}'::bytea`
  if (Array.isArray(value)) return `ARRAY[${value.map(literal).join(', ')}]::bytea[]`
  if (typeof value === 'number' || (typeof value === 'string' && /^[0-9]+$/.test(value))) return `${value}`
  throw new Error(`no literal for ${String(value)}`)
}

/**
 * The plans of `sql` with `params`: the custom plan (planned for these values) and the generic plan (one
 * plan for any values), as the store's prepared statements may use either after their fifth run.
 */
async function explain(sql: string, params: unknown[]): Promise<{ custom: string; generic: string }> {
  // A connection of its own: the store's connections keep their prepared statements.
  const client = new pg.Client({ connectionString: database.url })
  await client.connect()
  try {
    const custom = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${sql}`, params)
    await client.query(`PREPARE planned AS ${sql}`)
    await client.query('SET plan_cache_mode = force_generic_plan')
    // EXECUTE takes no bind parameters: the values go in as literals.
    const generic = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (COSTS OFF) EXECUTE planned(${params.map(literal).join(', ')})`,
    )
    const text = (rows: { 'QUERY PLAN': string }[]) => rows.map((row) => row['QUERY PLAN']).join('\n')
    return { custom: text(custom.rows), generic: text(generic.rows) }
  } finally {
    await client.end()
  }
}

describe('PostgreSQL plans: reads that must stay probes', () => {
  test("every connection of the store's pool runs generic plans, set before its first query", async () => {
    // As many connections at once as the pool holds: each new one answered its first query after the SET.
    const clients = await Promise.all(Array.from({ length: 4 }, () => store.pool.connect()))
    try {
      for (const client of clients) {
        const { rows } = await client.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')
        expect(rows[0]!.plan_cache_mode).toBe('force_generic_plan')
      }
    } finally {
      for (const client of clients) client.release()
    }
  })

  test('a dedup read of 1,000 keys probes the primary key, and reads no table whole', async () => {
    const plans = await explain(FIND_SQL, [
      keys.length,
      Buffer.from(keys.map((k) => k.keyId).join(''), 'hex'),
      Buffer.from(keys.map((k) => k.payloadHash).join(''), 'hex'),
    ])
    for (const plan of Object.values(plans)) {
      expect(plan).toContain('Index Scan using ledger_dedup_pkey on ledger_dedup')
      expect(plan).not.toMatch(/Seq Scan on ledger_dedup|Hash Join/)
    }
  })

  test("a lookup's count is one backward probe of the primary key, also for a flooded value", async () => {
    const plans = await explain(LOOKUP_SQL, [flooded, String(ROWS), '0', 101])
    for (const plan of Object.values(plans)) {
      expect(plan).toContain('Index Scan Backward using ledger_lookup_pkey on ledger_lookup')
      expect(plan).toContain('Index Scan using ledger_lookup_pkey on ledger_lookup')
      expect(plan).not.toMatch(/Seq Scan|Aggregate|ledger_lookup_by_key/)
    }
    const answer = await store.lookup({
      kind: 'digest',
      value: `sha256:${'f'.repeat(64)}`,
      from: 0n,
      limit: 5,
      size: 1001n,
    })
    expect(answer.total).toBe(101)
    expect(answer.matches.map((m) => Number(m.index))).toEqual([0, 10, 20, 30, 40])
  })

  test("a lookup by key ids reads only those keys' rows, from the index by key id, also for a flooded value", async () => {
    const keyIds = [hex(0), hex(4)]
    const plans = await explain(LOOKUP_BY_KEYS_SQL, [
      flooded,
      String(ROWS),
      '0',
      101,
      keyIds.map((k) => Buffer.from(k, 'hex')),
    ])
    for (const plan of Object.values(plans)) {
      expect(plan).toContain('Index Scan Backward using ledger_lookup_pkey on ledger_lookup')
      expect(plan).toMatch(
        /Index (Only )?Scan using ledger_lookup_by_key|Bitmap Index Scan on ledger_lookup_by_key/,
      )
      // The matches never come from the primary key, which would read every row of the flood.
      expect(plan).not.toMatch(/Seq Scan|Aggregate|Index Scan using ledger_lookup_pkey/)
    }
    // Row i names the flooded value when i % 10 = 0, by key i % 16; repeats in the filter count once.
    const expected = Array.from({ length: 1001 }, (_, i) => i).filter(
      (i) => i % 10 === 0 && [0, 4].includes(i % 16),
    )
    const answer = await store.lookup({
      kind: 'digest',
      value: `sha256:${'f'.repeat(64)}`,
      keyIds: [...keyIds, keyIds[0]!],
      from: 0n,
      limit: 5,
      size: 1001n,
    })
    expect(answer.total).toBe(101)
    expect(answer.matches.map((m) => Number(m.index))).toEqual(expected.slice(0, 5))
    expect(answer.matches.map((m) => m.keyId)).toEqual(expected.slice(0, 5).map((i) => hex(i % 16)))
    expect(answer.next).toBe(BigInt(expected[5]!))
  })

  test("a batch's rows find each value's running count with one probe each, and read no table whole", async () => {
    const values = Buffer.concat([
      flooded,
      ...Array.from({ length: 999 }, (_, i) => lookupKeyHash('commit', hex(i))),
    ])
    const plans = await explain(COUNTS_SQL, [values])
    for (const plan of Object.values(plans)) {
      expect(plan).toContain('Index Scan Backward using ledger_lookup_pkey on ledger_lookup')
      expect(plan).not.toMatch(/Seq Scan on ledger_(lookup|dedup|leaves)/)
    }
  })

  test("a page of the written filter's fill reads each index in order from where the last one ended", async () => {
    // A page of a two-hundredth of the table, as 10,000 rows are of a log of 2 million entries. (A page
    // that is much of the table may read it whole and sort it: as cheap, for a table that small.)
    const values = await explain(FILL_VALUES_SQL, [flooded, 100])
    const dedup = await explain(FILL_DEDUP_SQL, [Buffer.from(hex(3), 'hex'), Buffer.from(hex(7), 'hex'), 100])
    for (const plan of Object.values(values)) {
      expect(plan).toMatch(/Index Only Scan using ledger_lookup_(pkey|by_key) on ledger_lookup/)
      expect(plan).not.toMatch(/Seq Scan|Sort/)
    }
    for (const plan of Object.values(dedup)) {
      expect(plan).toMatch(/Index Only Scan using ledger_dedup_pkey on ledger_dedup/)
      expect(plan).not.toMatch(/Seq Scan|Sort/)
    }
  })

  test('the dedup read finds exactly the logged keys', async () => {
    const found = await store.findEntries(keys)
    expect(found).toEqual(keys.map((_, i) => (i % 2 === 0 ? BigInt(i * 7) : undefined)))
  })
})
