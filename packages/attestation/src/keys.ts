// Signing keys: ECDSA P-256 (the default) and Ed25519, as PKCS#8 PEM private keys and SPKI PEM public keys.
// The key id is the lowercase hex SHA-256 of the SPKI DER (DESIGN §3): one key, one DER, one id.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { bytesEqual, decodeBase64, sha256 } from './bytes.js'
import type { KeyDetails } from './constants.js'
import { AttestationError } from './errors.js'

export type KeyType = 'ecdsa-p256' | 'ed25519'

/** A parsed, accepted public key. `spkiDer` is canonical, so `keyId` names the key uniquely. */
export interface PublicKeyInfo {
  keyObject: KeyObject
  /** Lowercase hex SHA-256 of `spkiDer`. */
  keyId: string
  spkiDer: Uint8Array
  keyDetails: KeyDetails
  /** The SPKI PEM, re-encoded (64-column lines, LF, trailing newline). */
  pem: string
}

export interface PrivateKeyInfo {
  keyObject: KeyObject
  publicKey: PublicKeyInfo
}

export interface GeneratedKeyPair {
  /** PKCS#8 PEM: write it with mode PRIVATE_KEY_FILE_MODE. */
  privateKeyPem: string
  /** SPKI PEM. */
  publicKeyPem: string
  keyId: string
  keyDetails: KeyDetails
}

// Far above any PEM of an accepted key; bounds the work on untrusted text.
const MAX_PEM_LENGTH = 16_384
const PEM_LINE = /^[A-Za-z0-9+/=]{1,76}$/
const PEM_BOUNDARY = /^-----(BEGIN|END) ([A-Z0-9 ]+)-----$/
// A P-256 SPKI: 26 bytes of SEQUENCE, AlgorithmIdentifier and BIT STRING headers, then the 65-byte point.
const P256_SPKI_LENGTH = 91
const P256_POINT_OFFSET = 26

/** `PREFIX.key` and `PREFIX.pub`: the files `attest keygen --out PREFIX` writes (DESIGN §3). */
export function keyFileNames(prefix: string): { privateKey: string; publicKey: string } {
  return { privateKey: `${prefix}.key`, publicKey: `${prefix}.pub` }
}

/** Lowercase hex SHA-256 of SPKI DER bytes: the key id (and a Sigstore bundle's publicKey.hint). */
export function keyIdFromSPKI(spkiDer: Uint8Array): string {
  return sha256(spkiDer).toString('hex')
}

/** Generates a key pair (ECDSA P-256 unless asked for Ed25519) and encodes it as PEM strings. */
export function generateKeyPair(type: KeyType = 'ecdsa-p256'): GeneratedKeyPair {
  const { privateKey } =
    type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  const info = privateKeyFromPEM(privateKeyPem)
  return {
    privateKeyPem,
    publicKeyPem: info.publicKey.pem,
    keyId: info.publicKey.keyId,
    keyDetails: info.publicKey.keyDetails,
  }
}

/** Encodes SPKI DER as a PEM public key (RFC 7468: 64-column base64 lines). */
export function encodePublicKeyPEM(spkiDer: Uint8Array): string {
  return encodePEM('PUBLIC KEY', spkiDer)
}

function encodePEM(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64')
  const lines = base64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

const WRONG_LABEL_HINTS: Record<string, string> = {
  'EC PRIVATE KEY': 'a SEC1 EC key: convert it with `openssl pkcs8 -topk8 -nocrypt`',
  'RSA PRIVATE KEY': 'an RSA key: only ECDSA P-256 and Ed25519 keys are accepted',
  'RSA PUBLIC KEY': 'an RSA key: only ECDSA P-256 and Ed25519 keys are accepted',
  'ENCRYPTED PRIVATE KEY': 'an encrypted key: decrypt it first (`openssl pkcs8 -nocrypt`)',
  'OPENSSH PRIVATE KEY': 'an OpenSSH key: export it as PKCS#8 (`ssh-keygen -p -m PKCS8`)',
  'PRIVATE KEY': 'a private key where a public key was expected',
  'PUBLIC KEY': 'a public key where a private key was expected',
  CERTIFICATE: 'a certificate: the ledger takes bare public keys',
}

/**
 * Decodes one PEM block labelled `label` (RFC 7468: base64 lines of at most 76 characters, LF or CRLF, at most
 * one trailing newline, canonical base64). Throws AttestationError KEY_MALFORMED with a hint on other input.
 */
function decodePEM(text: string, label: string): Buffer {
  if (typeof text !== 'string') throw new AttestationError('KEY_MALFORMED', 'PEM text must be a string')
  if (text.length > MAX_PEM_LENGTH) throw new AttestationError('KEY_MALFORMED', 'PEM text is too long')
  let body = text.replace(/\r\n/g, '\n')
  if (body.endsWith('\n')) body = body.slice(0, -1)
  const lines = body.split('\n')
  const first = PEM_BOUNDARY.exec(lines[0] ?? '')
  if (!first || first[1] !== 'BEGIN') {
    throw new AttestationError('KEY_MALFORMED', `not a PEM block: expected -----BEGIN ${label}-----`)
  }
  const found = first[2] ?? ''
  if (found !== label) {
    const hint = WRONG_LABEL_HINTS[found] ?? `a "${found}" block`
    throw new AttestationError('KEY_MALFORMED', `expected a PEM "${label}" block, found ${hint}`)
  }
  const last = lines[lines.length - 1]
  if (lines.length < 3 || last !== `-----END ${label}-----`) {
    throw new AttestationError(
      'KEY_MALFORMED',
      `PEM block has no -----END ${label}----- line (or text after it)`,
    )
  }
  const inner = lines.slice(1, -1)
  if (!inner.every((line) => PEM_LINE.test(line))) {
    throw new AttestationError('KEY_MALFORMED', 'PEM body is not base64 lines of at most 76 characters')
  }
  const der = decodeBase64(inner.join(''))
  if (!der || der.length === 0)
    throw new AttestationError('KEY_MALFORMED', 'PEM body is not canonical base64')
  return der
}

function keyDetailsOf(key: KeyObject): KeyDetails {
  if (key.asymmetricKeyType === 'ed25519') return 'PKIX_ED25519'
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve
    if (curve === 'prime256v1') return 'PKIX_ECDSA_P256_SHA_256'
    throw new AttestationError(
      'KEY_UNSUPPORTED',
      `EC curve ${curve ?? 'unnamed'}: only P-256 and Ed25519 keys`,
    )
  }
  throw new AttestationError(
    'KEY_UNSUPPORTED',
    `${key.asymmetricKeyType ?? 'unknown'} key: only ECDSA P-256 and Ed25519 keys`,
  )
}

/**
 * Parses SPKI DER (untrusted) into an accepted public key. Throws AttestationError KEY_MALFORMED (not SPKI
 * DER, or not its canonical encoding, e.g. a compressed EC point: a key must have one DER and so one id) or
 * KEY_UNSUPPORTED (RSA, curves other than P-256, Ed448, X25519...).
 */
export function publicKeyFromDER(spkiDer: Uint8Array): PublicKeyInfo {
  let keyObject: KeyObject
  try {
    keyObject = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' })
  } catch (error) {
    throw new AttestationError('KEY_MALFORMED', 'not an SPKI DER public key', { cause: error })
  }
  const keyDetails = keyDetailsOf(keyObject)
  const canonical = keyObject.export({ type: 'spki', format: 'der' })
  // OpenSSL re-exports an EC point in the form it was given (compressed and hybrid forms stay so), so the
  // point must also be uncompressed (0x04, RFC 5480 §2.2), as Sigstore and every signer here write it.
  const uncompressed =
    keyDetails === 'PKIX_ED25519' ||
    (canonical.length === P256_SPKI_LENGTH && canonical[P256_POINT_OFFSET] === 0x04)
  if (!uncompressed || !bytesEqual(canonical, spkiDer)) {
    throw new AttestationError('KEY_MALFORMED', 'SPKI DER is not in its canonical (uncompressed) encoding')
  }
  return {
    keyObject,
    keyId: keyIdFromSPKI(canonical),
    spkiDer: new Uint8Array(canonical),
    keyDetails,
    pem: encodePublicKeyPEM(canonical),
  }
}

/**
 * Parses an SPKI PEM public key (`-----BEGIN PUBLIC KEY-----`, untrusted) for the server's hot path:
 * callers cache the result by `keyId`. Throws AttestationError KEY_MALFORMED or KEY_UNSUPPORTED.
 */
export function publicKeyFromPEM(pem: string): PublicKeyInfo {
  return publicKeyFromDER(decodePEM(pem, 'PUBLIC KEY'))
}

/**
 * Parses a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`, unencrypted). Throws AttestationError
 * KEY_MALFORMED (other PEM kinds get a hint on how to convert them) or KEY_UNSUPPORTED.
 */
export function privateKeyFromPEM(pem: string): PrivateKeyInfo {
  const der = decodePEM(pem, 'PRIVATE KEY')
  let keyObject: KeyObject
  try {
    keyObject = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  } catch (error) {
    throw new AttestationError('KEY_MALFORMED', 'not a PKCS#8 DER private key', { cause: error })
  }
  keyDetailsOf(keyObject)
  const spki = createPublicKey(keyObject).export({ type: 'spki', format: 'der' })
  return { keyObject, publicKey: publicKeyFromDER(spki) }
}
