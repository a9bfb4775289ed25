import type { Hash } from '@ledger/tlog'

/** Who this data directory belongs to: checked against `witness.key` on every start. */
export interface WitnessMeta {
  verifierKey: string
  createdAt: string
}

/** A log the witness cosigns: its origin and the note verifier keys (type 0x01) trusted for it. */
export interface KnownLog {
  origin: string
  keys: string[]
}

/** The latest checkpoint the witness cosigned for one origin. */
export interface LogState {
  size: bigint
  root: Hash
  /** The signed checkpoint as the log sent it, with the witness's cosignature line appended. */
  checkpoint: string
}

/** Why a log-signed request was refused; kept because it may prove the log misbehaved. */
export type EvidenceReason = 'bad-proof' | 'root-conflict'

/**
 * Durable state of one witness. Every write resolves only once it is synced to disk and is atomic (all or
 * nothing); reads after it see it. The witness serializes the writes of one origin itself; the store must
 * be safe for concurrent calls on different origins.
 */
export interface WitnessStore {
  readMeta(): Promise<WitnessMeta | undefined>
  writeMeta(meta: WitnessMeta): Promise<void>
  /** The known logs written by the last writeLogs, or undefined if never written. */
  readLogs(): Promise<KnownLog[] | undefined>
  writeLogs(logs: readonly KnownLog[]): Promise<void>
  readState(origin: string): Promise<LogState | undefined>
  writeState(origin: string, state: LogState): Promise<void>
  /** Keeps a refused request body (deduplicated by content). */
  writeEvidence(origin: string, reason: EvidenceReason, body: string): Promise<void>
  /** Every kept request of `origin`, oldest first. */
  readEvidence(origin: string): Promise<{ reason: EvidenceReason; body: string; at: string }[]>
  close(): Promise<void>
}
