// Binary COPY (postgres-copy.ts): the encoding, read back by a real PostgreSQL server, and what a failing
// COPY leaves behind (an error, an aborted transaction, a connection still usable).
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { postgresDatabase } from '../../../test/support/postgres-test.js'
import { BinaryCopyWriter, copyIn } from '../src/postgres-copy.js'

describe('BinaryCopyWriter', () => {
  test('writes the header, each tuple as its field count and length-prefixed fields, and the trailer', () => {
    const data = new BinaryCopyWriter(0).tuple(2).int8(-2n).bytea(Uint8Array.of(7, 8)).finish()
    expect(data.toString('hex')).toBe(
      [
        Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1').toString('hex'),
        '00000000', // flags
        '00000000', // header extension length
        '0002', // fields
        '00000008',
        'fffffffffffffffe',
        '00000002',
        '0708',
        'ffff', // trailer
      ].join(''),
    )
  })

  test('bytea in hex is the same field as its bytes; what is not hex is refused', () => {
    const hex = 'ab'.repeat(32)
    const asHex = new BinaryCopyWriter().tuple(1).byteaHex(hex).finish()
    const asBytes = new BinaryCopyWriter().tuple(1).bytea(Buffer.from(hex, 'hex')).finish()
    expect(asHex).toEqual(asBytes)
    expect(() => new BinaryCopyWriter().tuple(1).byteaHex('zz')).toThrow('not hex')
  })

  test('grows past its first capacity', () => {
    const writer = new BinaryCopyWriter(1)
    for (let i = 0; i < 100; i++) writer.tuple(1).bytea(Buffer.alloc(1000, i))
    expect(writer.finish().length).toBe(19 + 100 * (2 + 4 + 1000) + 2)
  })
})

describe('copyIn, on a real server', () => {
  let database: Awaited<ReturnType<typeof postgresDatabase>>
  let client: pg.Client

  beforeAll(async () => {
    database = await postgresDatabase()
    client = new pg.Client({ connectionString: database.url })
    await client.connect()
    await client.query('CREATE TABLE a (id bigint PRIMARY KEY, data bytea NOT NULL)')
    await client.query('CREATE TABLE b (id bigint PRIMARY KEY)')
  })

  afterAll(async () => {
    await client.end()
    await database.drop()
  })

  const rowsOf = (ids: readonly bigint[]) => {
    const writer = new BinaryCopyWriter()
    for (const id of ids)
      writer
        .tuple(2)
        .int8(id)
        .bytea(Buffer.from(`row ${id}`))
    return writer.finish()
  }
  const idsOf = (ids: readonly bigint[]) => {
    const writer = new BinaryCopyWriter()
    for (const id of ids) writer.tuple(1).int8(id)
    return writer.finish()
  }
  const COPY_BOTH = `BEGIN;
    COPY a (id, data) FROM STDIN (FORMAT binary);
    COPY b (id) FROM STDIN (FORMAT binary)`

  test('fills several tables in one query, in one transaction', async () => {
    const big = 2n ** 62n
    await copyIn(client, COPY_BOTH, [rowsOf([1n, 2n, big]), idsOf([10n, -5n])])
    await client.query('COMMIT')
    const a = await client.query<{ id: string; data: string }>(
      "SELECT id::text, convert_from(data, 'UTF8') AS data FROM a ORDER BY id",
    )
    expect(a.rows).toEqual([
      { id: '1', data: 'row 1' },
      { id: '2', data: 'row 2' },
      { id: big.toString(), data: `row ${big}` },
    ])
    const b = await client.query<{ id: string }>('SELECT id::text FROM b ORDER BY id')
    expect(b.rows.map((r) => r.id)).toEqual(['-5', '10'])
  })

  test("a COPY that fails rejects with the server's error; the data after it is dropped, and the connection still works", async () => {
    // id 1 is already in a: the first COPY fails, the second never runs.
    await expect(copyIn(client, COPY_BOTH, [rowsOf([100n, 1n]), idsOf([200n])])).rejects.toThrow(
      /duplicate key/,
    )
    await client.query('ROLLBACK')
    const counts = await client.query<{ a: string; b: string }>(
      'SELECT (SELECT count(*) FROM a)::text AS a, (SELECT count(*) FROM b)::text AS b',
    )
    expect(counts.rows[0]).toEqual({ a: '3', b: '2' })
  })

  test('a COPY refused before it reads its data: the data sent with it is ignored, and the connection still works', async () => {
    // The server ignores CopyData and CopyDone outside a COPY (PostgreSQL's protocol: they are dropped).
    await expect(
      copyIn(client, 'COPY no_such_table (id) FROM STDIN (FORMAT binary)', [idsOf([1n, 2n])]),
    ).rejects.toThrow(/no_such_table/)
    const { rows } = await client.query<{ n: string }>('SELECT count(*)::text AS n FROM b')
    expect(rows[0]!.n).toBe('2')
  })

  test('more COPY statements than data: rejected, and nothing is written', async () => {
    await expect(copyIn(client, COPY_BOTH, [rowsOf([300n])])).rejects.toThrow(
      /more COPY statements than data/,
    )
    await client.query('ROLLBACK')
    const { rows } = await client.query<{ n: string }>('SELECT count(*)::text AS n FROM a WHERE id = 300')
    expect(rows[0]!.n).toBe('0')
  })

  test('a malformed COPY is refused by the server, not written', async () => {
    const truncated = rowsOf([400n]).subarray(0, 30)
    await expect(copyIn(client, COPY_BOTH, [truncated, idsOf([])])).rejects.toThrow()
    await client.query('ROLLBACK')
    const { rows } = await client.query<{ n: string }>('SELECT count(*)::text AS n FROM a WHERE id = 400')
    expect(rows[0]!.n).toBe('0')
  })
})
