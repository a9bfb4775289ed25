import {
  AttestationError,
  encodeLogEntry,
  publicKeyFromPEM,
  sha256Hex,
  statementIndexKeys,
  verifySubmission as verifySubmissionBody,
  type AttestationErrorCode,
  type PublicKeyInfo,
} from '@ledger/attestation'
import type { LogServerErrorCode } from './errors.js'
import type { LogEntryInput } from './sequencer.js'

/** A submission that passed every check, ready to sequence. */
export interface VerifiedEntry extends LogEntryInput {
  /**
   * The submitted bundle as JSON text, cut where `verificationMaterial.tlogEntries` goes: the receipt is
   * receiptHead + the tlog entries array + receiptTail. Cutting here lets the main thread answer without
   * parsing the body again.
   */
  receiptHead: string
  receiptTail: string
}

/** The result of verifying one POST body; plain data, so it crosses threads. */
export type VerifyOutcome =
  { ok: true; entry: VerifiedEntry } | { ok: false; code: LogServerErrorCode; message: string }

/** How each attestation failure is answered (statuses then come from errors.ts STATUS_BY_CODE). */
const CODE_BY_ATTESTATION_CODE: Readonly<Record<AttestationErrorCode, LogServerErrorCode>> = {
  SCHEMA_INVALID: 'INVALID_SUBMISSION',
  BUNDLE_MALFORMED: 'INVALID_SUBMISSION',
  SIGNATURE_COUNT: 'INVALID_SUBMISSION',
  WRONG_PAYLOAD_TYPE: 'INVALID_SUBMISSION',
  KEY_MALFORMED: 'INVALID_SUBMISSION',
  KEY_UNSUPPORTED: 'UNSUPPORTED_KEY',
  WRONG_KEY: 'KEY_MISMATCH',
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  STATEMENT_INVALID: 'INVALID_STATEMENT',
  DIGEST_INVALID: 'INVALID_STATEMENT',
  PAYLOAD_NOT_JSON: 'INVALID_STATEMENT',
  LEAF_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  LEAF_MALFORMED: 'INVALID_SUBMISSION',
  PAYLOAD_HASH_MISMATCH: 'INVALID_SUBMISSION',
  TLOG_INVALID: 'INVALID_SUBMISSION',
}

// Parsing a PEM key costs about as much as verifying a signature: submitters reuse their keys.
const MAX_CACHED_KEYS = 10_000
const keyCache = new Map<string, PublicKeyInfo>()

function resolveKey(pem: string): PublicKeyInfo {
  let key = keyCache.get(pem)
  if (key === undefined) {
    key = publicKeyFromPEM(pem)
    if (keyCache.size >= MAX_CACHED_KEYS) keyCache.clear()
    keyCache.set(pem, key)
  }
  return key
}

const strictUTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Verifies one POST /api/v1/entries body (untrusted bytes; its size was checked by the caller): UTF-8
 * JSON, the submission schema, one DSSE signature of in-toto type by the given P-256 or Ed25519 key whose
 * id is the hint, the rebuild statement; then encodes the leaf (DESIGN §4) and the index keys. `marker`
 * is a per-process random string used to cut the receipt template. Never throws: failures are outcomes.
 */
export function verifySubmission(body: Uint8Array, marker: string): VerifyOutcome {
  let value: unknown
  try {
    value = JSON.parse(strictUTF8.decode(body))
  } catch {
    return { ok: false, code: 'MALFORMED_REQUEST', message: 'the body is not UTF-8 JSON' }
  }
  try {
    const verified = verifySubmissionBody(value, resolveKey)
    const leaf = encodeLogEntry({
      payload: verified.payload,
      signature: verified.signature,
      spkiDer: verified.publicKey.spkiDer,
      keyDetails: verified.publicKey.keyDetails,
    })
    const { digests, commits } = statementIndexKeys(verified.statement)
    // The schema accepted it, so bundle.verificationMaterial is an object.
    const bundle = (value as { bundle: { verificationMaterial: Record<string, unknown> } }).bundle
    bundle.verificationMaterial.tlogEntries = marker
    const text = JSON.stringify(bundle)
    const quoted = JSON.stringify(marker)
    const at = text.indexOf(quoted)
    if (at < 0 || text.indexOf(quoted, at + 1) >= 0) {
      return { ok: false, code: 'INTERNAL', message: 'internal error' }
    }
    return {
      ok: true,
      entry: {
        leaf,
        keyId: verified.keyId,
        payloadHash: sha256Hex(verified.payload),
        digests,
        commits,
        receiptHead: text.slice(0, at),
        receiptTail: text.slice(at + quoted.length),
      },
    }
  } catch (err) {
    if (err instanceof AttestationError) {
      return {
        ok: false,
        code: CODE_BY_ATTESTATION_CODE[err.code] ?? 'INVALID_SUBMISSION',
        message: err.message,
      }
    }
    console.error('verification failed unexpectedly:', err)
    return { ok: false, code: 'INTERNAL', message: 'internal error' }
  }
}
