// Verifying a signed statement: with @sigstore/verify (the reference answer) or with node:crypto alone (the
// log's hot path). Both run the same structural checks first, so they disagree on nothing but speed.
import { createRequire } from 'node:module'
import type * as SigstoreBundleModule from '@sigstore/bundle'
import type { Bundle } from '@sigstore/bundle'
import type * as SigstoreVerifyModule from '@sigstore/verify'
import type { TrustMaterial } from '@sigstore/verify'
import { decodeBase64, isPlainObject } from './bytes.js'
import { IN_TOTO_PAYLOAD_TYPE, SIGSTORE_BUNDLE_V03_MEDIA_TYPE } from './constants.js'
import { verifyDSSE } from './dsse.js'
import { AttestationError } from './errors.js'
import { publicKeyFromPEM } from './keys.js'
import type { PublicKeyInfo } from './keys.js'
import { validateSubmission } from './schemas.js'
import { parseStatement } from './statement.js'
import type { DSSEBundleJSON, RebuildStatement } from './types.js'

// @sigstore/verify and @sigstore/bundle (CommonJS) load on first use: the CLI's gate and the log's hot
// path verify with node:crypto alone and should not pay for loading them at startup.
const require = createRequire(import.meta.url)
type SigstoreVerify = typeof SigstoreVerifyModule
type SigstoreBundle = typeof SigstoreBundleModule
let sigstore: { verify: SigstoreVerify; bundle: SigstoreBundle } | undefined
function loadSigstore(): { verify: SigstoreVerify; bundle: SigstoreBundle } {
  sigstore ??= {
    verify: require('@sigstore/verify') as SigstoreVerify,
    bundle: require('@sigstore/bundle') as SigstoreBundle,
  }
  return sigstore
}

/** The parts of a DSSE bundle that signatures and the log use, decoded. */
export interface OpenedBundle {
  payload: Buffer
  signature: Buffer
  payloadType: string
  /** `verificationMaterial.publicKey.hint`: the key id the signer claims. */
  hint: string
}

/** A transparency log @sigstore/verify trusts (its TLogAuthority, which the package does not export). */
export type TLogAuthority = TrustMaterial['tlogs'][number]

/** A bundle whose signature verified and whose payload is a valid rebuild statement. */
export interface VerifiedAttestation extends OpenedBundle {
  statement: RebuildStatement
  keyId: string
  publicKey: PublicKeyInfo
}

/**
 * Checks the structure of an untrusted Sigstore bundle and decodes its DSSE envelope, without checking the
 * signature: mediaType v0.3, a DSSE envelope, a public key hint (no certificate), one signature, the in-toto
 * payloadType, canonical base64. When `keyId` is given, the hint (and a non-empty envelope keyid) must name it.
 * Throws AttestationError BUNDLE_MALFORMED, SIGNATURE_COUNT, WRONG_PAYLOAD_TYPE or WRONG_KEY.
 */
export function openBundle(bundle: unknown, keyId?: string): OpenedBundle {
  const malformed = (why: string): never => {
    throw new AttestationError('BUNDLE_MALFORMED', why)
  }
  if (!isPlainObject(bundle)) return malformed('bundle is not a JSON object')
  if (bundle.mediaType !== SIGSTORE_BUNDLE_V03_MEDIA_TYPE) {
    return malformed(`mediaType is not ${SIGSTORE_BUNDLE_V03_MEDIA_TYPE}`)
  }
  const material = bundle.verificationMaterial
  if (!isPlainObject(material)) return malformed('no verificationMaterial')
  const publicKey = material.publicKey
  if (!isPlainObject(publicKey) || typeof publicKey.hint !== 'string') {
    return malformed('verificationMaterial has no publicKey hint (certificates are not accepted)')
  }
  const envelope = bundle.dsseEnvelope
  if (!isPlainObject(envelope)) return malformed('bundle content is not a dsseEnvelope')
  if (!Array.isArray(envelope.signatures)) return malformed('dsseEnvelope has no signatures list')
  if (envelope.signatures.length !== 1) {
    throw new AttestationError(
      'SIGNATURE_COUNT',
      `${envelope.signatures.length} signatures, expected exactly 1`,
    )
  }
  const entry: unknown = envelope.signatures[0]
  if (!isPlainObject(entry) || typeof entry.sig !== 'string') return malformed('signature has no sig')
  if (entry.keyid !== undefined && typeof entry.keyid !== 'string') return malformed('signature keyid')
  if (typeof envelope.payloadType !== 'string') return malformed('dsseEnvelope has no payloadType')
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new AttestationError('WRONG_PAYLOAD_TYPE', `payloadType is not ${IN_TOTO_PAYLOAD_TYPE}`)
  }
  if (typeof envelope.payload !== 'string') return malformed('dsseEnvelope has no payload')
  const payload = decodeBase64(envelope.payload)
  if (!payload || payload.length === 0) return malformed('payload is not non-empty canonical base64')
  const signature = decodeBase64(entry.sig)
  if (!signature || signature.length === 0) return malformed('sig is not non-empty canonical base64')
  if (keyId !== undefined) {
    if (publicKey.hint !== keyId) throw new AttestationError('WRONG_KEY', 'publicKey.hint is not the key id')
    if (typeof entry.keyid === 'string' && entry.keyid !== '' && entry.keyid !== keyId) {
      throw new AttestationError('WRONG_KEY', 'signature keyid is not the key id')
    }
  }
  return { payload, signature, payloadType: envelope.payloadType, hint: publicKey.hint }
}

export interface VerifyBundleOptions {
  /**
   * Transparency logs trusted for the bundle's tlogEntries (a receipt's log). Without them any tlog entry in
   * the bundle fails with TLOG_INVALID: @sigstore/verify checks every entry it finds (DESIGN §3).
   */
  tlogs?: TLogAuthority[]
  /** How many verified tlog entries are required; 0 by default (a bare signature). */
  tlogThreshold?: number
  /** Verify the bare signature only: ignore the bundle's tlogEntries and timestamps. */
  signatureOnly?: boolean
}

function trustMaterialFor(key: PublicKeyInfo, tlogs: TLogAuthority[]): TrustMaterial {
  return {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs,
    ctlogs: [],
    publicKey: (hint: string) => {
      if (hint !== key.keyId) {
        throw new (loadSigstore().verify.VerificationError)({
          code: 'PUBLIC_KEY_ERROR',
          message: `key not found: ${hint}`,
        })
      }
      return { publicKey: key.keyObject, validFor: () => true }
    },
  }
}

function verificationFailure(error: unknown): AttestationError {
  if (error instanceof loadSigstore().verify.VerificationError) {
    switch (error.code) {
      case 'SIGNATURE_ERROR':
        return new AttestationError('BAD_SIGNATURE', 'signature does not verify', { cause: error })
      case 'PUBLIC_KEY_ERROR':
        return new AttestationError('WRONG_KEY', error.message, { cause: error })
      case 'TLOG_ERROR':
      case 'TLOG_BODY_ERROR':
      case 'TLOG_INCLUSION_PROOF_ERROR':
      case 'TLOG_INCLUSION_PROMISE_ERROR':
      case 'TLOG_MISSING_INCLUSION_ERROR':
      case 'TIMESTAMP_ERROR':
        return new AttestationError('TLOG_INVALID', `${error.code}: ${error.message}`, { cause: error })
      default:
        break
    }
  }
  const message = error instanceof Error ? error.message : String(error)
  return new AttestationError('BUNDLE_MALFORMED', message, { cause: error })
}

function loadKey(publicKey: string | PublicKeyInfo): PublicKeyInfo {
  return typeof publicKey === 'string' ? publicKeyFromPEM(publicKey) : publicKey
}

/**
 * Verifies an untrusted Sigstore bundle v0.3 with @sigstore/verify, trusting exactly `publicKey` (SPKI PEM or
 * loaded) and, if given, `options.tlogs`; tlog, ctlog and timestamp thresholds are 0 unless asked (the
 * defaults of 1 need Rekor and a TSA). Then parses the payload as a rebuild statement. Throws AttestationError:
 * BUNDLE_MALFORMED, SIGNATURE_COUNT, WRONG_PAYLOAD_TYPE, WRONG_KEY, BAD_SIGNATURE, TLOG_INVALID,
 * PAYLOAD_NOT_JSON, DIGEST_INVALID, STATEMENT_INVALID, KEY_MALFORMED, KEY_UNSUPPORTED.
 */
export function verifyBundle(
  bundle: unknown,
  publicKey: string | PublicKeyInfo,
  options: VerifyBundleOptions = {},
): VerifiedAttestation {
  const key = loadKey(publicKey)
  const opened = openBundle(bundle, key.keyId)
  let json = bundle as DSSEBundleJSON
  if (options.signatureOnly) {
    const { tlogEntries: _tlog, timestampVerificationData: _ts, ...material } = json.verificationMaterial
    json = { ...json, verificationMaterial: material }
  }
  const { verify, bundle: bundles } = loadSigstore()
  const verifier = new verify.Verifier(trustMaterialFor(key, options.tlogs ?? []), {
    tlogThreshold: options.tlogThreshold ?? 0,
    ctlogThreshold: 0,
    timestampThreshold: 0,
  })
  try {
    const parsed: Bundle = bundles.bundleFromJSON(json)
    verifier.verify(verify.toSignedEntity(parsed))
  } catch (error) {
    throw verificationFailure(error)
  }
  return { statement: parseStatement(opened.payload), keyId: key.keyId, ...opened, publicKey: key }
}

/**
 * Verifies an untrusted bundle like `verifyBundle` but with node:crypto only (`verifyDSSE`), for the log's
 * hot path: same checks, same codes, same order. It checks the signature only: tlogEntries and timestamps
 * in the bundle are ignored (the log never trusts them; it logs the signature itself).
 */
export function verifyBundleFast(bundle: unknown, publicKey: string | PublicKeyInfo): VerifiedAttestation {
  const key = loadKey(publicKey)
  const opened = openBundle(bundle, key.keyId)
  if (!verifyDSSE(opened.payload, opened.signature, key.keyObject, key.keyDetails)) {
    throw new AttestationError('BAD_SIGNATURE', 'signature does not verify')
  }
  return { statement: parseStatement(opened.payload), keyId: key.keyId, ...opened, publicKey: key }
}

/**
 * Checks a POST /api/v1/entries body end to end on the fast path: schema (SCHEMA_INVALID), the public key
 * (KEY_MALFORMED, KEY_UNSUPPORTED; `resolveKey` lets the server cache parsed keys), then `verifyBundleFast`.
 */
export function verifySubmission(
  body: unknown,
  resolveKey: (pem: string) => PublicKeyInfo = publicKeyFromPEM,
): VerifiedAttestation {
  const submission = validateSubmission(body)
  return verifyBundleFast(submission.bundle, resolveKey(submission.publicKey))
}
