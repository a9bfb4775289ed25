import type { LogKey } from './log-key.js'

/** Media type of the Sigstore trusted root we publish (DESIGN §6; @sigstore/protobuf-specs accepts any). */
export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot.v0.2+json'

/** The kind and version of our log entries, as Rekor v2 names them (DESIGN §4). */
export const ENTRY_KIND = 'dsse'
export const ENTRY_VERSION = '0.0.2'

/**
 * A Sigstore trusted root (protobuf JSON) naming this log as its only tlog, for stock Sigstore
 * verifiers (@sigstore/verify 3). Its traps, from that verifier's source:
 * - a checkpoint signature is trusted only from a tlog whose `checkpointKeyId.keyId` starts with the
 *   signature's 4-byte note key id, so it is SHA-256(origin || 0x0A || 0x01 || key), the hash the key id
 *   is cut from;
 * - and whose `baseUrl` matches the note's key name used as a regular expression: `https://` + origin,
 *   whatever address the log listens on;
 * - `logId.keyId` is SHA-256 of the SPKI DER, as in every receipt's `tlogEntries[0].logId`.
 * `validFrom` is when the log was created (ISO 8601).
 */
export function buildTrustedRoot(key: LogKey, validFrom: string): Record<string, unknown> {
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [
      {
        baseUrl: `https://${key.origin}`,
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: b64(key.spkiDer),
          keyDetails: 'PKIX_ED25519',
          validFor: { start: validFrom },
        },
        logId: { keyId: b64(key.logId) },
        checkpointKeyId: { keyId: b64(key.checkpointKeyId) },
      },
    ],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  }
}
