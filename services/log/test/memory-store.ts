// An in-memory LogStore that enforces the storage contract: it fails the test when a full tile or
// bundle is written again, when a partial one is replaced by content that does not extend it, or when a
// batch does not grow the tree.
import { bytesEqual } from '@ledger/tlog'
import type {
  CommittedState,
  DedupKey,
  IntegratedBatch,
  LogMeta,
  LogStore,
  LookupMatch,
  LookupQuery,
  LookupResult,
} from '../src/store.js'

const FULL_TILE_BYTES = 256 * 32

function countEntries(bundle: Uint8Array): number {
  let offset = 0
  let count = 0
  while (offset < bundle.length) {
    offset += 2 + ((bundle[offset]! << 8) | bundle[offset + 1]!)
    count++
  }
  return count
}

export class MemoryStore implements LogStore {
  meta: LogMeta | undefined
  state: CommittedState | undefined
  readonly tiles = new Map<string, Uint8Array>()
  readonly bundles = new Map<string, Uint8Array>()
  readonly dedup = new Map<string, bigint>()
  readonly rows: { kind: 'digest' | 'commit'; value: string; match: LookupMatch }[] = []
  commits = 0

  async readMeta(): Promise<LogMeta | undefined> {
    return this.meta
  }

  async writeMeta(meta: LogMeta): Promise<void> {
    this.meta = meta
  }

  async readState(): Promise<CommittedState | undefined> {
    return this.state
  }

  async commit(batch: IntegratedBatch): Promise<void> {
    if (this.state !== undefined && batch.state.size <= this.state.size && batch.entries.length > 0) {
      throw new Error(`contract: batch does not grow the tree (${this.state.size} -> ${batch.state.size})`)
    }
    for (const tile of batch.tiles) {
      this.grow(this.tiles, `${tile.level}/${tile.index}`, tile.data, (old) => old.length === FULL_TILE_BYTES)
    }
    for (const bundle of batch.bundles) {
      this.grow(this.bundles, `${bundle.index}`, bundle.data, (old) => countEntries(old) === 256)
    }
    for (const entry of batch.entries) {
      this.dedup.set(`${entry.keyId}/${entry.payloadHash}`, entry.index)
      for (const value of new Set(entry.digests)) {
        this.rows.push({ kind: 'digest', value, match: { index: entry.index, keyId: entry.keyId } })
      }
      for (const value of new Set(entry.commits)) {
        this.rows.push({ kind: 'commit', value, match: { index: entry.index, keyId: entry.keyId } })
      }
    }
    this.state = batch.state
    this.commits++
  }

  private grow(
    map: Map<string, Uint8Array>,
    key: string,
    data: Uint8Array,
    isFull: (old: Uint8Array) => boolean,
  ) {
    const old = map.get(key)
    if (old !== undefined) {
      if (isFull(old)) throw new Error(`contract: full tile ${key} written again`)
      if (data.length <= old.length || !bytesEqual(data.subarray(0, old.length), old)) {
        throw new Error(`contract: tile ${key} replaced by content that does not extend it`)
      }
    }
    map.set(key, data.slice())
  }

  async readTile(level: number, index: bigint): Promise<Uint8Array | undefined> {
    return this.tiles.get(`${level}/${index}`)
  }

  async readEntryBundle(index: bigint): Promise<Uint8Array | undefined> {
    return this.bundles.get(`${index}`)
  }

  async findEntries(keys: readonly DedupKey[]): Promise<(bigint | undefined)[]> {
    return keys.map((key) => this.dedup.get(`${key.keyId}/${key.payloadHash}`))
  }

  async lookup(query: LookupQuery): Promise<LookupResult> {
    const rows = this.rows.filter((row) => row.kind === query.kind && row.value === query.value)
    const wanted = new Set(query.keyIds ?? [])
    const matches = rows
      .map((row) => row.match)
      .filter((m) => m.index >= query.from && (wanted.size === 0 || wanted.has(m.keyId)))
    return {
      state: this.state!,
      total: rows.length,
      matches: matches.slice(0, query.limit),
      next: matches[query.limit]?.index,
    }
  }

  async close(): Promise<void> {}
}
