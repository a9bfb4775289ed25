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
import { hashLeaf, type Hash } from '@ledger/tlog'
import type { LogServerErrorCode } from './errors.js'
import { cutAtMarker, entryFields, type ReceiptTemplate } from './receipt.js'
import type { LogEntryInput } from './sequencer.js'

/** A submission that passed every check, ready to sequence. */
export interface VerifiedEntry extends LogEntryInput {
  leafHash: Hash
  /**
   * The receipt's parts that depend on the entry alone: the submitted bundle as JSON text cut where
   * `verificationMaterial.tlogEntries` goes, and the tlog entry's fixed fields. The main thread then writes
   * the receipt without parsing or encoding the entry again.
   */
  template: ReceiptTemplate
}

/** What verifySubmission needs to know of the log to prepare receipts. */
export interface ReceiptContext {
  /** A per-process random string, used to cut the receipt template; never in a submission. */
  marker: string
  /** Base64 SHA-256 of the log key's SPKI DER (the receipts' logId). */
  logIdB64: string
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
 * Deepest nesting of arrays and objects a submission may have. The schema's own shape is 5 levels deep; a
 * receipt's tlog entry (which a submission may not carry) would be 8. The bound is checked on the raw bytes
 * before JSON.parse, so no recursive walk (JSON.stringify, the schema validator) ever sees deep input.
 */
export const MAX_JSON_DEPTH = 32

/**
 * True when the JSON text `bytes` (untrusted, possibly not JSON at all) nests arrays and objects deeper
 * than `limit`. One pass over the bytes, no allocation: brackets inside strings do not count, and an escaped
 * quote does not end a string. Multi-byte UTF-8 sequences never contain ASCII bytes, so bytes suffice.
 */
export function nestsDeeperThan(bytes: Uint8Array, limit: number): boolean {
  // Fewer opening brackets than the limit cannot nest deeper than it: a normal submission has about ten,
  // counted by native searches, and skips the byte-by-byte pass.
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let opening = 0
  for (const bracket of [0x5b, 0x7b]) {
    for (
      let at = buffer.indexOf(bracket);
      at >= 0 && opening <= limit;
      at = buffer.indexOf(bracket, at + 1)
    ) {
      opening++
    }
  }
  if (opening <= limit) return false
  let depth = 0
  let inString = false
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true
    } else if (c === 0x7d || c === 0x5d) {
      depth--
    }
  }
  return false
}

/**
 * The key type decides first: a submission by an RSA (or P-384, Ed448...) key is refused for its key type,
 * UNSUPPORTED_KEY, even when other fields break the schema because of that key (an RSA signature is longer
 * than the schema's cap on `sig`, which is sized for P-256 and Ed25519). Other key problems are left to the
 * schema and the attestation checks, in their order.
 */
function unsupportedKey(value: unknown): VerifyOutcome | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const pem = (value as { publicKey?: unknown }).publicKey
  if (typeof pem !== 'string' || pem.length > MAX_PUBLIC_KEY_PEM) return undefined
  try {
    resolveKey(pem)
  } catch (err) {
    if (err instanceof AttestationError && err.code === 'KEY_UNSUPPORTED') {
      return { ok: false, code: 'UNSUPPORTED_KEY', message: err.message }
    }
  }
  return undefined
}

/** The submission schema's cap on `publicKey`: longer PEMs are left to the schema, never parsed. */
const MAX_PUBLIC_KEY_PEM = 2048

/**
 * Verifies one POST /api/v1/entries body (untrusted bytes; its size was checked by the caller): nesting at
 * most MAX_JSON_DEPTH (INVALID_SUBMISSION), UTF-8 JSON, the key type, the submission schema, one DSSE
 * signature of in-toto type by the given P-256 or Ed25519 key whose id is the hint, the rebuild statement,
 * no tlog entries (a submission is not a receipt: INVALID_SUBMISSION); then encodes the leaf (DESIGN §4)
 * and the index keys, and prepares the receipt's template (`context`). Never throws: failures are
 * outcomes.
 */
export function verifySubmission(body: Uint8Array, context: ReceiptContext): VerifyOutcome {
  if (nestsDeeperThan(body, MAX_JSON_DEPTH)) {
    return {
      ok: false,
      code: 'INVALID_SUBMISSION',
      message: `the body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`,
    }
  }
  let value: unknown
  try {
    value = JSON.parse(strictUTF8.decode(body))
  } catch {
    return { ok: false, code: 'MALFORMED_REQUEST', message: 'the body is not UTF-8 JSON' }
  }
  const keyRefused = unsupportedKey(value)
  if (keyRefused !== undefined) return keyRefused
  try {
    const verified = verifySubmissionBody(value, resolveKey)
    // The schema accepted it, so bundle.verificationMaterial is an object and tlogEntries, if there, a list.
    const bundle = (value as { bundle: { verificationMaterial: Record<string, unknown> } }).bundle
    const submittedEntries = bundle.verificationMaterial.tlogEntries as unknown[] | undefined
    if (submittedEntries !== undefined && submittedEntries.length > 0) {
      // The receipt's tlog entry is the log's to write; one the submitter made up would be copied into it.
      return {
        ok: false,
        code: 'INVALID_SUBMISSION',
        message: 'a submission carries no tlog entries (the log adds its own to the receipt)',
      }
    }
    const leaf = encodeLogEntry({
      payload: verified.payload,
      signature: verified.signature,
      spkiDer: verified.publicKey.spkiDer,
      keyDetails: verified.publicKey.keyDetails,
    })
    const { digests, commits } = statementIndexKeys(verified.statement)
    bundle.verificationMaterial.tlogEntries = context.marker
    const cut = cutAtMarker(JSON.stringify(bundle), context.marker)
    if (cut === undefined) return { ok: false, code: 'INTERNAL', message: 'internal error' }
    return {
      ok: true,
      entry: {
        leaf,
        leafHash: hashLeaf(leaf),
        keyId: verified.keyId,
        payloadHash: sha256Hex(verified.payload),
        digests,
        commits,
        template: {
          head: Buffer.from(cut.head, 'utf8'),
          entry: entryFields(context.logIdB64, leaf),
          tail: Buffer.from(cut.tail, 'utf8'),
        },
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
