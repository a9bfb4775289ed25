import { Level } from 'level'
import type { EntryOutcome } from './verify-core.js'

/** The monitor's position: the last verified checkpoint, and how many of its entries are indexed. */
export interface MonitorState {
  origin: string
  /** The log key (or policy log keys) the state was verified with, to refuse another log's data dir. */
  logKeys: string[]
  size: bigint
  root: Uint8Array
  /** The signed checkpoint note, as received. */
  checkpoint: string
  /** Entries [0, indexed) are re-verified and indexed; indexed <= size. */
  indexed: bigint
}

/**
 * Where the audit of the log's verifiable index stands: the output log's last verified checkpoint (its
 * key pinned on first use), how many of its leaves are checked, and the input size of the last one.
 */
export interface IndexAuditState {
  verifierKey: string
  size: bigint
  root: Uint8Array
  /** The output log's signed checkpoint note, as received. */
  checkpoint: string
  /** Output leaves [0, checked) are checked against the monitor's own map. */
  checked: bigint
  /** The input size the last checked leaf states (undefined before the first). */
  inputSize: bigint | undefined
}

/** One indexed entry: its key and index keys, or why it failed re-verification. */
export type EntryRecord =
  { keyId: string; digests: string[]; commits: string[]; subjects: [string, string][] } | { bad: string }

/** The first entries seen for one (commit, subject name), one per distinct digest: for conflict alerts. */
export type SubjectRecord = { digest: string; index: number; keyId: string }[]

/** One batch of indexing: the records of entries [from, to), index rows, subject records, new `indexed`. */
export interface IndexBatch {
  from: bigint
  records: EntryRecord[]
  subjects: Map<string, SubjectRecord>
  indexed: bigint
}

function hex16(index: bigint | number): string {
  return index.toString(16).padStart(16, '0')
}

/** The key of the subject record of (commit, subject name) in IndexBatch.subjects and readSubjects. */
export function subjectKey(commit: string, name: string): string {
  // The commit has a fixed alphabet and no '/', so the name after it cannot be confused with it.
  return `s/${commit}/${name}`
}

/**
 * Where the monitor keeps its position and its index of the log (the contract every backend keeps; one
 * conformance suite, packages/monitor/test/monitor-store-conformance.ts, runs against each):
 * - readState returns what the last writeState or writeIndexBatch wrote (undefined before any); each
 *   write is durable when its promise resolves, and atomic: after a crash, a reader sees all of a batch
 *   and its state or none of it.
 * - writeIndexBatch stores records of entries [from, from + records.length): readEntry(i) returns them;
 *   matches() finds each good record under each of its digests and commits (bad records under none);
 *   subject records replace the stored ones of the same key.
 * - matches(query, below) returns only entries with index < below, each with the key id it was stored with.
 * - readEntries(from, count) returns what readEntry would for each, up to the first missing record.
 * - The store is used by one monitor at a time; open fails when another holds it.
 */
export interface MonitorStore {
  readState(): Promise<MonitorState | undefined>
  writeState(state: MonitorState): Promise<void>
  writeIndexBatch(state: MonitorState, batch: IndexBatch): Promise<void>
  readSubjects(pairs: readonly [commit: string, name: string][]): Promise<Map<string, SubjectRecord>>
  readEntry(index: bigint): Promise<EntryRecord | undefined>
  /** The records of entries [from, from + count), in order, stopping at the first one missing. */
  readEntries(from: bigint, count: number): Promise<EntryRecord[]>
  matches(query: { digest: string } | { commit: string }, below: bigint): Promise<Map<number, string>>
  /** The index audit's state (undefined before the first write); written durably, atomically. */
  readIndexState(): Promise<IndexAuditState | undefined>
  writeIndexState(state: IndexAuditState): Promise<void>
  close(): Promise<void>
}

/*
 * LevelMonitorStore, the default: key layout (utf8 keys, utf8 values):
 *   state                      JSON MonitorState (bigints and bytes as strings)
 *   e/<index hex16>            JSON EntryRecord
 *   d/<sha256:hex>/<hex16>     key id: every entry naming that subject digest
 *   c/<commit>/<hex16>         key id: every entry from that source commit
 *   s/<commit>/<subject name>  JSON SubjectRecord
 *   index-state                JSON IndexAuditState (the verifiable index's audit)
 * A LevelDB database, not a JSON state file: the index grows with the log, and a state file rewritten
 * whole on every batch would cost O(log size) per batch. Every write is one synced, atomic batch.
 */
export class LevelMonitorStore implements MonitorStore {
  private constructor(private readonly db: Level<string, string>) {}

  static async open(location: string): Promise<LevelMonitorStore> {
    const db = new Level<string, string>(location, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await db.open()
    return new LevelMonitorStore(db)
  }

  async readState(): Promise<MonitorState | undefined> {
    const text = await this.db.get('state')
    if (text === undefined) return undefined
    const s = JSON.parse(text) as Record<string, string | string[]>
    return {
      origin: s.origin as string,
      logKeys: s.logKeys as string[],
      size: BigInt(s.size as string),
      root: new Uint8Array(Buffer.from(s.root as string, 'base64')),
      checkpoint: s.checkpoint as string,
      indexed: BigInt(s.indexed as string),
    }
  }

  private stateOp(state: MonitorState) {
    const value = JSON.stringify({
      origin: state.origin,
      logKeys: state.logKeys,
      size: state.size.toString(),
      root: Buffer.from(state.root).toString('base64'),
      checkpoint: state.checkpoint,
      indexed: state.indexed.toString(),
    })
    return { type: 'put' as const, key: 'state', value }
  }

  /** Writes the state alone (a newly verified checkpoint), synced. */
  async writeState(state: MonitorState): Promise<void> {
    await this.db.batch([this.stateOp(state)], { sync: true })
  }

  /**
   * Writes one indexing batch and the state that counts it, atomically and synced. A chained batch: for
   * thousands of puts it costs a fifth of an array batch in abstract-level's encoding layer.
   */
  async writeIndexBatch(state: MonitorState, batch: IndexBatch): Promise<void> {
    const chained = this.db.batch()
    const op = this.stateOp(state)
    chained.put(op.key, op.value)
    batch.records.forEach((record, i) => {
      const index = hex16(batch.from + BigInt(i))
      chained.put(`e/${index}`, JSON.stringify(record))
      if ('bad' in record) return
      for (const digest of record.digests) chained.put(`d/${digest}/${index}`, record.keyId)
      for (const commit of record.commits) chained.put(`c/${commit}/${index}`, record.keyId)
    })
    for (const [key, value] of batch.subjects) chained.put(key, JSON.stringify(value))
    await chained.write({ sync: true })
  }

  /** The subject records of (commit, name) pairs, by their key (absent when none). */
  async readSubjects(pairs: readonly [commit: string, name: string][]): Promise<Map<string, SubjectRecord>> {
    const keys = [...new Set(pairs.map(([commit, name]) => subjectKey(commit, name)))]
    const values = keys.length === 0 ? [] : await this.db.getMany(keys)
    const out = new Map<string, SubjectRecord>()
    keys.forEach((key, i) => {
      const value = values[i]
      if (value !== undefined) out.set(key, JSON.parse(value) as SubjectRecord)
    })
    return out
  }

  async readEntry(index: bigint): Promise<EntryRecord | undefined> {
    const text = await this.db.get(`e/${hex16(index)}`)
    return text === undefined ? undefined : (JSON.parse(text) as EntryRecord)
  }

  async readEntries(from: bigint, count: number): Promise<EntryRecord[]> {
    // One bulk read (all()): a step per record through the async iterator costs more than the parse.
    const rows = await this.db
      .iterator({ gte: `e/${hex16(from)}`, lt: `e/${hex16(from + BigInt(count))}` })
      .all()
    const out: EntryRecord[] = []
    for (const [key, text] of rows) {
      if (key !== `e/${hex16(from + BigInt(out.length))}`) break
      out.push(JSON.parse(text) as EntryRecord)
    }
    return out
  }

  /** Indexes (and key ids) of the entries below `below` indexed under a digest or a commit. */
  async matches(query: { digest: string } | { commit: string }, below: bigint): Promise<Map<number, string>> {
    const prefix = 'digest' in query ? `d/${query.digest}/` : `c/${query.commit}/`
    const out = new Map<number, string>()
    for await (const [key, keyId] of this.db.iterator({ gte: prefix, lt: prefix + hex16(below) })) {
      out.set(Number.parseInt(key.slice(prefix.length), 16), keyId)
    }
    return out
  }

  async readIndexState(): Promise<IndexAuditState | undefined> {
    const text = await this.db.get('index-state')
    return text === undefined ? undefined : indexStateFromJSON(text)
  }

  async writeIndexState(state: IndexAuditState): Promise<void> {
    await this.db.batch([{ type: 'put', key: 'index-state', value: indexStateToJSON(state) }], { sync: true })
  }

  async close(): Promise<void> {
    await this.db.close()
  }
}

/** IndexAuditState as stored (bigints as decimal strings, the root in base64). */
export function indexStateToJSON(state: IndexAuditState): string {
  return JSON.stringify({
    verifierKey: state.verifierKey,
    size: state.size.toString(),
    root: Buffer.from(state.root).toString('base64'),
    checkpoint: state.checkpoint,
    checked: state.checked.toString(),
    ...(state.inputSize !== undefined && { inputSize: state.inputSize.toString() }),
  })
}

export function indexStateFromJSON(text: string): IndexAuditState {
  const s = JSON.parse(text) as Record<string, string | undefined>
  return {
    verifierKey: s.verifierKey!,
    size: BigInt(s.size!),
    root: new Uint8Array(Buffer.from(s.root!, 'base64')),
    checkpoint: s.checkpoint!,
    checked: BigInt(s.checked!),
    inputSize: s.inputSize === undefined ? undefined : BigInt(s.inputSize),
  }
}

/** The record of a verify outcome. */
export function recordOf(outcome: EntryOutcome): EntryRecord {
  return outcome.ok
    ? { keyId: outcome.keyId, digests: outcome.digests, commits: outcome.commits, subjects: outcome.subjects }
    : { bad: outcome.code }
}
