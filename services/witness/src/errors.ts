/**
 * Stable error codes of the witness, each answered with one HTTP status (STATUS_BY_CODE, the one table,
 * C2SP tlog-witness v1.0.0 "add-checkpoint"). Clients and tests branch on `code` or the status.
 */
export type WitnessErrorCode =
  /** A body that breaks the request grammar, or an old size above the checkpoint's size (400). */
  | 'MALFORMED_REQUEST'
  /** A checkpoint whose origin is not a configured log (404). */
  | 'UNKNOWN_LOG'
  /** No valid signature by a trusted key of the log, or a failing one by a trusted key (403). */
  | 'BAD_LOG_SIGNATURE'
  /**
   * The old size is not the size the witness last cosigned (409, body: that size). Also the same size
   * with another root hash: the tagged v1.0.0 spec says 409 there, the later draft 422 (docs/design/witness.md).
   */
  | 'SIZE_CONFLICT'
  /** A consistency proof that does not verify, a non-empty proof from size 0, a bad empty-tree root (422). */
  | 'BAD_PROOF'
  /** Another method than POST on /add-checkpoint (405). */
  | 'METHOD_NOT_ALLOWED'
  /** An unknown path (404). */
  | 'NOT_FOUND'
  /** A body over the limit (413). */
  | 'PAYLOAD_TOO_LARGE'
  /** Anything unexpected, e.g. the state could not be written: nothing was cosigned (500). */
  | 'INTERNAL'
  /** A command line, environment or logs file that is not a valid configuration (startup only). */
  | 'INVALID_CONFIG'
  /** A data directory that holds another witness's key or a damaged state (startup only). */
  | 'DATA_MISMATCH'

/** The one table mapping error codes to HTTP statuses. */
export const STATUS_BY_CODE: Readonly<Record<WitnessErrorCode, number>> = {
  MALFORMED_REQUEST: 400,
  UNKNOWN_LOG: 404,
  BAD_LOG_SIGNATURE: 403,
  SIZE_CONFLICT: 409,
  BAD_PROOF: 422,
  METHOD_NOT_ALLOWED: 405,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  INTERNAL: 500,
  INVALID_CONFIG: 500,
  DATA_MISMATCH: 500,
}

/** The one error class of the witness. A SIZE_CONFLICT carries the size the witness holds (the evidence). */
export class WitnessError extends Error {
  override name = 'WitnessError'
  constructor(
    readonly code: WitnessErrorCode,
    message: string,
    options?: ErrorOptions & { witnessSize?: bigint },
  ) {
    super(message, options)
    this.witnessSize = options?.witnessSize
  }
  readonly witnessSize: bigint | undefined
}
