import { Level } from 'level'
import { KeyFilter } from './key-filter.js'
import type {
  CommittedState,
  DedupKey,
  IndexedEntry,
  IntegratedBatch,
  LogBackend,
  LogMeta,
  LookupKind,
  LookupMatch,
  LookupQuery,
  LookupResult,
} from './store.js'
import { OrderedCommits } from './store.js'

/*
 * Key layout (utf8 keys, binary values; docs/design/log-storage.md explains the choices):
 *   meta                                   JSON {origin, verifierKey, createdAt}
 *   state                                  v2 | size u64 | range length u32 | compact range | checkpoint note
 *   w                                      the newest witnessed checkpoint (note with cosignatures)
 *   t/<level>/<index hex16>                hash tile (partial: overwritten as it grows; full: written once)
 *   l/<index hex16>                        leaf of entry <index>, written once
 *   x/<keyid>/<payload hash>               index u64 of the entry (dedup)
 *   d/<alg:hex>/<index hex16>              key id (ascii): every entry naming that subject digest
 *   dk/<alg:hex>/<keyid>/<index hex16>     empty: the same, per key id, for filtered lookups
 *   c/<commit>/<index hex16>, ck/...       the same for source commits
 *   n/d/<alg:hex>, n/c/<commit>            number of entries in d/ (c/) for that value, decimal ascii
 * Fixed-width hex indexes make key order equal to index order.
 */

/**
 * Version 1 stored entry bundles (`e/<N>`, rewritten as they grew) instead of leaves: a data directory
 * of that layout is refused rather than misread.
 */
const STATE_VERSION = 2
const WRITE_BUFFER_BYTES = 32 * 1024 * 1024
const MAX_OPEN_FILES = 74
/** Index counts kept in memory before the cache starts over (each is a short key and a number). */
const MAX_CACHED_COUNTS = 50_000
/** Keys per native read while filling the key filter. */
const FILTER_SCAN_CHUNK = 4096

/** Observers and fault hooks of a LevelStore (diagnostics and tests; none by default). */
export interface LevelStoreOptions {
  /** Called with the keys of every point read of dedup rows and counts, before it runs. */
  onRead?: (keys: readonly string[]) => void
  /** Called before each commit's write; a throw fails that commit as a failing disk would. */
  beforeWrite?: () => void
}

function hex16(index: bigint): string {
  return index.toString(16).padStart(16, '0')
}

function u64(value: bigint): Buffer {
  const out = Buffer.allocUnsafe(8)
  out.writeBigUInt64BE(value)
  return out
}

export function encodeState(state: CommittedState): Buffer {
  const head = Buffer.alloc(13)
  head[0] = STATE_VERSION
  head.writeBigUInt64BE(state.size, 1)
  head.writeUInt32BE(state.compactRange.length, 9)
  return Buffer.concat([head, state.compactRange, state.checkpoint])
}

export function decodeState(bytes: Uint8Array): CommittedState {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.length >= 1 && buf[0] === 1) {
    throw new Error('the database has the layout of an older version (entry bundles, state v1)')
  }
  if (buf.length < 13 || buf[0] !== STATE_VERSION) throw new Error('stored log state has an unknown format')
  const rangeLength = buf.readUInt32BE(9)
  if (13 + rangeLength > buf.length) throw new Error('stored log state is truncated')
  return {
    size: buf.readBigUInt64BE(1),
    compactRange: new Uint8Array(buf.subarray(13, 13 + rangeLength)),
    checkpoint: new Uint8Array(buf.subarray(13 + rangeLength)),
  }
}

const PREFIX: Record<LookupKind, { all: string; byKey: string; count: string }> = {
  digest: { all: 'd/', byKey: 'dk/', count: 'n/d/' },
  commit: { all: 'c/', byKey: 'ck/', count: 'n/c/' },
}

function dedupKey(entry: DedupKey): string {
  return `x/${entry.keyId}/${entry.payloadHash}`
}

function leafKey(index: bigint): string {
  return `l/${hex16(index)}`
}

/** The values of `values` without repeats, in order (most statements name one digest and one commit). */
function distinct(values: readonly string[]): readonly string[] {
  return values.length <= 1 ? values : [...new Set(values)]
}

/** The count keys an entry adds one to: each distinct digest and commit once. */
function countKeysOf(entry: IndexedEntry): string[] {
  const keys: string[] = []
  for (const value of distinct(entry.digests)) keys.push(`${PREFIX.digest.count}${value}`)
  for (const value of distinct(entry.commits)) keys.push(`${PREFIX.commit.count}${value}`)
  return keys
}

/** Rows past a lookup's matches that its first iterator reads, to count the rows past its tree at once. */
const ROWS_PAST_TREE_READ_AHEAD = 16

/**
 * LogStore (and WitnessedStore) over an embedded LevelDB (the `level` package). Every commit is one atomic
 * chained batch with `sync: true`, so it costs one fsync whatever its size. Lookups read from one LevelDB
 * snapshot, so the counts and the index rows they return agree. One process at a time: LevelDB's own lock
 * keeps a second one out of the directory.
 *
 * The index counts (`n/`) are read-modify-write. Their current values live in an in-memory cache that is
 * authoritative: commit() puts each new value there before writing it, and the cache is only emptied all
 * at once (when it holds over 50,000 counts, at the start of a commit, or after a failed commit); a commit
 * reads the counts it does not hold, in one read.
 *
 * Most reads would find nothing: a new entry has no dedup row, and a new digest or commit no count. A
 * Bloom filter over every dedup and count key ever written (key-filter.ts, filled from disk in the
 * background after open, about 2 bytes per key) answers "certainly never written" without a read; a count
 * never written is 0. Only keys the filter may have seen are read, so a typical submission costs no read.
 */
export class LevelStore implements LogBackend {
  private counts = new Map<string, number>()
  private readonly ordered = new OrderedCommits()
  /** Every dedup and count key written, once filled (fillFilter). */
  private readonly written = new KeyFilter()
  private filterReady = false
  private closing = false
  private readonly filling: Promise<void>

  private constructor(
    private readonly db: Level<string, Buffer>,
    private readonly options: LevelStoreOptions,
  ) {
    this.filling = this.fillFilter().catch((err: unknown) => {
      // Not fatal: without the filter every dedup row and count is read, as they were before it.
      if (!this.closing) console.error('filling the key filter failed; reading every key instead:', err)
    })
  }

  /** Opens (creating if missing) the database in directory `location`. */
  static async open(location: string, options: LevelStoreOptions = {}): Promise<LevelStore> {
    const db = new Level<string, Buffer>(location, {
      keyEncoding: 'utf8',
      valueEncoding: 'buffer',
      // A larger memtable than LevelDB's 4 MiB: fewer flushes and compactions while ingesting.
      writeBufferSize: WRITE_BUFFER_BYTES,
      // LevelDB reads its open table files through mmap, and every page read stays in the process's RSS
      // (file-backed) while the table is open: with the default 1,000 open files, re-reading a log of a
      // million entries (the index's rebuild) held over 1 GiB of them. The table cache keeps this many
      // tables (minus 10) open, so a full read of the log leaves at most that many mapped (64 tables of
      // 2 MiB: at most 128 MiB, measured at a million entries with a witness in `npm run bench -- vindex`).
      maxOpenFiles: MAX_OPEN_FILES,
    })
    await db.open()
    return new LevelStore(db, options)
  }

  async readMeta(): Promise<LogMeta | undefined> {
    const raw = await this.db.get('meta')
    if (raw === undefined) return undefined
    const meta = JSON.parse(raw.toString('utf8')) as LogMeta
    return { origin: meta.origin, verifierKey: meta.verifierKey, createdAt: meta.createdAt }
  }

  async writeMeta(meta: LogMeta): Promise<void> {
    const value = Buffer.from(
      JSON.stringify({ origin: meta.origin, verifierKey: meta.verifierKey, createdAt: meta.createdAt }),
    )
    await this.db.put('meta', value, { sync: true })
  }

  async readState(): Promise<CommittedState | undefined> {
    const raw = await this.db.get('state')
    return raw === undefined ? undefined : decodeState(raw)
  }

  commit(batch: IntegratedBatch): Promise<void> {
    // One write at a time: the count cache below is exact only when no other commit is in flight.
    return this.ordered.run(async (earlier) => {
      await earlier
      await this.write(batch)
    })
  }

  private async write(batch: IntegratedBatch): Promise<void> {
    if (this.counts.size > MAX_CACHED_COUNTS) this.endCountEpoch()
    const perKey = new Map<string, number>()
    for (const entry of batch.entries) {
      for (const key of countKeysOf(entry)) perKey.set(key, (perKey.get(key) ?? 0) + 1)
    }
    // Counts not cached: one read of those that may exist. No other commit is in flight, so it is exact.
    const missing: string[] = []
    for (const key of perKey.keys()) {
      if (this.counts.has(key)) continue
      if (this.mayHaveWritten(key)) missing.push(key)
      else this.counts.set(key, 0)
    }
    // Into the filter before anything is written: a key that does not land only costs a read later.
    for (const key of perKey.keys()) this.written.add(key)
    for (const entry of batch.entries) this.written.add(dedupKey(entry))
    if (missing.length > 0) {
      this.options.onRead?.(missing)
      const raw = await this.db.getMany(missing)
      missing.forEach((key, i) => this.counts.set(key, parseCount(raw[i])))
    }

    // A chained batch: with `sync`, the array form of batch() costs several times more CPU per operation.
    const ops = this.db.batch()
    for (const tile of batch.tiles) ops.put(`t/${tile.level}/${hex16(tile.index)}`, toBuffer(tile.data))
    const empty = Buffer.alloc(0)
    for (const entry of batch.entries) {
      const index = hex16(entry.index)
      const keyId = Buffer.from(entry.keyId, 'latin1')
      ops.put(`l/${index}`, toBuffer(entry.leaf))
      ops.put(dedupKey(entry), u64(entry.index))
      // A statement naming the same digest twice is still one match.
      for (const value of distinct(entry.digests)) {
        ops.put(`${PREFIX.digest.all}${value}/${index}`, keyId)
        ops.put(`${PREFIX.digest.byKey}${value}/${entry.keyId}/${index}`, empty)
      }
      for (const value of distinct(entry.commits)) {
        ops.put(`${PREFIX.commit.all}${value}/${index}`, keyId)
        ops.put(`${PREFIX.commit.byKey}${value}/${entry.keyId}/${index}`, empty)
      }
    }
    for (const [key, added] of perKey) {
      const count = this.counts.get(key)! + added
      // Into the cache before the write: a read ahead that finishes during it must not store an old value.
      this.counts.set(key, count)
      ops.put(key, Buffer.from(String(count), 'latin1'))
    }
    ops.put('state', encodeState(batch.state))
    try {
      try {
        this.options.beforeWrite?.()
      } catch (err) {
        await ops.close()
        throw err
      }
      await ops.write({ sync: true })
    } catch (err) {
      // The cache may hold counts that never reached the disk (or did: unknown). Start over from the disk.
      this.endCountEpoch()
      throw err
    }
  }

  private endCountEpoch(): void {
    this.counts = new Map()
  }

  async readTile(level: number, index: bigint): Promise<Uint8Array | undefined> {
    return this.db.get(`t/${level}/${hex16(index)}`)
  }

  async readLeaf(index: bigint): Promise<Uint8Array | undefined> {
    return this.db.get(leafKey(index))
  }

  async readLeaves(start: bigint, count: number): Promise<Uint8Array[]> {
    if (count <= 0) return []
    // Values only, in one native read for a whole bundle (the default 16 KiB watermark would take a
    // dozen). Leaves are written by whole batches from the old size on, so the range has no holes.
    return this.db
      .values({ gte: leafKey(start), lt: leafKey(start + BigInt(count)), highWaterMarkBytes: 4 << 20 })
      .all()
  }

  async findEntries(keys: readonly DedupKey[]): Promise<(bigint | undefined)[]> {
    const found: (bigint | undefined)[] = new Array<bigint | undefined>(keys.length).fill(undefined)
    // Only the keys the filter may have seen are read: a new entry's dedup row is known absent.
    const reads: string[] = []
    const readAt: number[] = []
    keys.forEach((key, i) => {
      const id = dedupKey(key)
      if (this.mayHaveWritten(id)) {
        reads.push(id)
        readAt.push(i)
      }
    })
    if (reads.length === 0) return found
    this.options.onRead?.(reads)
    const raw = await this.db.getMany(reads)
    readAt.forEach((at, i) => {
      const value = raw[i]
      if (value !== undefined) found[at] = value.readBigUInt64BE(0)
    })
    return found
  }

  /** Resolves once the key filter is filled (true), or has given up (false: every key is read). */
  async keyFilterFilled(): Promise<boolean> {
    await this.filling
    return this.filterReady
  }

  /** False when `key` (a dedup row or a count) was certainly never written; true when it may have been. */
  private mayHaveWritten(key: string): boolean {
    return !this.filterReady || this.written.mightContain(key)
  }

  /**
   * Fills the filter with every dedup and count key on disk, in the background: until it is done,
   * mayHaveWritten says yes to everything. commit() adds its keys from the start, so keys written during
   * the scan (after its snapshot) are in the filter too.
   */
  private async fillFilter(): Promise<void> {
    for (const [gte, lt] of [
      ['n/', 'n0'],
      ['x/', 'x0'],
    ] as const) {
      const keys = this.db.keys({ gte, lt })
      try {
        for (;;) {
          if (this.closing) return
          const chunk = await keys.nextv(FILTER_SCAN_CHUNK)
          if (chunk.length === 0) break
          for (const key of chunk) this.written.add(key)
        }
      } finally {
        await keys.close()
      }
    }
    this.filterReady = true
  }

  async lookup(query: LookupQuery): Promise<LookupResult> {
    const snapshot = this.db.snapshot()
    try {
      const prefix = PREFIX[query.kind]
      const rawCount = await this.db.get(`${prefix.count}${query.value}`, { snapshot })
      let total = parseCount(rawCount)
      const base = `${prefix.all}${query.value}/`
      const want = query.limit + 1
      const end = query.size
      let found: LookupMatch[] = []
      const keyIds = [...new Set(query.keyIds ?? [])].sort()
      // Entries past the tree asked about (committed since its checkpoint) are not counted: few, unless its
      // checkpoint is far behind (a witness quorum lagging). A value's rows are usually few, so one
      // iterator reads them all from `from` on, matches and rows past the tree alike; only when there are
      // more (a popular or flooded value) are the rows past the tree counted by a second iterator.
      let beyondCounted = false
      if (query.from < end) {
        if (keyIds.length === 0) {
          const limit = want + ROWS_PAST_TREE_READ_AHEAD
          let rows = 0
          for await (const [key, value] of this.db.iterator({
            gte: base + hex16(query.from),
            lt: base + '~',
            limit,
            snapshot,
          })) {
            rows++
            const index = BigInt('0x' + key.slice(base.length))
            if (index >= end) total--
            else if (found.length < want) found.push({ index, keyId: value.toString('latin1') })
          }
          if (rows < limit) beyondCounted = true
          // Not read to the end: what was subtracted is counted again below, in full.
          else total = parseCount(rawCount)
        } else {
          // Each key id has its own sorted range: take the first `want` of each, merge, keep `want`.
          for (const keyId of keyIds) {
            const keyBase = `${prefix.byKey}${query.value}/${keyId}/`
            for await (const key of this.db.keys({
              gte: keyBase + hex16(query.from),
              lt: keyBase + hex16(end),
              limit: want,
              snapshot,
            })) {
              found.push({ index: BigInt('0x' + key.slice(keyBase.length)), keyId })
            }
          }
          found.sort((a, b) => (a.index < b.index ? -1 : a.index > b.index ? 1 : 0))
          found = found.slice(0, want)
        }
      }
      if (!beyondCounted) {
        for await (const _ of this.db.keys({ gte: base + hex16(query.size), lt: base + '~', snapshot })) {
          total--
        }
      }
      const matches = found.slice(0, query.limit)
      const next = found.length > query.limit ? found[query.limit]!.index : undefined
      return { total, matches, next }
    } finally {
      await snapshot.close()
    }
  }

  async readWitnessed(): Promise<Uint8Array | undefined> {
    return this.db.get('w')
  }

  async writeWitnessed(note: Uint8Array): Promise<void> {
    await this.db.put('w', toBuffer(note), { sync: true })
  }

  async close(): Promise<void> {
    this.closing = true
    await this.filling
    await this.db.close()
  }
}

function parseCount(raw: Buffer | undefined): number {
  return raw === undefined ? 0 : Number(raw.toString('latin1'))
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
