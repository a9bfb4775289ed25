/**
 * Stable error codes of the log server, each answered with one HTTP status (STATUS_BY_CODE, the one
 * table). Clients and tests branch on `code`, never on the message.
 */
export type LogServerErrorCode =
  /** Bad JSON, a bad query parameter or path segment. */
  | 'MALFORMED_REQUEST'
  /** A body larger than the configured limit (checked before parsing), or a leaf over 65,535 bytes. */
  | 'PAYLOAD_TOO_LARGE'
  /** A POST whose Content-Type is not application/json. */
  | 'UNSUPPORTED_MEDIA_TYPE'
  /**
   * A submission that breaks the submission schema or the bundle rules: not a v0.3 DSSE bundle, not
   * exactly one signature, a payloadType other than in-toto, a public key that does not parse.
   */
  | 'INVALID_SUBMISSION'
  /** A signed payload that is not a rebuild statement (in-toto Statement v1 + SLSA provenance, DESIGN §3). */
  | 'INVALID_STATEMENT'
  /** A well-formed key that is neither ECDSA P-256 nor Ed25519. */
  | 'UNSUPPORTED_KEY'
  /** A bundle whose publicKey.hint (or signature keyid) is not the key id of the submitted key. */
  | 'KEY_MISMATCH'
  /** A DSSE signature that does not verify under the given key. */
  | 'BAD_SIGNATURE'
  /** A valid submission by a key the admission policy does not admit. */
  | 'NOT_ADMITTED'
  /** An unknown route, entry index, tile or lookup page. */
  | 'NOT_FOUND'
  /** A proof or entry asked for a size beyond the current tree. */
  | 'SIZE_OUT_OF_RANGE'
  /**
   * The submission queue is full. 503 and not 429: the limit is the server's capacity, shared by all
   * clients, not one client's rate; Retry-After says when to try again.
   */
  | 'OVERLOADED'
  /** The server is shutting down and takes no new submissions (503 + Retry-After). */
  | 'SHUTTING_DOWN'
  /**
   * A submission queued for the sequencing process (PostgreSQL, several processes) was not sequenced in
   * time, e.g. while a new sequencer takes over (503 + Retry-After). It stays queued: a retry is answered
   * from the log once it is in.
   */
  | 'NOT_SEQUENCED'
  | 'INDEX_UNAVAILABLE'
  /**
   * An index batch whose keys list more entries than one answer carries (index-batch.ts): the answer is
   * complete or refused, never cut; ask for fewer keys.
   */
  | 'ANSWER_TOO_LARGE'
  /** The log holds 2^53-1 entries, the most its JSON API can number, and takes no more. */
  | 'LOG_FULL'
  /** Anything unexpected; the answer never carries the internal message. */
  | 'INTERNAL'
  /** A command line or environment that is not a valid configuration (startup only, never answered). */
  | 'INVALID_CONFIG'
  /** A data directory that belongs to another log (key, origin) or is damaged (startup only). */
  | 'DATA_MISMATCH'

/** The one table mapping error codes to HTTP statuses. */
export const STATUS_BY_CODE: Readonly<Record<LogServerErrorCode, number>> = {
  MALFORMED_REQUEST: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INVALID_SUBMISSION: 422,
  INVALID_STATEMENT: 422,
  UNSUPPORTED_KEY: 422,
  KEY_MISMATCH: 422,
  BAD_SIGNATURE: 422,
  NOT_ADMITTED: 403,
  NOT_FOUND: 404,
  SIZE_OUT_OF_RANGE: 400,
  OVERLOADED: 503,
  SHUTTING_DOWN: 503,
  NOT_SEQUENCED: 503,
  INDEX_UNAVAILABLE: 503,
  ANSWER_TOO_LARGE: 422,
  LOG_FULL: 507,
  INTERNAL: 500,
  INVALID_CONFIG: 500,
  DATA_MISMATCH: 500,
}

/** Seconds a client should wait after a 503. */
export const RETRY_AFTER_SECONDS = 1

/** The one error class of the log server. `code` is stable; `message` is for people. */
export class LogServerError extends Error {
  override name = 'LogServerError'
  constructor(
    readonly code: LogServerErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** The wire form of an error: `{"error":{"code","message"}}` (schemas/api-error.schema.json). */
export interface ErrorBody {
  error: { code: LogServerErrorCode; message: string }
}

/**
 * Maps any thrown value to a status and body. A LogServerError answers its own code and message;
 * anything else, and any 500, answers INTERNAL with a fixed message: internals are logged, never echoed.
 */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof LogServerError && STATUS_BY_CODE[err.code] !== 500) {
    return { status: STATUS_BY_CODE[err.code], body: { error: { code: err.code, message: err.message } } }
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } } }
}
