// DSSE (github.com/secure-systems-lab/dsse, protocol.md) signing and verification over node:crypto: the
// log server's hot path, which must answer exactly as @sigstore/verify does on the same envelope.
import { sign as cryptoSign, verify as cryptoVerify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { IN_TOTO_PAYLOAD_TYPE } from './constants.js'
import type { KeyDetails } from './constants.js'

const PAE_PREFIX = 'DSSEv1'
const inTotoTypeBytes = Buffer.from(IN_TOTO_PAYLOAD_TYPE, 'utf8')
const inTotoPrefix = Buffer.from(`${PAE_PREFIX} ${inTotoTypeBytes.length} ${IN_TOTO_PAYLOAD_TYPE} `, 'utf8')

/**
 * The DSSE Pre-Authentication Encoding, the bytes a DSSE signature signs:
 * `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal bytes, type as UTF-8.
 */
export function dssePAE(payloadType: string, payload: Uint8Array): Buffer {
  const prefix =
    payloadType === IN_TOTO_PAYLOAD_TYPE
      ? inTotoPrefix
      : Buffer.from(`${PAE_PREFIX} ${Buffer.byteLength(payloadType, 'utf8')} ${payloadType} `, 'utf8')
  return Buffer.concat([prefix, Buffer.from(`${payload.byteLength} `, 'ascii'), payload])
}

/**
 * Verifies a DSSE signature (untrusted bytes) over the PAE of `payloadType` (in-toto by default) and
 * `payload` with `key`: ECDSA P-256 with SHA-256 and a DER signature, or Ed25519. Returns false, never throws,
 * on any failure, including a key that is not of the type `keyDetails` names.
 */
export function verifyDSSE(
  payload: Uint8Array,
  signature: Uint8Array,
  key: KeyObject,
  keyDetails: KeyDetails,
  payloadType: string = IN_TOTO_PAYLOAD_TYPE,
): boolean {
  const ed25519 = keyDetails === 'PKIX_ED25519'
  if (key.asymmetricKeyType !== (ed25519 ? 'ed25519' : 'ec')) return false
  try {
    return cryptoVerify(ed25519 ? null : 'sha256', dssePAE(payloadType, payload), key, signature)
  } catch {
    return false
  }
}

/** Signs the PAE with a private key of type `keyDetails`: DER ECDSA over SHA-256, or Ed25519. */
export function signPAE(pae: Uint8Array, key: KeyObject, keyDetails: KeyDetails): Buffer {
  return keyDetails === 'PKIX_ED25519'
    ? cryptoSign(null, pae, key)
    : cryptoSign('sha256', pae, { key, dsaEncoding: 'der' })
}
