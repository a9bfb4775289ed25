// The Sigstore trusted root of one log, built from its note verifier key alone: the log publishes it at
// GET /api/v1/log (DESIGN §6), and a client builds the same one offline, so that a receipt verifies with
// stock @sigstore/verify and nothing from the network. One definition for both sides: the traps below are
// easy to get subtly wrong twice.
import { createHash } from 'node:crypto'
import { decodeEd25519VerifierKey, SIGNATURE_TYPE_ED25519 } from '@ledger/tlog'

/** Media type of a Sigstore trusted root v0.2. */
export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot.v0.2+json'

/** The Sigstore identifiers of a log key. */
export interface LogKeyIds {
  origin: string
  /** The Ed25519 public key as SPKI DER. */
  spkiDer: Uint8Array
  /** SHA-256 of the SPKI DER: `logId.keyId` in trusted roots and in every receipt. */
  logId: Uint8Array
  /** SHA-256(origin || 0x0A || 0x01 || raw key): `checkpointKeyId.keyId`; its first 4 bytes are the note key id. */
  checkpointKeyId: Uint8Array
}

/** Derives the Sigstore identifiers of a log's note verifier key. Throws TlogError MALFORMED_KEY. */
export function logKeyIds(verifierKey: string): LogKeyIds {
  const parts = decodeEd25519VerifierKey(verifierKey, SIGNATURE_TYPE_ED25519)
  const spkiDer = new Uint8Array(parts.publicKeyObject.export({ format: 'der', type: 'spki' }))
  return {
    origin: parts.name,
    spkiDer,
    logId: new Uint8Array(createHash('sha256').update(spkiDer).digest()),
    checkpointKeyId: new Uint8Array(
      createHash('sha256')
        .update(Buffer.from(parts.name, 'utf8'))
        .update(Uint8Array.of(0x0a, SIGNATURE_TYPE_ED25519))
        .update(parts.publicKey)
        .digest(),
    ),
  }
}

/**
 * A Sigstore trusted root (protobuf JSON) naming the log with note verifier key `verifierKey` as its only
 * tlog. Its traps, from @sigstore/verify 3's source: a checkpoint signature is trusted only from a tlog
 * whose `checkpointKeyId.keyId` starts with the signature's 4-byte note key id (so it is the hash the key
 * id is cut from) and whose `baseUrl` matches the note's key name used as a regular expression (so it is
 * `https://` + origin, whatever address the log listens on); `logId.keyId` is SHA-256 of the SPKI DER, as
 * in every receipt. `validFrom` defaults to the epoch: offline, a client does not know when the log was
 * created, and our entries carry no timestamps. Throws TlogError MALFORMED_KEY.
 */
export function buildLogTrustedRoot(
  verifierKey: string,
  validFrom = '1970-01-01T00:00:00Z',
): Record<string, unknown> {
  const ids = logKeyIds(verifierKey)
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [
      {
        baseUrl: `https://${ids.origin}`,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(ids.spkiDer), keyDetails: 'PKIX_ED25519', validFor: { start: validFrom } },
        logId: { keyId: b64(ids.logId) },
        checkpointKeyId: { keyId: b64(ids.checkpointKeyId) },
      },
    ],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  }
}
