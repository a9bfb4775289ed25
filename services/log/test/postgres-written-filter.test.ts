// PostgresStore's written filter: in the process that writes, a commit reads the running counts only of
// values that may have lookup rows (a value certainly never written counts from 0), and a dedup read asks
// only for keys that may be logged. Counts and dedup answers must stay exact when the filter is filled from
// a database that other processes wrote, over several pages, and when another process writes between this
// process's commits (its filter no longer knows every value, so it must start again).
import { afterAll, describe, expect, test } from 'vitest'
import { postgresDatabase } from '../../../test/support/postgres-test.js'
import { lookupKeyHash, PostgresStore } from '../src/postgres-store.js'
import type { IndexedEntry } from '../src/store.js'
import { BatchBuilder } from './store-conformance.js'

const hex = (n: number) => n.toString(16).padStart(64, '0')
const digest = (n: number) => `sha256:${hex(n)}`
let payload = 0
/** An entry naming `digests` (and no commit), by a new payload. */
const entry = (...digests: string[]): Omit<IndexedEntry, 'index' | 'leaf'> => ({
  keyId: hex(1),
  payloadHash: hex(++payload),
  digests,
  commits: [],
})

const databases: Awaited<ReturnType<typeof postgresDatabase>>[] = []
const stores: PostgresStore[] = []
/** A log of its own (a new database), and `processes` stores open on it, as as many processes. */
async function log(processes: number): Promise<PostgresStore[]> {
  const database = await postgresDatabase()
  databases.push(database)
  const opened: PostgresStore[] = []
  for (let i = 0; i < processes; i++) opened.push(await PostgresStore.open(database.url))
  stores.push(...opened)
  return opened
}

afterAll(async () => {
  for (const store of stores) await store.close()
  for (const database of databases) await database.drop()
})

describe('PostgresStore written filter', () => {
  test('filled over several pages of rows other processes wrote, it reads the counts of exactly those values', async () => {
    const [store] = (await log(1)) as [PostgresStore]
    // Rows as an earlier writer left them, at indexes no batch here reaches: 25,000 values of one row
    // each and one value of 12,000 rows (whole pages of it), in value-hash order across four pages.
    await store.pool.query(
      `INSERT INTO ledger_lookup (value_hash, idx, key_id, n)
       SELECT sha256(convert_to('digest/sha256:' || lpad(to_hex(i), 64, '0'), 'UTF8')), 1000000000 + i,
              decode(repeat('01', 32), 'hex'), 1
       FROM generate_series(100000, 124999) AS i`,
    )
    await store.pool.query(
      `INSERT INTO ledger_lookup (value_hash, idx, key_id, n)
       SELECT $1::bytea, 2000000000 + i, decode(repeat('01', 32), 'hex'), i + 1
       FROM generate_series(0, 11999) AS i`,
      [lookupKeyHash('digest', digest(99))],
    )
    const builder = new BatchBuilder()
    await store.commit(builder.next([entry(digest(1))]))
    expect(await store.writtenFilterFilled()).toBe(true)
    const before = store.countsRead
    const written = [digest(100000), digest(112345), digest(124999), digest(99)]
    const fresh = [digest(2), digest(3), digest(125000), digest(99999)]
    await store.commit(builder.next([...written, ...fresh].map((d) => entry(d))))
    expect(store.countsRead - before).toBe(written.length)
  })

  test('filled over several pages of dedup rows, a dedup read asks only for the keys that may be logged', async () => {
    const [store, reader] = (await log(2)) as [PostgresStore, PostgresStore]
    // Dedup rows of 25,000 entries an earlier writer logged (by 4 keys), at indexes no batch here reaches.
    await store.pool.query(
      `INSERT INTO ledger_dedup (key_id, payload_hash, idx)
       SELECT decode(lpad(to_hex(i % 4 + 16), 64, '0'), 'hex'), decode(lpad(to_hex(i), 64, '0'), 'hex'),
              1000000000 + i
       FROM generate_series(0, 24999) AS i`,
    )
    const logged = (i: number) => ({ keyId: hex((i % 4) + 16), payloadHash: hex(i) })
    const builder = new BatchBuilder()
    const first = entry(digest(1))
    await store.commit(builder.next([first]))
    expect(await store.writtenFilterFilled()).toBe(true)
    const keys = [
      logged(0),
      logged(12_345),
      logged(24_999),
      first,
      { keyId: hex(16), payloadHash: hex(25_000) },
      { keyId: hex(99), payloadHash: hex(1) },
    ]
    const expected = [1_000_000_000n, 1_000_012_345n, 1_000_024_999n, 0n, undefined, undefined]
    const before = store.dedupKeysAsked
    expect(await store.findEntries(keys)).toEqual(expected)
    expect(store.dedupKeysAsked - before).toBe(4)
    // A process that never wrote keeps no filter: it asks for every key, and finds the same.
    expect(await reader.findEntries(keys)).toEqual(expected)
    expect(reader.dedupKeysAsked).toBe(keys.length)
  })

  test('another process writing between its commits: the next commit starts a new filter, and counts stay exact', async () => {
    const [first, second] = (await log(2)) as [PostgresStore, PostgresStore]
    const builder = new BatchBuilder()
    const v = digest(7)
    await first.commit(builder.next([entry(digest(5))]))
    expect(await first.writtenFilterFilled()).toBe(true)
    // The second process writes v, which the first has never seen.
    const written = entry(v)
    await second.commit(builder.next([written]))
    // The first writes again, after the second: it must read v's count, not take v for new.
    const before = first.countsRead
    await first.commit(builder.next([entry(v)]))
    expect(first.countsRead - before).toBe(1)
    const size = builder.edge.size
    const result = await first.lookup({ kind: 'digest', value: v, from: 0n, limit: 10, size })
    expect(result.total).toBe(2)
    expect(result.matches.map((m) => m.index)).toEqual([1n, 2n])
    // Its dedup reads, too, know the second process's entry again.
    expect(await first.findEntries([written])).toEqual([1n])
  })
})
