/**
 * Stable error codes of the tlog package. Callers (and tests) branch on `code`, never on the message.
 * Add a code here when a new failure needs a distinct answer; never reuse one for a different meaning.
 */
export type TlogErrorCode =
  /** Bytes that should be lowercase hex are not (wrong length, uppercase, odd length, other characters). */
  | 'MALFORMED_HEX'
  /** Base64 that is not canonical standard base64 (RFC 4648 §4): bad alphabet, padding, or unused bits set. */
  | 'MALFORMED_BASE64'
  /** A decimal number that is not canonical (leading zeros, sign, spaces) or does not fit. */
  | 'MALFORMED_NUMBER'
  /** A C2SP signed note that breaks the grammar (lines, UTF-8, control characters, signature lines). */
  | 'MALFORMED_NOTE'
  /** A signer or verifier key string that breaks the grammar, or names an unsupported algorithm. */
  | 'MALFORMED_KEY'
  /** A C2SP tlog-checkpoint body that breaks the grammar. */
  | 'MALFORMED_CHECKPOINT'
  /** A C2SP tlog-cosignature that breaks the grammar (length, algorithm, timestamp). */
  | 'MALFORMED_COSIGNATURE'
  /** A C2SP tlog-proof file that breaks the grammar. */
  | 'MALFORMED_PROOF'
  /** A tile path that is not a C2SP tlog-tiles path. */
  | 'MALFORMED_TILE_PATH'
  /** A hash tile whose length is not width × 32, or that cannot be the tile asked for. */
  | 'MALFORMED_TILE'
  /** An entry bundle that does not hold exactly the expected entries (truncated, trailing bytes, count). */
  | 'MALFORMED_ENTRY_BUNDLE'
  /** A C2SP tlog-witness request or answer that breaks the grammar. */
  | 'MALFORMED_WITNESS_MESSAGE'
  /** A C2SP tlog-policy file that breaks the grammar or names something undefined. */
  | 'MALFORMED_POLICY'
  /** A serialized compact range that does not decode. */
  | 'MALFORMED_COMPACT_RANGE'
  /** A signature by a known key that does not verify. */
  | 'BAD_SIGNATURE'
  /** A note with no signature from any trusted key. */
  | 'NO_VERIFIED_SIGNATURE'
  /** Fewer valid witness cosignatures than the policy asks for. */
  | 'QUORUM_NOT_MET'
  /** A checkpoint or note from another origin than the one expected. */
  | 'ORIGIN_MISMATCH'
  /** An inclusion or consistency proof that does not prove what it claims. */
  | 'PROOF_MISMATCH'
  /** A tile whose hashes do not authenticate against the tree (its parent hash or the root). */
  | 'TILE_MISMATCH'
  /** An index not below the tree size, or a subtree outside the tree. */
  | 'INDEX_OUT_OF_RANGE'
  /** A tree size below 0 or above 2^63-1, or sizes in the wrong order. */
  | 'SIZE_OUT_OF_RANGE'
  /** A leaf or entry larger than an entry bundle can carry (65,535 bytes). */
  | 'LEAF_TOO_LARGE'
  /** A caller passed arguments that cannot be right (programming error, not untrusted input). */
  | 'INVALID_ARGUMENT'

/** The one error class of @ledger/tlog. `code` is stable; `message` is for people. */
export class TlogError extends Error {
  override name = 'TlogError'
  constructor(
    readonly code: TlogErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}
