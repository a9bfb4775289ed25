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

/** One new entry's index rows. */
export interface IndexedEntry {
  index: bigint
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

/** A hash tile or entry bundle at its current content (partial tiles grow; full ones never change). */
export interface StoredTile {
  level: number
  index: bigint
  data: Uint8Array
}

/** One group commit: everything a batch of appends changes, written all or nothing. */
export interface IntegratedBatch {
  state: CommittedState
  /** Hash tiles whose content changed (partial or newly full), at their new content. */
  tiles: readonly StoredTile[]
  /** Entry bundles whose content changed (level is 0 and meaningless). */
  bundles: readonly StoredTile[]
  entries: readonly IndexedEntry[]
}

export type LookupKind = 'digest' | 'commit'

/** A lookup; the caller has validated `value` and `keyIds` (lowercase hex, no separators). */
export interface LookupQuery {
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
  state: CommittedState
  /** Number of entries matching `kind` + `value` in `state`, whatever the keyIds filter. */
  total: number
  /** Up to `limit` matches, ascending, all below `state.size`. */
  matches: LookupMatch[]
  /** The index of the next match after `matches`, when there is one. */
  next: bigint | undefined
}

/**
 * Durable storage for one log.
 * - `commit` resolves only once the whole batch is on disk (synced), and is atomic: after a crash the
 *   store holds either all of it or none of it. Callers run at most one commit at a time.
 * - Reads never see a half-committed batch. Safe for concurrent readers and the one writer.
 * - Full tiles and full entry bundles are immutable: a batch never carries a full tile twice (the
 *   sequencer asserts it).
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
  /** The stored content of entry bundle `index`, partial or full; undefined if none. */
  readEntryBundle(index: bigint): Promise<Uint8Array | undefined>
  /**
   * For each (key id, payload hash), the index of the logged entry by that key over that payload, or
   * undefined. One call per batch: the sequencer deduplicates a whole batch with one read.
   */
  findEntries(keys: readonly DedupKey[]): Promise<(bigint | undefined)[]>
  lookup(query: LookupQuery): Promise<LookupResult>
  close(): Promise<void>
}
