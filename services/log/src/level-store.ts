import { Level } from 'level'
import type {
  CommittedState,
  DedupKey,
  IntegratedBatch,
  LogMeta,
  LogStore,
  LookupKind,
  LookupMatch,
  LookupQuery,
  LookupResult,
} from './store.js'

/*
 * Key layout (utf8 keys, binary values; docs/design/log-storage.md explains the choices):
 *   meta                                   JSON {origin, verifierKey, createdAt}
 *   state                                  v1 | size u64 | range length u32 | compact range | checkpoint note
 *   t/<level>/<index hex16>                hash tile (partial: overwritten as it grows; full: written once)
 *   e/<index hex16>                        entry bundle (same rule)
 *   x/<keyid>/<payload hash>               index u64 of the entry (dedup)
 *   d/<sha256:hex>/<index hex16>           key id (ascii): every entry naming that subject digest
 *   dk/<sha256:hex>/<keyid>/<index hex16>  empty: the same, per key id, for filtered lookups
 *   c/<commit>/<index hex16>, ck/...       the same for source commits
 *   n/d/<sha256:hex>, n/c/<commit>         number of entries in d/ (c/) for that value, decimal ascii
 * Fixed-width hex indexes make key order equal to index order.
 */

const STATE_VERSION = 1
const WRITE_BUFFER_BYTES = 32 * 1024 * 1024

function hex16(index: bigint): string {
  return index.toString(16).padStart(16, '0')
}

function u64(value: bigint): Buffer {
  const out = Buffer.alloc(8)
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

/**
 * LogStore over an embedded LevelDB (the `level` package). Every commit is one atomic `batch` with
 * `sync: true`, so it costs one fsync whatever its size. Lookups read from one LevelDB snapshot, so the
 * state, the counts and the index rows they return agree.
 */
export class LevelStore implements LogStore {
  private constructor(private readonly db: Level<string, Buffer>) {}

  /** Opens (creating if missing) the database in directory `location`. */
  static async open(location: string): Promise<LevelStore> {
    const db = new Level<string, Buffer>(location, {
      keyEncoding: 'utf8',
      valueEncoding: 'buffer',
      // A larger memtable than LevelDB's 4 MiB: fewer flushes and compactions while ingesting.
      writeBufferSize: WRITE_BUFFER_BYTES,
    })
    await db.open()
    return new LevelStore(db)
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

  async commit(batch: IntegratedBatch): Promise<void> {
    // Counters first: one writer, so the counts read here cannot change before this batch lands.
    const counts = new Map<string, number>()
    for (const entry of batch.entries) {
      for (const [kind, values] of [
        ['digest', entry.digests],
        ['commit', entry.commits],
      ] as const) {
        // A statement naming the same digest twice is still one match.
        for (const value of new Set(values)) {
          const countKey = `${PREFIX[kind].count}${value}`
          counts.set(countKey, (counts.get(countKey) ?? 0) + 1)
        }
      }
    }
    const countKeys = [...counts.keys()]
    const old = countKeys.length === 0 ? [] : await this.db.getMany(countKeys)

    // A chained batch: with `sync`, the array form of batch() costs several times more CPU per operation.
    const ops = this.db.batch()
    for (const tile of batch.tiles) ops.put(`t/${tile.level}/${hex16(tile.index)}`, toBuffer(tile.data))
    for (const bundle of batch.bundles) ops.put(`e/${hex16(bundle.index)}`, toBuffer(bundle.data))
    const empty = Buffer.alloc(0)
    for (const entry of batch.entries) {
      const index = hex16(entry.index)
      const keyId = Buffer.from(entry.keyId, 'latin1')
      ops.put(`x/${entry.keyId}/${entry.payloadHash}`, u64(entry.index))
      for (const [kind, values] of [
        ['digest', entry.digests],
        ['commit', entry.commits],
      ] as const) {
        const prefix = PREFIX[kind]
        for (const value of new Set(values)) {
          ops.put(`${prefix.all}${value}/${index}`, keyId)
          ops.put(`${prefix.byKey}${value}/${entry.keyId}/${index}`, empty)
        }
      }
    }
    countKeys.forEach((key, i) => {
      const before = old[i] === undefined ? 0 : Number(old[i]!.toString('latin1'))
      ops.put(key, Buffer.from(String(before + counts.get(key)!), 'latin1'))
    })
    ops.put('state', encodeState(batch.state))
    await ops.write({ sync: true })
  }

  async readTile(level: number, index: bigint): Promise<Uint8Array | undefined> {
    return this.db.get(`t/${level}/${hex16(index)}`)
  }

  async readEntryBundle(index: bigint): Promise<Uint8Array | undefined> {
    return this.db.get(`e/${hex16(index)}`)
  }

  async findEntries(keys: readonly DedupKey[]): Promise<(bigint | undefined)[]> {
    if (keys.length === 0) return []
    const raw = await this.db.getMany(keys.map((key) => `x/${key.keyId}/${key.payloadHash}`))
    return raw.map((value) => (value === undefined ? undefined : value.readBigUInt64BE(0)))
  }

  async lookup(query: LookupQuery): Promise<LookupResult> {
    const snapshot = this.db.snapshot()
    try {
      const rawState = await this.db.get('state', { snapshot })
      if (rawState === undefined) {
        throw new Error('lookup before the first commit')
      }
      const state = decodeState(rawState)
      const prefix = PREFIX[query.kind]
      const rawCount = await this.db.get(`${prefix.count}${query.value}`, { snapshot })
      const total = rawCount === undefined ? 0 : Number(rawCount.toString('latin1'))
      const want = query.limit + 1
      let found: LookupMatch[] = []
      const keyIds = [...new Set(query.keyIds ?? [])].sort()
      if (keyIds.length === 0) {
        const base = `${prefix.all}${query.value}/`
        for await (const [key, value] of this.db.iterator({
          gte: base + hex16(query.from),
          lt: base + '~',
          limit: want,
          snapshot,
        })) {
          found.push({ index: BigInt('0x' + key.slice(base.length)), keyId: value.toString('latin1') })
        }
      } else {
        // Each key id has its own sorted range: take the first `want` of each, merge, keep `want`.
        for (const keyId of keyIds) {
          const base = `${prefix.byKey}${query.value}/${keyId}/`
          for await (const key of this.db.keys({
            gte: base + hex16(query.from),
            lt: base + '~',
            limit: want,
            snapshot,
          })) {
            found.push({ index: BigInt('0x' + key.slice(base.length)), keyId })
          }
        }
        found.sort((a, b) => (a.index < b.index ? -1 : a.index > b.index ? 1 : 0))
        found = found.slice(0, want)
      }
      const matches = found.slice(0, query.limit)
      const next = found.length > query.limit ? found[query.limit]!.index : undefined
      return { state, total, matches, next }
    } finally {
      await snapshot.close()
    }
  }

  async close(): Promise<void> {
    await this.db.close()
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
