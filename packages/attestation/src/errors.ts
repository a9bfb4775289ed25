/**
 * Stable error codes of the attestation package. Callers (and tests) branch on `code`, never on the message;
 * the log server maps each code to one HTTP status in one table. Never reuse a code for another meaning.
 */
export type AttestationErrorCode =
  /** A document fails its JSON Schema (submission body, trust policy, API error, statement by itself). */
  | 'SCHEMA_INVALID'
  /** A signed statement is not an in-toto Statement v1 with the rebuild provenance rules of DESIGN §3. */
  | 'STATEMENT_INVALID'
  /** A subject sha256 that is not 64 lowercase hex, or a git commit that is not 40 or 64 lowercase hex. */
  | 'DIGEST_INVALID'
  /** The DSSE payload is not UTF-8 JSON text. */
  | 'PAYLOAD_NOT_JSON'
  /** A bundle that is not a Sigstore bundle v0.3 holding a DSSE envelope verified by a public key hint. */
  | 'BUNDLE_MALFORMED'
  /** A DSSE envelope with other than exactly one signature. */
  | 'SIGNATURE_COUNT'
  /** A DSSE payloadType other than application/vnd.in-toto+json. */
  | 'WRONG_PAYLOAD_TYPE'
  /** The bundle names (hint, envelope keyid) another key than the one it is verified with. */
  | 'WRONG_KEY'
  /** The signature does not verify over the DSSE PAE with the key. */
  | 'BAD_SIGNATURE'
  /** Transparency log entries or timestamps in a bundle that its trust material cannot verify. */
  | 'TLOG_INVALID'
  /** Key bytes or PEM text that do not parse as the expected format (PKCS#8 private key, SPKI public key). */
  | 'KEY_MALFORMED'
  /** A well-formed key of a type the ledger does not accept (RSA, other curves, ...): only P-256 and Ed25519. */
  | 'KEY_UNSUPPORTED'
  /** A log leaf over 65,535 bytes (C2SP entry bundles carry a 16-bit length). */
  | 'LEAF_TOO_LARGE'
  /** A log leaf that is not exactly the canonical JSON shape of DESIGN §4. */
  | 'LEAF_MALFORMED'
  /** A log leaf whose payloadHash is not the SHA-256 of its payload. */
  | 'PAYLOAD_HASH_MISMATCH'

/** The one error class of @ledger/attestation. */
export class AttestationError extends Error {
  override name = 'AttestationError'
  constructor(
    readonly code: AttestationErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}
