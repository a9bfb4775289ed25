// Schema migrations on a real PostgreSQL: a database at an older version is brought to the newest at open,
// and what it held reads the same afterwards.
import pg from 'pg'
import { afterEach, describe, expect, test } from 'vitest'
import { postgresDatabase } from '../../../test/support/postgres-test.js'
import { MIGRATIONS } from '../src/postgres-schema.js'
import { PostgresStore, lookupKeyHash } from '../src/postgres-store.js'

const hex = (n: number, width = 64) => n.toString(16).padStart(width, '0')

let database: Awaited<ReturnType<typeof postgresDatabase>> | undefined
afterEach(async () => {
  await database?.drop()
  database = undefined
})

/** A database migrated to `version` only, as an older release left it. */
async function databaseAt(version: number): Promise<{ url: string; client: pg.Client }> {
  database = await postgresDatabase()
  const client = new pg.Client({ connectionString: database.url })
  await client.connect()
  await client.query(
    'CREATE TABLE ledger_schema (version int PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
  )
  for (const migration of MIGRATIONS.filter((m) => m.version <= version)) {
    await client.query(migration.sql)
    await client.query('INSERT INTO ledger_schema (version, description) VALUES ($1, $2)', [
      migration.version,
      migration.description,
    ])
  }
  return { url: database.url, client }
}

describe('PostgreSQL schema migrations', () => {
  test('version 2 to 3: lookup rows and counts rekeyed by hash answer the same lookups', async () => {
    const { url, client } = await databaseAt(2)
    const digest = `sha256:${hex(0xd)}`
    const sha512 = `sha512:${hex(0xe, 128)}`
    const commit = hex(0xc, 40)
    // Entries 0..4: 0-2 by key 1, 3-4 by key 2; all name `digest`; 1 and 3 also `sha512`; all `commit`.
    for (let idx = 0; idx < 5; idx++) {
      const keyId = Buffer.from(hex(idx < 3 ? 1 : 2), 'hex')
      const rows: [number, string][] = [
        [0, digest],
        [1, commit],
      ]
      if (idx === 1 || idx === 3) rows.push([0, sha512])
      for (const [kind, value] of rows) {
        await client.query('INSERT INTO ledger_index (kind, value, idx, key_id) VALUES ($1, $2, $3, $4)', [
          kind,
          value,
          idx,
          keyId,
        ])
      }
    }
    await client.query(
      `INSERT INTO ledger_counts (kind, value, n) VALUES (0, $1, 5), (0, $2, 2), (1, $3, 5)`,
      [digest, sha512, commit],
    )
    await client.end()

    const store = await PostgresStore.open(url)
    try {
      const all = await store.lookup({ kind: 'digest', value: digest, from: 0n, limit: 10, size: 5n })
      expect(all.total).toBe(5)
      expect(all.matches.map((m) => [Number(m.index), m.keyId])).toEqual([
        [0, hex(1)],
        [1, hex(1)],
        [2, hex(1)],
        [3, hex(2)],
        [4, hex(2)],
      ])
      const filtered = await store.lookup({
        kind: 'digest',
        value: sha512,
        from: 0n,
        limit: 10,
        size: 5n,
        keyIds: [hex(2)],
      })
      expect(filtered.total).toBe(2)
      expect(filtered.matches.map((m) => Number(m.index))).toEqual([3])
      const byCommit = await store.lookup({ kind: 'commit', value: commit, from: 2n, limit: 2, size: 4n })
      expect(byCommit.total).toBe(4)
      expect(byCommit.matches.map((m) => Number(m.index))).toEqual([2, 3])
      // A commit's hex is not a digest: the kind is part of the key.
      expect(
        (await store.lookup({ kind: 'digest', value: commit, from: 0n, limit: 1, size: 5n })).total,
      ).toBe(0)
      // The SQL that rekeyed the rows and lookupKeyHash agree, byte for byte.
      const { rows } = await store.pool.query<{ value_hash: Buffer }>(
        'SELECT DISTINCT value_hash FROM ledger_lookup ORDER BY value_hash',
      )
      const expected = [
        lookupKeyHash('digest', digest),
        lookupKeyHash('digest', sha512),
        lookupKeyHash('commit', commit),
      ].sort(Buffer.compare)
      expect(rows.map((r) => r.value_hash.toString('hex'))).toEqual(expected.map((h) => h.toString('hex')))
      const { rows: versions } = await store.pool.query<{ version: number }>(
        'SELECT version FROM ledger_schema ORDER BY version',
      )
      expect(versions.map((v) => v.version)).toEqual(MIGRATIONS.map((m) => m.version))
    } finally {
      await store.close()
    }
  })

  test('version 3 to 4: running counts in the lookup rows answer the totals the table of counts did', async () => {
    const { url, client } = await databaseAt(3)
    const digest = lookupKeyHash('digest', `sha256:${hex(0xd)}`)
    const other = lookupKeyHash('digest', `sha256:${hex(0xe)}`)
    // `digest` at indexes 0, 2, 3, 7, 9 (keys 1, 2, 1, 2, 1); `other` at 1 and 7.
    const rows: [Buffer, number, number][] = [
      [digest, 0, 1],
      [other, 1, 1],
      [digest, 2, 2],
      [digest, 3, 1],
      [digest, 7, 2],
      [other, 7, 2],
      [digest, 9, 1],
    ]
    for (const [valueHash, idx, key] of rows) {
      await client.query('INSERT INTO ledger_lookup (value_hash, idx, key_id) VALUES ($1, $2, $3)', [
        valueHash,
        idx,
        Buffer.from(hex(key), 'hex'),
      ])
    }
    await client.query('INSERT INTO ledger_totals (value_hash, n) VALUES ($1, 5), ($2, 2)', [digest, other])
    await client.end()

    const store = await PostgresStore.open(url)
    try {
      const lookup = (value: number, size: bigint, keyIds?: string[]) =>
        store.lookup({ kind: 'digest', value: `sha256:${hex(value)}`, from: 0n, limit: 10, size, keyIds })
      expect((await lookup(0xd, 10n)).total).toBe(5)
      expect((await lookup(0xd, 10n)).matches.map((m) => Number(m.index))).toEqual([0, 2, 3, 7, 9])
      // As of older trees: the running count of the last row below each.
      for (const [size, total] of [
        [0n, 0],
        [1n, 1],
        [3n, 2],
        [4n, 3],
        [8n, 4],
        [9n, 4],
      ] as const) {
        expect((await lookup(0xd, size)).total, `size ${size}`).toBe(total)
      }
      expect((await lookup(0xd, 10n, [hex(2)])).total).toBe(5)
      expect((await lookup(0xd, 10n, [hex(2)])).matches.map((m) => Number(m.index))).toEqual([2, 7])
      expect((await lookup(0xe, 10n)).total).toBe(2)
      expect((await lookup(0xe, 7n)).total).toBe(1)
      const { rows: tables } = await store.pool.query("SELECT to_regclass('ledger_totals') AS t")
      expect(tables[0].t).toBeNull()
      const { rows: indexes } = await store.pool.query<{ indexname: string }>(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'ledger_lookup' ORDER BY indexname",
      )
      expect(indexes.map((i) => i.indexname)).toEqual(['ledger_lookup_by_key', 'ledger_lookup_pkey'])
    } finally {
      await store.close()
    }
  })

  test('a database newer than this program is refused, and left as it was', async () => {
    const { url, client } = await databaseAt(MIGRATIONS.length)
    await client.query("INSERT INTO ledger_schema (version, description) VALUES (999, 'from the future')")
    await client.end()
    await expect(PostgresStore.open(url)).rejects.toThrow(/version 999, newer than this program's/)
  })
})
