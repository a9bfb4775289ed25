import type { TileContent } from '@ledger/tlog'

/**
 * The storage contract of one log (see LogStore). The sequencer, the readers and the HTTP layer use only
 * this interface, so backends are interchangeable.
 *
 * Indexes and sizes are bigint here (the formats allow 2^63-1); the server refuses to grow past 2^53-1
 * so that its JSON API can carry them as numbers.
 */

/** What identifies the log across restarts; a start with different values on the same data is refused. */
export interface LogMeta {
  origin: string
  /** C2SP note verifier key string of the log key. */
  verifierKey: string
  /** When the log was created (ISO 8601): the start of its key's validity in the trusted root. */
  createdAt: string
}

/** The committed tree: everything needed to resume appending and serving. */
export interface CommittedState {
  size: bigint
  /** The right edge of the tree (serialized CompactRange), so a restart needs no leaf reads. */
  compactRange: Uint8Array
  /** The signed checkpoint note for `size`, byte-exact as served on GET /checkpoint. */
  checkpoint: Uint8Array
}

/** One new entry: its leaf and its index rows. */
export interface IndexedEntry {
  index: bigint
  /** The leaf bytes (DESIGN §4), stored once, under its index. */
  leaf: Uint8Array
  /** Lowercase hex SHA-256 of the signer's SPKI DER. */
  keyId: string
  /** Lowercase hex SHA-256 of the DSSE payload (the dedup key, with keyId). */
  payloadHash: string
  /** Subject digests as `<alg>:<lowercase hex>` (e.g. `sha256:<hex>`); repeats are indexed once. */
  digests: readonly string[]
  /** Source commits, lowercase hex; repeats are indexed once. */
  commits: readonly string[]
}

/** What makes an entry unique (DESIGN §4): the signer's key id and the payload's SHA-256, lowercase hex. */
export interface DedupKey {
  keyId: string
  payloadHash: string
}

/** A hash tile at its current content (partial tiles grow; full ones never change). */
export type StoredTile = TileContent

/**
 * One group commit: everything a batch of appends changes, written all or nothing. Entry bundles are not
 * in it: the store keeps each leaf once, under its index, and bundles are assembled from the leaves.
 */
export interface IntegratedBatch {
  state: CommittedState
  /** Hash tiles whose content changed (partial or newly full), at their new content. */
  tiles: readonly StoredTile[]
  /** The new entries, at consecutive indexes from the old size, in order. */
  entries: readonly IndexedEntry[]
}

export type LookupKind = 'digest' | 'commit'

/** A lookup; the caller has validated `value` and `keyIds` (lowercase hex, no separators). */
export interface LookupQuery {
  /**
   * The tree the answer is about: its size, at most the committed size. Matches at or beyond it are left
   * out, and `total` counts only those below it, so the answer agrees with that tree's checkpoint.
   */
  size: bigint
  kind: LookupKind
  /** `<alg>:<lowercase hex>` for digests, lowercase hex for commits. */
  value: string
  /** Only entries by these key ids; undefined or empty: any key. */
  keyIds?: readonly string[]
  /** The first index to return (inclusive); entries come in ascending index order. */
  from: bigint
  /** Most matches to return. */
  limit: number
}

export interface LookupMatch {
  index: bigint
  keyId: string
}

/** A lookup answered from one consistent view of the store. */
export interface LookupResult {
  /** Number of entries below the query's `size` matching `kind` + `value`, whatever the keyIds filter. */
  total: number
  /** Up to `limit` matches, ascending, all below the query's `size`. */
  matches: LookupMatch[]
  /** The index of the next match after `matches`, when there is one. */
  next: bigint | undefined
}

/**
 * Durable storage for one log: the contract every backend meets (LevelDB: level-store.ts, PostgreSQL:
 * postgres-store.ts, and the tests' in-memory store), checked by ONE conformance suite
 * (test/store-conformance.ts) run against each of them.
 *
 * - Durability and atomicity: `commit` resolves only once the whole batch is durable (synced), and is
 *   atomic: after a crash the store holds all of it or none of it. A commit that rejects may or may not
 *   have landed (the error can come after the data is durable): the caller re-reads `readState` to know.
 * - One writer, commits in order: the writer may call `commit` again before the previous call settled
 *   (the sequencer keeps up to `commitsInFlight` batches in flight). Commits land in call order: a commit
 *   never lands unless every earlier one did, and a commit called while an earlier one was in flight
 *   rejects, writing nothing, when that one rejects. A backend may do the work of overlapping commits at
 *   once (PostgreSQL writes a batch's rows while the one before it syncs) or one after the other
 *   (OrderedCommits). Reads may run at any time, also during a commit, from other processes too.
 * - Reads never see half a batch: a read sees a batch whole or not at all. Every read (and `findEntries`)
 *   sees every batch whose commit settled before the read began; one in progress may or may not be seen.
 *   In the writing process, `findEntries` may answer "not logged" from what it knows was written (a
 *   filter over the store at its first commit and its own commits since): a process that has committed
 *   stays the one writer until it exits, and a write by another process ends its run (its next commit
 *   fails), so only a writer that is about to fail can miss a key another process wrote.
 * - Immutability: a leaf is written once, by the batch that appends it; a full tile is written once; a
 *   partial tile is only replaced by content that extends it. Stored content is never deleted.
 * - Validation is the caller's: values come checked (lowercase hex, index order, sizes). A backend refuses
 *   what it cannot store faithfully (it throws) rather than store it altered.
 */
export interface LogStore {
  /** What identifies the log, or undefined before the first start wrote it. */
  readMeta(): Promise<LogMeta | undefined>
  /** Written once, on the first start, before any commit. Durable when it resolves. */
  writeMeta(meta: LogMeta): Promise<void>
  /** The last committed state; undefined for a log that has never committed a batch. */
  readState(): Promise<CommittedState | undefined>
  commit(batch: IntegratedBatch): Promise<void>
  /** The stored content of hash tile (level, index), partial or full; undefined if none. */
  readTile(level: number, index: bigint): Promise<Uint8Array | undefined>
  /** The leaf of committed entry `index`; undefined if there is none. */
  readLeaf(index: bigint): Promise<Uint8Array | undefined>
  /**
   * The leaves of committed entries `start`, `start + 1`, ... : up to `count` of them, fewer when the log
   * ends first. One read for a whole entry bundle.
   */
  readLeaves(start: bigint, count: number): Promise<Uint8Array[]>
  /** For each key, the index of the logged entry by that key id over that payload, or undefined. */
  findEntries(keys: readonly DedupKey[]): Promise<(bigint | undefined)[]>
  /** The entries indexed under a digest or commit, as of the query's tree size (see LookupQuery). */
  lookup(query: LookupQuery): Promise<LookupResult>
  close(): Promise<void>
}

/**
 * The newest witnessed checkpoint (Witnessing's state: docs/design/witness.md), kept by the same backend
 * beside the log but a contract of its own. Durable (synced) when `writeWitnessed` resolves; callers
 * never move it back; a read sees the last write that settled before it began.
 */
export interface WitnessedStore {
  /** The checkpoint last saved (one of this log's own, with the cosignatures of its quorum), or undefined. */
  readWitnessed(): Promise<Uint8Array | undefined>
  /** Replaces the witnessed checkpoint. */
  writeWitnessed(note: Uint8Array): Promise<void>
}

/** What a backend opens: the log's store and its witnessed checkpoint. */
export type LogBackend = LogStore & WitnessedStore

/**
 * Keeps a backend's commits in call order (LogStore's ordering rule). `run(write)` calls `write` at once
 * with `earlier`, which resolves when every commit called before this one has landed and rejects when one
 * of them failed; `write` must not make its batch durable before `earlier` resolved, and must reject
 * (writing nothing) when it rejects. A backend that cannot overlap commits awaits `earlier` first.
 */
export class OrderedCommits {
  private last: Promise<boolean> = Promise.resolve(true)
  private inFlight = 0

  run(write: (earlier: Promise<void>) => Promise<void>): Promise<void> {
    // A commit called when none is in flight follows no failure, whatever happened before.
    if (this.inFlight === 0) this.last = Promise.resolve(true)
    this.inFlight++
    const earlier = this.last.then((landed) => {
      if (!landed) throw new Error('an earlier commit in flight failed: this one was not written')
    })
    // Observed by `write`, which may have failed before it looked.
    earlier.catch(() => undefined)
    const done = write(earlier).finally(() => this.inFlight--)
    this.last = done.then(
      () => true,
      () => false,
    )
    return done
  }
}
