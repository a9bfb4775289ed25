// The log entry (DESIGN §4): a Rekor v2 `dsse` entry (dsse/0.0.2) plus the DSSE payload, as the UTF-8 bytes of
// RFC 8785 canonical JSON. Its canonical form makes the bytes a function of (payload, signature, key).
import {
  bytesEqual,
  decodeBase64,
  decodeUTF8,
  encodeBase64,
  encodeUTF8,
  isPlainObject,
  sha256,
} from './bytes.js'
import { IN_TOTO_PAYLOAD_TYPE, MAX_LEAF_SIZE, SIGSTORE_BUNDLE_V03_MEDIA_TYPE } from './constants.js'
import type { KeyDetails } from './constants.js'
import { verifyDSSE } from './dsse.js'
import { AttestationError } from './errors.js'
import { keyIdFromSPKI, publicKeyFromDER } from './keys.js'
import type { PublicKeyInfo } from './keys.js'
import { parseStatement } from './statement.js'
import type { DSSEBundleJSON, RebuildStatement } from './types.js'

/** What a leaf is made of. */
export interface LogEntryInput {
  /** The DSSE payload (an in-toto statement's bytes). */
  payload: Uint8Array
  /** The DSSE signature over the PAE of application/vnd.in-toto+json and the payload. */
  signature: Uint8Array
  /** The signer's SubjectPublicKeyInfo DER. */
  spkiDer: Uint8Array
  keyDetails: KeyDetails
}

/** A decoded leaf: its parts, the payload hash it claims, and the key id of its key. */
export interface LogEntry extends LogEntryInput {
  /** The SHA-256 the leaf claims for the payload (checked by `verifyLogEntry`, not by `decodeLogEntry`). */
  payloadHash: Uint8Array
  /** Lowercase hex SHA-256 of spkiDer. */
  keyId: string
}

/** A leaf whose payload hash, signature and statement all checked out. */
export interface VerifiedLogEntry extends LogEntry {
  statement: RebuildStatement
  publicKey: PublicKeyInfo
}

const KEY_DETAILS: readonly string[] = ['PKIX_ECDSA_P256_SHA_256', 'PKIX_ED25519']

/**
 * Encodes a log leaf (DESIGN §4) as UTF-8 RFC 8785 canonical JSON:
 * {"apiVersion":"0.0.2","kind":"dsse","payload":b64,"spec":{"dsseV002":{"payloadHash":{"algorithm":"SHA2_256",
 * "digest":b64},"signatures":[{"content":b64,"verifier":{"keyDetails":..,"publicKey":{"rawBytes":b64}}}]}}}.
 * Verifies nothing. Throws AttestationError LEAF_TOO_LARGE over 65,535 bytes, LEAF_MALFORMED on empty parts.
 */
export function encodeLogEntry(entry: LogEntryInput): Uint8Array {
  if (!KEY_DETAILS.includes(entry.keyDetails)) {
    throw new AttestationError('LEAF_MALFORMED', `keyDetails ${String(entry.keyDetails)} is not accepted`)
  }
  if (entry.payload.byteLength === 0 || entry.signature.byteLength === 0 || entry.spkiDer.byteLength === 0) {
    throw new AttestationError('LEAF_MALFORMED', 'payload, signature and key must be non-empty')
  }
  const text = canonicalLeafText(
    encodeBase64(entry.payload),
    encodeBase64(sha256(entry.payload)),
    encodeBase64(entry.signature),
    entry.keyDetails,
    encodeBase64(entry.spkiDer),
  )
  const leaf = encodeUTF8(text)
  if (leaf.byteLength > MAX_LEAF_SIZE) {
    throw new AttestationError('LEAF_TOO_LARGE', `leaf is ${leaf.byteLength} bytes, over ${MAX_LEAF_SIZE}`)
  }
  return leaf
}

/**
 * The leaf's text from its parts, each already base64 text (or an accepted keyDetails). RFC 8785 by
 * construction: members in code-unit order, and every value is a constant, an accepted keyDetails or base64
 * text, none of which JSON escapes. A test holds this to canonicalJSON.
 */
function canonicalLeafText(
  payload: string,
  payloadHash: string,
  signature: string,
  keyDetails: string,
  spki: string,
): string {
  return (
    `{"apiVersion":"0.0.2","kind":"dsse","payload":"${payload}",` +
    `"spec":{"dsseV002":{"payloadHash":{"algorithm":"SHA2_256","digest":"${payloadHash}"},` +
    `"signatures":[{"content":"${signature}","verifier":{"keyDetails":"${keyDetails}",` +
    `"publicKey":{"rawBytes":"${spki}"}}}]}}}`
  )
}

// Key ids by the base64 of their SPKI DER: a client checking thousands of leaves meets a few keys.
const keyIds = new Map<string, string>()
const KEY_ID_CACHE_LIMIT = 1024

function keyIdOf(spkiBase64: string, spkiDer: Uint8Array): string {
  let keyId = keyIds.get(spkiBase64)
  if (keyId === undefined) {
    if (keyIds.size >= KEY_ID_CACHE_LIMIT) keyIds.clear()
    keyId = keyIdFromSPKI(spkiDer)
    keyIds.set(spkiBase64, keyId)
  }
  return keyId
}

function malformed(why: string): never {
  throw new AttestationError('LEAF_MALFORMED', why)
}

function object(value: unknown, keys: readonly string[], where: string): Record<string, unknown> {
  if (!isPlainObject(value)) return malformed(`${where} is not an object`)
  const found = Object.keys(value).sort()
  if (found.length !== keys.length || found.some((key, i) => key !== keys[i])) {
    return malformed(`${where} must have exactly the fields ${keys.join(', ')}`)
  }
  return value
}

function base64Field(value: unknown, where: string): Buffer {
  const bytes = typeof value === 'string' ? decodeBase64(value) : undefined
  if (!bytes || bytes.length === 0) return malformed(`${where} is not non-empty canonical base64`)
  return bytes
}

/**
 * Decodes a leaf (untrusted bytes) strictly: at most 65,535 bytes, UTF-8, exactly the shape of DESIGN §4 (no
 * other field, one signature, SHA2_256, an accepted keyDetails), canonical base64, and the RFC 8785 canonical
 * serialization byte for byte. Checks no hash and no signature: see `verifyLogEntry`.
 * Throws AttestationError LEAF_TOO_LARGE or LEAF_MALFORMED.
 */
export function decodeLogEntry(leaf: Uint8Array): LogEntry {
  if (leaf.byteLength > MAX_LEAF_SIZE) {
    throw new AttestationError('LEAF_TOO_LARGE', `leaf is ${leaf.byteLength} bytes, over ${MAX_LEAF_SIZE}`)
  }
  const text = decodeUTF8(leaf)
  if (text === undefined) return malformed('leaf is not UTF-8')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return malformed('leaf is not JSON')
  }
  // Keys in sorted order, as object() compares them.
  const top = object(value, ['apiVersion', 'kind', 'payload', 'spec'], 'leaf')
  if (top.apiVersion !== '0.0.2') malformed('apiVersion is not 0.0.2')
  if (top.kind !== 'dsse') malformed('kind is not dsse')
  const spec = object(top.spec, ['dsseV002'], 'spec')
  const dsse = object(spec.dsseV002, ['payloadHash', 'signatures'], 'spec.dsseV002')
  const hash = object(dsse.payloadHash, ['algorithm', 'digest'], 'payloadHash')
  if (hash.algorithm !== 'SHA2_256') malformed('payloadHash algorithm is not SHA2_256')
  const payloadHash = base64Field(hash.digest, 'payloadHash.digest')
  if (payloadHash.length !== 32) malformed('payloadHash.digest is not 32 bytes')
  if (!Array.isArray(dsse.signatures) || dsse.signatures.length !== 1) malformed('not exactly one signature')
  const signature = object((dsse.signatures as unknown[])[0], ['content', 'verifier'], 'signature')
  const verifier = object(signature.verifier, ['keyDetails', 'publicKey'], 'verifier')
  if (typeof verifier.keyDetails !== 'string' || !KEY_DETAILS.includes(verifier.keyDetails)) {
    malformed('keyDetails is not PKIX_ECDSA_P256_SHA_256 or PKIX_ED25519')
  }
  const publicKey = object(verifier.publicKey, ['rawBytes'], 'verifier.publicKey')
  const spkiDer = base64Field(publicKey.rawBytes, 'publicKey.rawBytes')
  const entry: LogEntry = {
    payload: base64Field(top.payload, 'payload'),
    signature: base64Field(signature.content, 'signature.content'),
    spkiDer,
    keyDetails: verifier.keyDetails as KeyDetails,
    payloadHash,
    keyId: keyIdOf(publicKey.rawBytes as string, spkiDer),
  }
  // The shape is fixed by now (exactly these members, these constants, one signature) and every other
  // value is canonical base64, which JSON never escapes: the RFC 8785 serialization of `value` is the
  // leaf text of its five strings (what canonicalJSON(value) returns, without walking the value again).
  const canonical = canonicalLeafText(
    top.payload as string,
    hash.digest as string,
    signature.content as string,
    verifier.keyDetails as string,
    publicKey.rawBytes as string,
  )
  if (canonical !== text) malformed('leaf is not RFC 8785 canonical JSON')
  return entry
}

export interface VerifyLogEntryOptions {
  /** Parsed keys by key id, filled as keys are met: a monitor re-verifying a whole log parses each key once. */
  keyCache?: Map<string, PublicKeyInfo>
}

/**
 * Decodes and verifies a leaf (untrusted): the payload hash matches the payload (PAYLOAD_HASH_MISMATCH), the
 * key is an accepted key of the named keyDetails (KEY_MALFORMED, KEY_UNSUPPORTED, LEAF_MALFORMED), the
 * signature verifies over the PAE of application/vnd.in-toto+json and the payload (BAD_SIGNATURE), and the
 * payload is a rebuild statement (PAYLOAD_NOT_JSON, DIGEST_INVALID, STATEMENT_INVALID). Also throws what
 * `decodeLogEntry` throws.
 */
export function verifyLogEntry(leaf: Uint8Array, options: VerifyLogEntryOptions = {}): VerifiedLogEntry {
  const entry = decodeLogEntry(leaf)
  if (!bytesEqual(sha256(entry.payload), entry.payloadHash)) {
    throw new AttestationError('PAYLOAD_HASH_MISMATCH', 'payloadHash is not the SHA-256 of the payload')
  }
  let key = options.keyCache?.get(entry.keyId)
  if (!key) {
    key = publicKeyFromDER(entry.spkiDer)
    options.keyCache?.set(entry.keyId, key)
  }
  if (key.keyDetails !== entry.keyDetails) malformed(`keyDetails ${entry.keyDetails} does not match the key`)
  if (!verifyDSSE(entry.payload, entry.signature, key.keyObject, key.keyDetails, IN_TOTO_PAYLOAD_TYPE)) {
    throw new AttestationError('BAD_SIGNATURE', 'leaf signature does not verify')
  }
  return { ...entry, statement: parseStatement(entry.payload), publicKey: key }
}

/**
 * Rebuilds the Sigstore bundle v0.3 (JSON) of a logged entry: the DSSE envelope (in-toto payloadType, the
 * leaf's payload and signature, keyid = key id) with publicKey.hint = key id and no tlog entries. A dedup
 * answer returns this, the LOGGED entry's bundle (DESIGN §4), so its signature matches the leaf's.
 * Takes leaf bytes (decoded strictly, throwing what `decodeLogEntry` throws) or a decoded entry.
 */
export function bundleFromLogEntry(leaf: Uint8Array | LogEntry): DSSEBundleJSON {
  const entry = ArrayBuffer.isView(leaf) ? decodeLogEntry(leaf) : leaf
  const keyId = keyIdFromSPKI(entry.spkiDer)
  return {
    mediaType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: keyId }, timestampVerificationData: {} },
    dsseEnvelope: {
      payload: encodeBase64(entry.payload),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: encodeBase64(entry.signature), keyid: keyId }],
    },
  }
}
