// An in-memory LogStore that enforces the storage contract: it fails the test when a full tile is written
// again, when a partial one is replaced by content that does not extend it, when a leaf is written twice or
// out of order, when two commits overlap, or when a batch does not grow the tree.
import { bytesEqual } from '@ledger/tlog'
import type {
  CommittedState,
  DedupKey,
  IntegratedBatch,
  LogBackend,
  LogMeta,
  LookupMatch,
  LookupQuery,
  LookupResult,
} from '../src/store.js'
import { OrderedCommits } from '../src/store.js'

const FULL_TILE_BYTES = 256 * 32

export class MemoryStore implements LogBackend {
  meta: LogMeta | undefined
  state: CommittedState | undefined
  readonly tiles = new Map<string, Uint8Array>()
  readonly leaves: Uint8Array[] = []
  readonly dedup = new Map<string, bigint>()
  readonly rows: { kind: 'digest' | 'commit'; value: string; match: LookupMatch }[] = []
  witnessed: Uint8Array | undefined
  commits = 0
  private committing = false
  private readonly ordered = new OrderedCommits()

  /**
   * `beforeWrite`: called before each commit applies; a throw fails that commit, writing nothing.
   * `holdCommit`: awaited by each commit as soon as it is called (before it waits for the one before it),
   * to hold commits in flight; a rejection fails that commit.
   */
  constructor(
    private readonly options: {
      beforeWrite?: () => void
      holdCommit?: (batch: IntegratedBatch) => Promise<void>
    } = {},
  ) {}

  async readMeta(): Promise<LogMeta | undefined> {
    return this.meta
  }

  async writeMeta(meta: LogMeta): Promise<void> {
    this.meta = meta
  }

  async readState(): Promise<CommittedState | undefined> {
    return this.state
  }

  commit(batch: IntegratedBatch): Promise<void> {
    return this.ordered.run(async (earlier) => {
      // A commit takes a moment, as a real one does: reads, and the next commit's call, may run meanwhile.
      await new Promise((resolve) => setImmediate(resolve))
      await this.options.holdCommit?.(batch)
      await earlier
      this.options.beforeWrite?.()
      if (this.committing) throw new Error('contract: two commits applied at once')
      this.committing = true
      try {
        this.apply(batch)
      } finally {
        this.committing = false
      }
    })
  }

  private apply(batch: IntegratedBatch): void {
    if (this.state !== undefined && batch.state.size <= this.state.size && batch.entries.length > 0) {
      throw new Error(`contract: batch does not grow the tree (${this.state.size} -> ${batch.state.size})`)
    }
    batch.entries.forEach((entry, i) => {
      if (entry.index !== BigInt(this.leaves.length + i)) {
        throw new Error(`contract: leaf ${entry.index} written out of order or twice`)
      }
    })
    if (BigInt(this.leaves.length + batch.entries.length) !== batch.state.size) {
      throw new Error('contract: the state size is not the number of leaves')
    }
    for (const tile of batch.tiles) {
      this.grow(this.tiles, `${tile.level}/${tile.index}`, tile.data, (old) => old.length === FULL_TILE_BYTES)
    }
    for (const entry of batch.entries) {
      this.leaves.push(entry.leaf.slice())
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

  async readLeaf(index: bigint): Promise<Uint8Array | undefined> {
    return this.leaves[Number(index)]
  }

  async readLeaves(start: bigint, count: number): Promise<Uint8Array[]> {
    return this.leaves.slice(Number(start), Number(start) + count)
  }

  async findEntries(entries: readonly DedupKey[]): Promise<(bigint | undefined)[]> {
    return entries.map((key) => this.dedup.get(`${key.keyId}/${key.payloadHash}`))
  }

  async lookup(query: LookupQuery): Promise<LookupResult> {
    const rows = this.rows.filter(
      (row) => row.kind === query.kind && row.value === query.value && row.match.index < query.size,
    )
    const wanted = new Set(query.keyIds ?? [])
    const matches = rows
      .map((row) => row.match)
      .filter((m) => m.index >= query.from && (wanted.size === 0 || wanted.has(m.keyId)))
    return { total: rows.length, matches: matches.slice(0, query.limit), next: matches[query.limit]?.index }
  }

  async readWitnessed(): Promise<Uint8Array | undefined> {
    return this.witnessed
  }

  async writeWitnessed(note: Uint8Array): Promise<void> {
    this.witnessed = note.slice()
  }

  async close(): Promise<void> {}
}
