/**
 * Stable error codes of the client. Callers (and tests) branch on `code`, never on the message. The CLI
 * maps them to exit codes in one table (packages/cli/src/exit-codes.ts).
 */
export type ClientErrorCode =
  /** The log could not be reached, timed out, or stayed unavailable (5xx, 429/503 past the retry budget). */
  | 'NETWORK'
  /** The log answered 404: no such entry, tile or proof. */
  | 'NOT_FOUND'
  /** The log refused a request with a 4xx; `logCode` carries the log's own error code. */
  | 'REJECTED'
  /**
   * The log answered something no honest log can: a bad signature, a proof that does not verify, a fork
   * or a rollback against the stored checkpoint, an entry that is not what was asked for, malformed JSON.
   * `evidence` carries what proves it.
   */
  | 'LOG_MISBEHAVING'
  /** A trust policy that does not parse, fails its schema, or cannot be meant (a key under two parties). */
  | 'POLICY_INVALID'
  /** The state directory could not be read or written, or holds a file that is not a stored checkpoint. */
  | 'STATE_IO'
  /** A receipt (Sigstore bundle or tlog-proof) that does not verify offline. Not blamed on any log. */
  | 'RECEIPT_INVALID'
  /** A caller passed arguments that cannot be right (a digest that is not sha256:<hex>, a bad URL). */
  | 'INVALID_ARGUMENT'
  /**
   * A checkpoint whose witness quorum cosigned it longer ago than the policy's maxCheckpointAgeSeconds
   * (freshness): the log, or whoever stands between, may be hiding newer entries. Evidence kind `stale`.
   */
  | 'STALE'

/** What a misbehaving log was caught doing. */
export type MisbehaviorKind =
  /** Two checkpoints of one origin that cannot both be honest: same size and another root, or no valid consistency proof. */
  | 'fork'
  /** A checkpoint for a smaller tree than one the client already verified. */
  | 'rollback'
  /** A checkpoint without a valid signature by the log key, or without the witness quorum. */
  | 'bad-signature'
  /** An inclusion or consistency proof, or a tile, that does not verify. */
  | 'bad-proof'
  /** An entry whose leaf does not decode, whose signature fails, or that does not match the query. */
  | 'bad-entry'
  /** An answer that is not well-formed (JSON, fields, encodings). */
  | 'malformed'
  /** The log's verifier key differs from the one pinned on first use. */
  | 'key-changed'
  /** A checkpoint older than the policy allows (ClientError STALE): `received` is the note. */
  | 'stale'

/**
 * The evidence of a misbehaving log. For a fork or a rollback, `trusted` is the signed checkpoint the
 * client had verified before and `received` the new one: together they are a signed proof that the log
 * showed two histories (and `proof`, the consistency proof that failed, when there was one).
 */
export interface MisbehaviorEvidence {
  kind: MisbehaviorKind
  trusted?: string
  received?: string
  proof?: string[]
  /** For a fork, a rollback or a changed key: the log's origin and where the client keeps what it saw before. */
  origin?: string
  stateFile?: string
}

/** The one error class of @ledger/client. `code` is stable; `message` is for people. */
export class ClientError extends Error {
  override name = 'ClientError'
  /** For REJECTED: the `error.code` of the log's JSON error body, when it sent one. */
  readonly logCode?: string
  /** For REJECTED and NOT_FOUND: the HTTP status. */
  readonly status?: number
  /** For LOG_MISBEHAVING. */
  readonly evidence?: MisbehaviorEvidence

  constructor(
    readonly code: ClientErrorCode,
    message: string,
    options?: ErrorOptions & { logCode?: string; status?: number; evidence?: MisbehaviorEvidence },
  ) {
    super(message, options)
    if (options?.logCode !== undefined) this.logCode = options.logCode
    if (options?.status !== undefined) this.status = options.status
    if (options?.evidence !== undefined) this.evidence = options.evidence
  }
}

/** A LOG_MISBEHAVING error with its evidence. */
export function misbehaving(
  kind: MisbehaviorKind,
  message: string,
  extra: Omit<MisbehaviorEvidence, 'kind'> = {},
  cause?: unknown,
): ClientError {
  return new ClientError('LOG_MISBEHAVING', message, {
    evidence: { kind, ...extra },
    ...(cause !== undefined && { cause }),
  })
}

/** The message of an unknown thrown value, with its code when it has one. */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message
  }
  return String(err)
}
