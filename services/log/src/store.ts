/**
 * The storage contract of one log. LevelDB implements it today (level-store.ts); a PostgreSQL backend
 * can replace it without touching the sequencer or the HTTP layer.
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
  /** Subject digests as `sha256:<hex>`. */
  digests: readonly string[]
  /** Source commits, lowercase hex. */
  commits: readonly string[]
}

/** What makes an entry unique (DESIGN §4): the signer's key id and the payload's SHA-256, lowercase hex. */
export interface DedupKey {
  keyId: string
  payloadHash: string
}

/** An entry about to be sequenced, as findEntries sees it: its dedup key and the values it will index. */
export interface EntryKeys extends DedupKey {
  digests: readonly string[]
  commits: readonly string[]
}

/** A hash tile at its current content (partial tiles grow; full ones never change). */
export interface StoredTile {
  level: number
  index: bigint
  data: Uint8Array
}

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
  /** `sha256:<hex>` for digests, lowercase hex for commits. */
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
 * Durable storage for one log.
 * - `commit` resolves only once the whole batch is on disk (synced), and is atomic: after a crash the
 *   store holds either all of it or none of it. Callers run at most one commit at a time (the next one
 *   starts after the previous one settled); reads may run at any time, also during a commit.
 * - Reads never see a half-committed batch. Safe for concurrent readers and the one writer.
 * - Full tiles are immutable: a batch never carries a full tile twice (the sequencer asserts it), and a
 *   leaf is written once, by the batch that appends it.
 */
export interface LogStore {
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
  /**
   * For each entry, the index of the logged entry by the same key over the same payload, or undefined.
   * The answer reflects every commit that settled before the call, and may or may not reflect one in
   * progress during it (the sequencer checks the entries of such a batch itself). The store may also read
   * ahead what committing these entries will need (the index counts), so that commit() need not.
   */
  findEntries(entries: readonly EntryKeys[]): Promise<(bigint | undefined)[]>
  lookup(query: LookupQuery): Promise<LookupResult>
  /**
   * The checkpoint last saved with writeWitnessed (one of this log's own checkpoints, with the witness
   * cosignatures that made its quorum), or undefined.
   */
  readWitnessed(): Promise<Uint8Array | undefined>
  /** Replaces the witnessed checkpoint; durable (synced) when it resolves. Callers never move it back. */
  writeWitnessed(note: Uint8Array): Promise<void>
  close(): Promise<void>
}
