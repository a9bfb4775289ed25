// The monitor's store in memory: the second implementation of the MonitorStore contract, for tests that
// want a monitor without a folder, and the fake against which the contract's suite is checked.
import type {
  EntryRecord,
  IndexAuditState,
  IndexBatch,
  MonitorState,
  MonitorStore,
  SubjectRecord,
} from '../src/state-store.js'
import { subjectKey } from '../src/state-store.js'

export class MemoryMonitorStore implements MonitorStore {
  private state: MonitorState | undefined
  private readonly entries = new Map<bigint, EntryRecord>()
  private readonly subjects = new Map<string, SubjectRecord>()
  private readonly byDigest = new Map<string, Map<number, string>>()
  private readonly byCommit = new Map<string, Map<number, string>>()
  private indexState: IndexAuditState | undefined
  closed = false

  async readIndexState(): Promise<IndexAuditState | undefined> {
    return this.indexState === undefined ? undefined : structuredClone(this.indexState)
  }

  async writeIndexState(state: IndexAuditState): Promise<void> {
    this.indexState = structuredClone(state)
  }

  async readState(): Promise<MonitorState | undefined> {
    return this.state === undefined ? undefined : structuredClone(this.state)
  }

  async writeState(state: MonitorState): Promise<void> {
    this.state = structuredClone(state)
  }

  async writeIndexBatch(state: MonitorState, batch: IndexBatch): Promise<void> {
    batch.records.forEach((record, i) => {
      const index = batch.from + BigInt(i)
      this.entries.set(index, structuredClone(record))
      if ('bad' in record) return
      for (const digest of record.digests) add(this.byDigest, digest, Number(index), record.keyId)
      for (const commit of record.commits) add(this.byCommit, commit, Number(index), record.keyId)
    })
    for (const [key, value] of batch.subjects) this.subjects.set(key, structuredClone(value))
    this.state = structuredClone(state)
  }

  async readSubjects(pairs: readonly [commit: string, name: string][]): Promise<Map<string, SubjectRecord>> {
    const out = new Map<string, SubjectRecord>()
    for (const [commit, name] of pairs) {
      const key = subjectKey(commit, name)
      const value = this.subjects.get(key)
      if (value !== undefined) out.set(key, structuredClone(value))
    }
    return out
  }

  async readEntries(from: bigint, count: number): Promise<EntryRecord[]> {
    const out: EntryRecord[] = []
    for (let i = from; i < from + BigInt(count); i++) {
      const record = this.entries.get(i)
      if (record === undefined) break
      out.push(structuredClone(record))
    }
    return out
  }

  async readEntry(index: bigint): Promise<EntryRecord | undefined> {
    const record = this.entries.get(index)
    return record === undefined ? undefined : structuredClone(record)
  }

  async matches(query: { digest: string } | { commit: string }, below: bigint): Promise<Map<number, string>> {
    const found = 'digest' in query ? this.byDigest.get(query.digest) : this.byCommit.get(query.commit)
    const out = new Map<number, string>()
    for (const [index, keyId] of [...(found ?? [])].sort((a, b) => a[0] - b[0])) {
      if (BigInt(index) < below) out.set(index, keyId)
    }
    return out
  }

  async close(): Promise<void> {
    this.closed = true
  }
}

function add(map: Map<string, Map<number, string>>, value: string, index: number, keyId: string): void {
  let entries = map.get(value)
  if (entries === undefined) map.set(value, (entries = new Map()))
  entries.set(index, keyId)
}
