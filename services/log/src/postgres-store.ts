import { hash } from 'node:crypto'
import pg from 'pg'
import { MIGRATIONS, MIGRATION_LOCK_KEY } from './postgres-schema.js'
import type {
  CommittedState,
  DedupKey,
  IntegratedBatch,
  LogBackend,
  LogMeta,
  LookupKind,
  LookupQuery,
  LookupResult,
} from './store.js'
import { KeyFilter } from './key-filter.js'
import { OrderedCommits } from './store.js'
import { BinaryCopyWriter, copyIn } from './postgres-copy.js'

/** A value of a batch being written. */
interface BatchValue {
  /** `digest/<alg>:<hex>` or `commit/<hex>`. */
  id: string
  /** lookupKeyHash of it. */
  hash: Buffer
  /** Its lookup rows in this batch. */
  rows: number
  /** Its running count before this batch (set once read). */
  base: number
  /** Where its rows go in the COPY: by hash, so that the index insertions walk the B-trees in order. */
  order: number
  /** The written filter says no row of it was ever written: its running count before this batch is 0. */
  unseen: boolean
}

/**
 * The value hashes (hex) of every lookup row and the dedup keys (key id and payload hash, hex) of every
 * entry, in the database or in flight: PostgresStore.writtenFilter.
 */
interface WrittenFilter {
  keys: KeyFilter
  /** Filled from the database: until then it says "maybe" to everything. */
  ready: boolean
  filled: Promise<boolean>
}

/** Rows read per statement while a written filter fills. */
const FILL_PAGE = 10_000

/** A dedup key as the written filter holds it. */
const dedupFilterKey = (key: DedupKey) => key.keyId + key.payloadHash

/** A batch handed to commit and not yet settled: the size it ends at and its lookup rows per value. */
interface ValuesInFlight {
  end: bigint
  values: ReadonlyMap<string, BatchValue>
  /** Its entries, for their dedup keys. */
  entries: readonly DedupKey[]
}

/*
 * Tables (postgres-schema.ts): ledger_meta, ledger_state, ledger_witnessed (one row each), ledger_tiles
 * (level, idx), ledger_leaves (idx), ledger_dedup (key id, payload hash), ledger_lookup (value hash, idx;
 * and by key id; each row with the running count n of its value's rows). Key ids, payload hashes and
 * value hashes are 32 raw bytes.
 */

/** Every commit notifies this channel with the new size (delivered when the commit is). */
export const COMMIT_CHANNEL = 'ledger_commit'
/** Every new witnessed checkpoint notifies this channel. */
export const WITNESSED_CHANNEL = 'ledger_witnessed'
/** Every submission queued by a process that does not sequence notifies this channel. */
export const PENDING_CHANNEL = 'ledger_pending'

/*
 * A batch is one transaction: its rows (leaves, dedup rows and lookup rows: inserts of new keys only, which
 * never wait for another transaction) go in by COPY (postgres-copy.ts) as soon as the batch is ready, also
 * while the batch before it is still writing or syncing; the fence statement (the state, moved only from
 * the size this batch follows; tiles; the notification) runs once the batch before has landed, then COMMIT.
 * Tiles are updated in place, so they wait for the fence: two overlapping transactions that both updated
 * them could deadlock. Before the rows, one statement reads the running count of each of the batch's values
 * (COUNTS_SQL).
 */

/**
 * The committed size and, for each value hash of a batch ($1: 32 bytes each, concatenated), the running
 * count `n` of its last lookup row (0 for a new value), as 8 big-endian bytes each, in order: one snapshot,
 * and one backward probe of the primary key per value, however many rows the value has.
 */
export const COUNTS_SQL = `
SELECT coalesce((SELECT size FROM ledger_state), 0)::text AS size, coalesce((
  SELECT string_agg(int8send(coalesce(last.n, 0)), ''::bytea ORDER BY v.j)
  FROM generate_series(1, length($1::bytea) / 32) AS v(j)
  LEFT JOIN LATERAL (
    SELECT l.n FROM ledger_lookup l
    WHERE l.value_hash = substring($1::bytea FROM v.j * 32 - 31 FOR 32)
    ORDER BY l.idx DESC LIMIT 1
  ) AS last ON true
), ''::bytea) AS counts`

/** A page of the value hashes of lookup rows after $1, in order ($2 rows); PostgresStore.writtenFilter. */
export const FILL_VALUES_SQL =
  'SELECT value_hash FROM ledger_lookup WHERE value_hash > $1 ORDER BY value_hash LIMIT $2'

/** A page of the dedup keys after ($1, $2), in order ($3 rows); PostgresStore.writtenFilter. */
export const FILL_DEDUP_SQL = `
SELECT key_id, payload_hash FROM ledger_dedup WHERE (key_id, payload_hash) > ($1, $2)
ORDER BY key_id, payload_hash LIMIT $3`

/** The transaction's start and its rows, answered with three binary COPY data in this order. */
const ROWS_COPY_SQL = `BEGIN;
COPY ledger_leaves (idx, leaf) FROM STDIN (FORMAT binary);
COPY ledger_dedup (key_id, payload_hash, idx) FROM STDIN (FORMAT binary);
COPY ledger_lookup (value_hash, idx, key_id, n) FROM STDIN (FORMAT binary)`

const FENCE_SQL = `
WITH updated AS (
  UPDATE ledger_state SET size = $1, compact_range = $2, checkpoint = $3
  WHERE singleton AND size = $4
  RETURNING 1
), created AS (
  INSERT INTO ledger_state (size, compact_range, checkpoint)
  SELECT $1, $2, $3 WHERE $4::bigint = 0 AND NOT EXISTS (SELECT 1 FROM ledger_state)
  RETURNING 1
), moved AS (
  SELECT 1 FROM updated UNION ALL SELECT 1 FROM created
), tiles AS (
  INSERT INTO ledger_tiles (level, idx, data)
  SELECT t.level, t.idx, t.data FROM unnest($5::smallint[], $6::bigint[], $7::bytea[]) AS t(level, idx, data), moved
  ON CONFLICT (level, idx) DO UPDATE SET data = excluded.data
    WHERE length(excluded.data) > length(ledger_tiles.data)
), notified AS (
  SELECT pg_notify('${COMMIT_CHANNEL}', $1::text) FROM moved
)
SELECT (SELECT count(*)::int FROM moved) AS moved, (SELECT count(*)::int FROM notified) AS notified`

/** The first commit of a log (the empty tree): creates the state row, only if there is none. */
const FIRST_COMMIT_SQL = `
INSERT INTO ledger_state (size, compact_range, checkpoint) VALUES ($1, $2, $3)
ON CONFLICT (singleton) DO NOTHING`

/**
 * A lookup is ONE statement, so it reads one snapshot: the count as of the tree asked about (the running
 * count `n` of the value's last row below it: one probe, however many rows the value has), and up to
 * `want` matches. At least one row comes back. LOOKUP_SQL takes matches by any key, in index order from the
 * primary key; LOOKUP_BY_KEYS_SQL only those by the key ids in $5 (distinct), each key's from the index by
 * key id, so a value flooded by other keys costs it nothing. Two statements, not one with an OR: each is a
 * prepared statement whose generic plan must be right for every call (postgres-plans.test.ts).
 */
const LOOKUP_COUNTED = `
WITH counted AS (
  SELECT coalesce(
    (SELECT n FROM ledger_lookup WHERE value_hash = $1 AND idx < $2 ORDER BY idx DESC LIMIT 1), 0
  ) AS n
)`
const LOOKUP_ANSWER = `
SELECT counted.n::bigint AS total, found.idx, found.key_id
FROM counted LEFT JOIN found ON true
ORDER BY found.idx`

export const LOOKUP_SQL = `${LOOKUP_COUNTED}, found AS (
  SELECT idx, key_id FROM ledger_lookup
  WHERE value_hash = $1 AND idx >= $3 AND idx < $2
  ORDER BY idx LIMIT $4
)${LOOKUP_ANSWER}`

export const LOOKUP_BY_KEYS_SQL = `${LOOKUP_COUNTED}, found AS (
  SELECT r.idx, k.key_id FROM unnest($5::bytea[]) AS k(key_id)
  CROSS JOIN LATERAL (
    SELECT l.idx FROM ledger_lookup l
    WHERE l.value_hash = $1 AND l.key_id = k.key_id AND l.idx >= $3 AND l.idx < $2
    ORDER BY l.idx LIMIT $4
  ) AS r
  ORDER BY r.idx LIMIT $4
)${LOOKUP_ANSWER}`

/**
 * The dedup rows of up to a batch of keys (n, key ids, payload hashes: 32 bytes each, concatenated): one
 * primary-key probe per key. The LIMIT keeps the subquery a probe: as a plain join the planner hashed the
 * whole ledger_dedup table for every read once it held some thousands of rows (5 ms at 20,000 entries,
 * growing with the log, against 1.4 ms of probes).
 */
export const FIND_SQL = `
SELECT k.ord, d.idx FROM generate_series(1, $1::int) AS k(ord)
CROSS JOIN LATERAL (
  SELECT idx FROM ledger_dedup
  WHERE key_id = substring($2::bytea FROM k.ord * 32 - 31 FOR 32)
    AND payload_hash = substring($3::bytea FROM k.ord * 32 - 31 FOR 32)
  LIMIT 1
) AS d`

/**
 * What lookup rows and counts are keyed by: the SHA-256 of `digest/<alg>:<hex>` or `commit/<hex>`
 * (schema version 3 computes the same in SQL for the rows it migrates).
 */
export function lookupKeyHash(kind: LookupKind, value: string): Buffer {
  return lookupIdHash(`${kind}/${value}`)
}

/** Dedup keys in the order of ledger_dedup's primary key (lowercase hex sorts as its bytes). */
function compareDedupKeys(a: DedupKey, b: DedupKey): number {
  if (a.keyId !== b.keyId) return a.keyId < b.keyId ? -1 : 1
  return a.payloadHash < b.payloadHash ? -1 : a.payloadHash > b.payloadHash ? 1 : 0
}

/** lookupKeyHash of `kind/value` already joined. */
function lookupIdHash(id: string): Buffer {
  // The one-shot hash: a batch hashes thousands of values, and createHash costs twice as much each.
  return hash('sha256', id, 'buffer')
}

const hexBytes = (hex: string) => Buffer.from(hex, 'hex')

/** Most leaves one statement of readLeaf's reads asks for. */
const READ_LEAVES_AT_ONCE = 1000

export interface PostgresStoreOptions {
  /** Connections in the pool (reads and commits share it). */
  poolSize?: number
  /** Called before each commit's statement; a throw fails that commit as a failing database would. */
  beforeWrite?: () => void
}

/** Thrown when a commit finds the state moved by another writer: this process is no longer the sequencer. */
export class LostWriterError extends Error {
  override name = 'LostWriterError'
}

/**
 * LogStore (and WitnessedStore) over PostgreSQL, through node-postgres. Each commit is one transaction on
 * its own connection: the running counts (COUNTS_SQL), the rows by COPY, then, once the commit before it
 * landed, the fence statement (FENCE_SQL), so consecutive commits overlap. The fence moves the state only
 * from the previous size: a commit that finds the state moved by another process writes nothing and throws
 * LostWriterError, so two processes that both believe they sequence can never interleave their batches.
 * Lookups are one statement each, so one snapshot. Several processes may open the same database: every
 * one reads; one writes. The schema is migrated at open (postgres-schema.ts), under an advisory lock.
 * The statements run per batch, per lookup and per read are prepared once per connection (named): parsed
 * and planned on every call, a lookup cost PostgreSQL 190-450 µs of CPU, prepared 70 µs. A prepared
 * statement may run a generic plan (one for any values); postgres-plans.test.ts checks those plans.
 */
export class PostgresStore implements LogBackend {
  private readonly ordered = new OrderedCommits()
  /**
   * The batches handed to commit and not yet settled, in commit order: the size each ends at and how many
   * lookup rows it adds per value (`digest/...` or `commit/...`), for the running counts of the batches
   * that follow while it is still in flight.
   */
  private readonly valuesInFlight: ValuesInFlight[] = []
  /**
   * A Bloom filter over the value hashes of every lookup row and the dedup keys of every entry, so that a
   * batch whose values are all new (a digest's first attestation, every source commit's first) reads no
   * running counts (their count is 0), and a dedup read asks the database only for keys that may be logged.
   * Without it the counts' read was a fifth of PostgreSQL's time per batch and a round trip before the rows.
   * Only a process that commits keeps one, filled from the database in the background from its first
   * commit on; each commit adds its values and keys first. One process writes at a time, and a process that
   * has committed stays the writer until it exits (ClusterNode stops a process that loses the lock), so
   * after the fill only its own commits add rows. It is dropped when that stops holding: a commit that does
   * not start where this process's last one ended (another process wrote between them) or that fails drops
   * it, and the next starts a new one.
   */
  private writtenFilter: WrittenFilter | undefined
  /** The size the next commit starts at if it follows this process's last one. */
  private nextCommitFrom: bigint | undefined
  private closing = false
  private valuesCounted = 0
  private dedupKeysRead = 0
  /** Leaves asked for and not yet read, with who waits for each (readLeaf). */
  private leafReads = new Map<
    bigint,
    { resolve: (leaf: Uint8Array | undefined) => void; reject: (err: unknown) => void }[]
  >()

  private constructor(
    readonly pool: pg.Pool,
    private readonly options: PostgresStoreOptions,
  ) {}

  /**
   * Connects to `url` (postgres://...) and migrates the schema. Throws when the database cannot be
   * reached or its schema is newer than this program's.
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    // Prepared statements run their generic plan from the first call: left to choose, PostgreSQL kept
    // planning the dedup read and the running counts on every call (a custom plan for generate_series of
    // the batch's exact size looked cheaper than the generic one's guess), 0.15 and 0.26 ms each, 13% of
    // its CPU in small batches. postgres-plans.test.ts checks the generic plans. Set by a SET, not the
    // startup parameter `options`, which PgBouncer refuses; the pool hands a new connection out only after
    // its onConnect settled (a 'connect' listener's query would be queued behind the caller's first, which
    // pg 9 no longer allows), and a connection whose SET fails is closed and its request fails.
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 8,
      onConnect: async (client) => {
        await client.query('SET plan_cache_mode = force_generic_plan')
      },
    })
    // An idle connection that the server drops is replaced on the next query; it must not end the process.
    pool.on('error', (err) => console.error('postgres: idle connection error:', err.message))
    try {
      await migrate(pool)
    } catch (err) {
      await pool.end()
      throw err
    }
    return new PostgresStore(pool, options)
  }

  async readMeta(): Promise<LogMeta | undefined> {
    const { rows } = await this.pool.query<{ origin: string; verifier_key: string; created_at: string }>(
      'SELECT origin, verifier_key, created_at FROM ledger_meta',
    )
    const row = rows[0]
    return row === undefined
      ? undefined
      : { origin: row.origin, verifierKey: row.verifier_key, createdAt: row.created_at }
  }

  async writeMeta(meta: LogMeta): Promise<void> {
    // Two processes starting a new log at once: the first one's is kept (the caller reads it back).
    await this.pool.query(
      'INSERT INTO ledger_meta (origin, verifier_key, created_at) VALUES ($1, $2, $3) ON CONFLICT (singleton) DO NOTHING',
      [meta.origin, meta.verifierKey, meta.createdAt],
    )
  }

  async readState(): Promise<CommittedState | undefined> {
    const { rows } = await this.pool.query<{ size: string; compact_range: Buffer; checkpoint: Buffer }>({
      name: 'ledger_read_state',
      text: 'SELECT size, compact_range, checkpoint FROM ledger_state',
    })
    const row = rows[0]
    return row === undefined
      ? undefined
      : { size: BigInt(row.size), compactRange: row.compact_range, checkpoint: row.checkpoint }
  }

  commit(batch: IntegratedBatch): Promise<void> {
    return this.ordered.run((earlier) => this.write(batch, earlier))
  }

  private async write(batch: IntegratedBatch, earlier: Promise<void>): Promise<void> {
    this.options.beforeWrite?.()
    const { state, entries } = batch
    const previous = entries.length === 0 ? undefined : entries[0]!.index
    if (previous === undefined) {
      // Only the first commit carries no entry (the empty tree's checkpoint).
      await earlier
      await this.pool.query(FIRST_COMMIT_SQL, [state.size.toString(), state.compactRange, state.checkpoint])
      const stored = await this.readState()
      if (stored === undefined || stored.size !== state.size) {
        throw new LostWriterError('another process committed the first state of this log')
      }
      return
    }
    entries.forEach((entry, i) => {
      if (entry.index !== previous + BigInt(i)) throw new Error('a batch holds consecutive indexes')
      if (!/^[0-9a-f]{64}$/.test(entry.keyId) || !/^[0-9a-f]{64}$/.test(entry.payloadHash)) {
        throw new Error('key ids and payload hashes are 64 lowercase hex digits')
      }
    })
    // One lookup row per entry and distinct value: the values, each once (with its hash and its rows in
    // this batch), and per row which value it is and its rank among that value's rows here.
    const values = new Map<string, BatchValue>()
    const rows: { entry: number; value: BatchValue; rank: number }[] = []
    const addRow = (entry: number, id: string) => {
      let value = values.get(id)
      if (value === undefined) {
        value = { id, hash: lookupIdHash(id), rows: 0, base: 0, order: 0, unseen: false }
        values.set(id, value)
      }
      rows.push({ entry, value, rank: ++value.rows })
    }
    entries.forEach((entry, i) => {
      // Most entries have one digest and one commit: no set needed to index repeats once.
      const { digests, commits } = entry
      if (digests.length === 1) addRow(i, `digest/${digests[0]}`)
      else for (const digest of new Set(digests)) addRow(i, `digest/${digest}`)
      if (commits.length === 1) addRow(i, `commit/${commits[0]}`)
      else for (const commit of new Set(commits)) addRow(i, `commit/${commit}`)
    })
    this.markUnseen(previous, values, entries)
    this.nextCommitFrom = state.size
    // This batch's rows per value, recorded now, in call order, for the running counts of the batches
    // after it while it is in flight.
    const mine: ValuesInFlight = { end: state.size, values, entries }
    const ahead = [...this.valuesInFlight]
    this.valuesInFlight.push(mine)
    try {
      await this.writeRows(batch, previous, earlier, { values: [...values.values()], rows, ahead })
    } catch (err) {
      // Whether it landed or not, and whoever wrote instead: the next commit starts a new filter.
      this.writtenFilter = undefined
      this.nextCommitFrom = undefined
      throw err
    } finally {
      this.valuesInFlight.splice(this.valuesInFlight.indexOf(mine), 1)
    }
  }

  private async writeRows(
    batch: IntegratedBatch,
    previous: bigint,
    earlier: Promise<void>,
    p: {
      values: BatchValue[]
      rows: { entry: number; value: BatchValue; rank: number }[]
      ahead: ValuesInFlight[]
    },
  ): Promise<void> {
    const { state, entries, tiles } = batch
    const client = await this.pool.connect()
    let open = false
    let broken: Error | undefined
    try {
      // The running counts of the values that may have rows: each one's last n that the snapshot shows,
      // plus its rows in the batches still in flight ahead of this one that the snapshot does not show yet
      // (they commit before it). A value the filter has never seen has none, here or in flight: 0.
      const seen = p.values.filter((value) => !value.unseen)
      if (seen.length > 0) {
        this.valuesCounted += seen.length
        const counted = await client.query<{ size: string; counts: Buffer }>({
          name: 'ledger_counts',
          text: COUNTS_SQL,
          values: [Buffer.concat(seen.map((v) => v.hash))],
        })
        const visible = BigInt(counted.rows[0]!.size)
        const counts = counted.rows[0]!.counts
        seen.forEach((value, j) => {
          value.base = Number(counts.readBigInt64BE(j * 8))
          for (const before of p.ahead) {
            if (before.end > visible) value.base += before.values.get(value.id)?.rows ?? 0
          }
        })
      }
      for (const value of p.values) value.order = value.hash.readUInt32BE(0)
      const leaves = new BinaryCopyWriter(entries.reduce((bytes, e) => bytes + e.leaf.length + 18, 64))
      const dedup = new BinaryCopyWriter(entries.length * 90 + 64)
      for (const entry of entries) leaves.tuple(2).int8(entry.index).bytea(entry.leaf)
      // Dedup rows in key order and lookup rows in value-hash order: the insertions walk each B-tree in
      // order.
      const byDedupKey = [...entries].sort(compareDedupKeys)
      for (const entry of byDedupKey) {
        dedup.tuple(3).byteaHex(entry.keyId).byteaHex(entry.payloadHash).int8(entry.index)
      }
      const lookup = new BinaryCopyWriter(p.rows.length * 102 + 64)
      const byValue = [...p.rows].sort((a, b) => a.value.order - b.value.order)
      for (const row of byValue) {
        const entry = entries[row.entry]!
        lookup
          .tuple(4)
          .bytea(row.value.hash)
          .int8(entry.index)
          .byteaHex(entry.keyId)
          .int8(BigInt(row.value.base + row.rank))
      }
      open = true
      await copyIn(client, ROWS_COPY_SQL, [leaves.finish(), dedup.finish(), lookup.finish()])
      await earlier
      const { rows } = await client.query<{ moved: number }>({
        name: 'ledger_fence',
        text: FENCE_SQL,
        values: [
          state.size.toString(),
          state.compactRange,
          state.checkpoint,
          previous.toString(),
          tiles.map((t) => t.level),
          tiles.map((t) => t.index.toString()),
          tiles.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
        ],
      })
      if (rows[0]?.moved !== 1) {
        throw new LostWriterError(
          `the log's state is no longer at size ${previous}: another process sequences`,
        )
      }
      open = false
      await client.query('COMMIT')
    } catch (err) {
      const asError = (e: unknown) => (e instanceof Error ? e : new Error(String(e)))
      // A failure before the transaction began (the counts' read), of COMMIT, or of ROLLBACK: the
      // connection is closed, not returned to the pool.
      if (!open) broken = asError(err)
      else await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = asError(rollbackError)))
      throw err
    } finally {
      client.release(broken)
    }
  }

  async readTile(level: number, index: bigint): Promise<Uint8Array | undefined> {
    const { rows } = await this.pool.query<{ data: Buffer }>({
      name: 'ledger_read_tile',
      text: 'SELECT data FROM ledger_tiles WHERE level = $1 AND idx = $2',
      values: [level, index.toString()],
    })
    return rows[0]?.data
  }

  /**
   * One leaf. The leaves asked for in one turn of the event loop (a lookup's matches, a batch page's
   * entries) are read together, in one statement per READ_LEAVES_AT_ONCE: one query each cost a round
   * trip and a connection of the pool, and a lookup of 16 matches was 17 queries.
   */
  readLeaf(index: bigint): Promise<Uint8Array | undefined> {
    return new Promise((resolve, reject) => {
      let waiting = this.leafReads.get(index)
      if (waiting === undefined) {
        waiting = []
        this.leafReads.set(index, waiting)
      }
      waiting.push({ resolve, reject })
      if (this.leafReads.size === 1 && waiting.length === 1) setImmediate(() => this.readAskedLeaves())
    })
  }

  private readAskedLeaves(): void {
    const asked = this.leafReads
    this.leafReads = new Map()
    const indexes = [...asked.keys()]
    for (let at = 0; at < indexes.length; at += READ_LEAVES_AT_ONCE) {
      const part = indexes.slice(at, at + READ_LEAVES_AT_ONCE)
      this.pool
        .query<{ idx: string; leaf: Buffer }>({
          name: 'ledger_read_leaves_at',
          text: 'SELECT idx, leaf FROM ledger_leaves WHERE idx = ANY($1::bigint[])',
          values: [part.map(String)],
        })
        .then(
          ({ rows }) => {
            const found = new Map(rows.map((row) => [BigInt(row.idx), row.leaf]))
            for (const index of part) for (const w of asked.get(index)!) w.resolve(found.get(index))
          },
          (err: unknown) => {
            for (const index of part) for (const w of asked.get(index)!) w.reject(err)
          },
        )
    }
  }

  async readLeaves(start: bigint, count: number): Promise<Uint8Array[]> {
    if (count <= 0) return []
    const { rows } = await this.pool.query<{ leaf: Buffer }>({
      name: 'ledger_read_leaves',
      text: 'SELECT leaf FROM ledger_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx',
      values: [start.toString(), (start + BigInt(count)).toString()],
    })
    return rows.map((row) => row.leaf)
  }

  async findEntries(keys: readonly DedupKey[]): Promise<(bigint | undefined)[]> {
    const found: (bigint | undefined)[] = new Array<bigint | undefined>(keys.length).fill(undefined)
    // Only the keys that may be logged: in the writing process, the filter knows the others never were.
    const filter = this.writtenFilter
    const asked: number[] = []
    keys.forEach((key, i) => {
      if (filter?.ready !== true || filter.keys.mightContain(dedupFilterKey(key))) asked.push(i)
    })
    if (asked.length === 0) return found
    this.dedupKeysRead += asked.length
    // As in a commit: the keys travel as two binary parameters, cut apart by the statement.
    const keyIds = Buffer.from(asked.map((i) => keys[i]!.keyId).join(''), 'hex')
    const payloadHashes = Buffer.from(asked.map((i) => keys[i]!.payloadHash).join(''), 'hex')
    if (keyIds.length !== 32 * asked.length || payloadHashes.length !== 32 * asked.length) {
      throw new Error('key ids and payload hashes are 64 lowercase hex digits')
    }
    const { rows } = await this.pool.query<{ ord: number; idx: string }>({
      name: 'ledger_find',
      text: FIND_SQL,
      values: [asked.length, keyIds, payloadHashes],
    })
    for (const row of rows) found[asked[row.ord - 1]!] = BigInt(row.idx)
    return found
  }

  async lookup(query: LookupQuery): Promise<LookupResult> {
    const keyIds =
      query.keyIds === undefined || query.keyIds.length === 0 ? undefined : [...new Set(query.keyIds)]
    const params: unknown[] = [
      lookupKeyHash(query.kind, query.value),
      query.size.toString(),
      query.from.toString(),
      query.limit + 1,
    ]
    const { rows } = await this.pool.query<{ total: string; idx: string | null; key_id: Buffer | null }>(
      keyIds === undefined
        ? { name: 'ledger_lookup', text: LOOKUP_SQL, values: params }
        : {
            name: 'ledger_lookup_by_keys',
            text: LOOKUP_BY_KEYS_SQL,
            values: [...params, keyIds.map(hexBytes)],
          },
    )
    const total = Number(rows[0]?.total ?? 0)
    const found = rows
      .filter((row) => row.idx !== null)
      .map((row) => ({ index: BigInt(row.idx!), keyId: row.key_id!.toString('hex') }))
    const matches = found.slice(0, query.limit)
    const next = found.length > query.limit ? found[query.limit]!.index : undefined
    return { total, matches, next }
  }

  async readWitnessed(): Promise<Uint8Array | undefined> {
    const { rows } = await this.pool.query<{ note: Buffer }>('SELECT note FROM ledger_witnessed')
    return rows[0]?.note
  }

  async writeWitnessed(note: Uint8Array): Promise<void> {
    await this.pool.query(
      `WITH saved AS (
         INSERT INTO ledger_witnessed (note) VALUES ($1) ON CONFLICT (singleton) DO UPDATE SET note = excluded.note
         RETURNING 1
       )
       SELECT pg_notify('${WITNESSED_CHANNEL}', '') FROM saved`,
      [Buffer.from(note.buffer, note.byteOffset, note.byteLength)],
    )
  }

  /** Values whose running count commits read from the database; the others were known to be new. */
  get countsRead(): number {
    return this.valuesCounted
  }

  /** Dedup keys that dedup reads asked the database for; the others were known never logged. */
  get dedupKeysAsked(): number {
    return this.dedupKeysRead
  }

  /** Resolves once this process's written filter is filled (true), or was dropped or failed (false). */
  async writtenFilterFilled(): Promise<boolean> {
    return (await this.writtenFilter?.filled) ?? false
  }

  async close(): Promise<void> {
    this.closing = true
    await this.writtenFilter?.filled
    await this.pool.end()
  }

  /**
   * Marks the batch's values that no lookup row was ever written for, and adds them and the batch's dedup
   * keys to the filter, synchronously in commit order (so a batch sees the values of every batch before
   * it, in flight or not). A commit from `previous` that does not follow this process's last one starts a
   * new filter: it holds the values and keys of the batches still in flight at once, and the database's as
   * its fill reads them.
   */
  private markUnseen(
    previous: bigint,
    values: ReadonlyMap<string, BatchValue>,
    entries: readonly DedupKey[],
  ): void {
    let filter = this.writtenFilter
    if (filter === undefined || previous !== this.nextCommitFrom) {
      const keys = new KeyFilter()
      for (const batch of this.valuesInFlight) {
        for (const value of batch.values.values()) keys.add(value.hash.toString('hex'))
        for (const entry of batch.entries) keys.add(dedupFilterKey(entry))
      }
      filter = this.writtenFilter = { keys, ready: false, filled: Promise.resolve(false) }
      filter.filled = this.fillWrittenFilter(filter)
    }
    for (const value of values.values()) {
      const hex = value.hash.toString('hex')
      value.unseen = filter.ready && !filter.keys.mightContain(hex)
      filter.keys.add(hex)
    }
    for (const entry of entries) filter.keys.add(dedupFilterKey(entry))
  }

  /**
   * Adds the value hash of every lookup row and the dedup key of every entry to `filter`, a page at a time
   * along each primary key, and marks it ready. A page of values starts after the last value of the one
   * before, so a value with many rows costs at most one page. Rows this process commits meanwhile are in it
   * already; rows another process commits meanwhile end this process's run of commits (its fence fails),
   * which drops the filter. Not fatal when it fails: counts and keys are read, as they were before it.
   */
  private async fillWrittenFilter(filter: WrittenFilter): Promise<boolean> {
    const current = () => !this.closing && this.writtenFilter === filter
    try {
      let after: Buffer = Buffer.alloc(0)
      for (;;) {
        if (!current()) return false
        const { rows } = await this.pool.query<{ value_hash: Buffer }>({
          name: 'ledger_fill_values',
          text: FILL_VALUES_SQL,
          values: [after, FILL_PAGE],
        })
        for (const { value_hash: hash } of rows) {
          if (!hash.equals(after)) filter.keys.add(hash.toString('hex'))
          after = hash
        }
        if (rows.length < FILL_PAGE) break
      }
      let afterKey: Buffer = Buffer.alloc(0)
      let afterPayload: Buffer = Buffer.alloc(0)
      for (;;) {
        if (!current()) return false
        const { rows } = await this.pool.query<{ key_id: Buffer; payload_hash: Buffer }>({
          name: 'ledger_fill_dedup',
          text: FILL_DEDUP_SQL,
          values: [afterKey, afterPayload, FILL_PAGE],
        })
        for (const row of rows) filter.keys.add(row.key_id.toString('hex') + row.payload_hash.toString('hex'))
        if (rows.length < FILL_PAGE) break
        afterKey = rows[rows.length - 1]!.key_id
        afterPayload = rows[rows.length - 1]!.payload_hash
      }
      if (!current()) return false
      filter.ready = true
      return true
    } catch (err) {
      if (!this.closing) console.error('filling the written filter failed; reading every key instead:', err)
      if (this.writtenFilter === filter) this.writtenFilter = undefined
      return false
    }
  }
}

/** Applies the migrations the database lacks, in order, under an advisory lock, in one transaction. */
async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY])
    await client.query(
      'CREATE TABLE IF NOT EXISTS ledger_schema (version int PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    )
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM ledger_schema',
    )
    const current = rows[0]?.version ?? 0
    const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version
    if (current > latest) {
      throw new Error(`the database's schema is version ${current}, newer than this program's ${latest}`)
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue
      await client.query(migration.sql)
      await client.query('INSERT INTO ledger_schema (version, description) VALUES ($1, $2)', [
        migration.version,
        migration.description,
      ])
    }
    await client.query('COMMIT')
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw err
  } finally {
    client.release()
  }
}

/** A submission queued for the sequencer by another process (ledger_pending), as the sequencer reads it. */
export interface PendingEntry {
  id: bigint
  leaf: Uint8Array
  leafHash: Uint8Array
  keyId: string
  payloadHash: string
  digests: string[]
  commits: string[]
}

/**
 * The queue of verified submissions between the processes of one log (ledger_pending): any process adds
 * what it verified; the sequencing process takes them in id order and removes them once committed. Rows
 * outlive their writer: a submission queued by a process that then died is still sequenced.
 */
export class PendingQueue {
  constructor(private readonly pool: pg.Pool) {}

  /** Queues entries (one statement) and notifies the sequencer. */
  async add(entries: readonly Omit<PendingEntry, 'id'>[]): Promise<void> {
    if (entries.length === 0) return
    await this.pool.query({
      name: 'ledger_pending_add',
      text: `WITH queued AS (
         INSERT INTO ledger_pending (leaf, leaf_hash, key_id, payload_hash, digests, commits)
         SELECT l, h, k, p, string_to_array(d, ' '), string_to_array(c, ' ')
         FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::bytea[], $5::text[], $6::text[]) AS q(l, h, k, p, d, c)
         RETURNING 1
       )
       SELECT pg_notify('${PENDING_CHANNEL}', ''), (SELECT count(*) FROM queued)`,
      values: [
        entries.map((e) => Buffer.from(e.leaf.buffer, e.leaf.byteOffset, e.leaf.byteLength)),
        entries.map((e) => Buffer.from(e.leafHash.buffer, e.leafHash.byteOffset, e.leafHash.byteLength)),
        entries.map((e) => hexBytes(e.keyId)),
        entries.map((e) => hexBytes(e.payloadHash)),
        // A text[][] parameter must be rectangular: each list travels as one string.
        entries.map((e) => e.digests.join(' ')),
        entries.map((e) => e.commits.join(' ')),
      ],
    })
  }

  /** Up to `limit` queued entries with ids above `after`, in id order. */
  async take(after: bigint, limit: number): Promise<PendingEntry[]> {
    const { rows } = await this.pool.query<{
      id: string
      leaf: Buffer
      leaf_hash: Buffer
      key_id: Buffer
      payload_hash: Buffer
      digests: string
      commits: string
    }>({
      name: 'ledger_pending_take',
      text: `SELECT id, leaf, leaf_hash, key_id, payload_hash, array_to_string(digests, ' ') AS digests,
              array_to_string(commits, ' ') AS commits
       FROM ledger_pending WHERE id > $1 ORDER BY id LIMIT $2`,
      values: [after.toString(), limit],
    })
    return rows.map((row) => ({
      id: BigInt(row.id),
      leaf: row.leaf,
      leafHash: row.leaf_hash,
      keyId: row.key_id.toString('hex'),
      payloadHash: row.payload_hash.toString('hex'),
      digests: row.digests === '' ? [] : row.digests.split(' '),
      commits: row.commits === '' ? [] : row.commits.split(' '),
    }))
  }

  /** Removes sequenced entries. */
  async remove(ids: readonly bigint[]): Promise<void> {
    if (ids.length === 0) return
    await this.pool.query({
      name: 'ledger_pending_remove',
      text: 'DELETE FROM ledger_pending WHERE id = ANY($1::bigint[])',
      values: [ids.map(String)],
    })
  }
}
