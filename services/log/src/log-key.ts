import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  SIGNATURE_TYPE_ED25519,
  decodeEd25519SignerKey,
  generateNoteKey,
  isValidKeyName,
  parseSignerKey,
  verifierKeyOf,
  type NoteSigner,
} from '@ledger/tlog'
import { logKeyIds } from '@ledger/attestation'
import { writeFileDurably } from '@ledger/durable-file'
import { LogServerError } from './errors.js'

/** File name of the log's note signer key inside the data directory. */
export const LOG_KEY_FILE = 'log.key'

/** The log's Ed25519 note key, with the identifiers Sigstore verifiers know it by. */
export interface LogKey {
  /** The key name, which is the log's origin. */
  origin: string
  signer: NoteSigner
  /** C2SP verifier key string `origin+hexid+base64(0x01 || key)`. */
  verifierKey: string
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array
  /** The public key as X.509 SubjectPublicKeyInfo DER. */
  spkiDer: Uint8Array
  /** SHA-256 of spkiDer: the Sigstore `logId.keyId` of this log. */
  logId: Uint8Array
  /** SHA-256(origin || 0x0A || 0x01 || key): the Sigstore `checkpointKeyId`; its first 4 bytes are the note key id. */
  checkpointKeyId: Uint8Array
}

/** Derives every identifier of a log key from its C2SP signer key string. Throws TlogError MALFORMED_KEY. */
export function logKeyFromSignerKey(signerKey: string): LogKey {
  const parts = decodeEd25519SignerKey(signerKey, SIGNATURE_TYPE_ED25519)
  const verifierKey = verifierKeyOf(signerKey)
  const { spkiDer, logId, checkpointKeyId } = logKeyIds(verifierKey)
  return {
    origin: parts.name,
    signer: parseSignerKey(signerKey),
    verifierKey,
    publicKey: parts.publicKey,
    spkiDer,
    logId,
    checkpointKeyId,
  }
}

/**
 * Reads `<dataDir>/log.key`, or, when it does not exist and `mayCreate`, generates a fresh key named
 * `origin` and writes it (mode 0600, written to a temporary file, synced, then renamed, so a crash never
 * leaves half a key). Throws LogServerError DATA_MISMATCH when the file is unreadable, is not a signer key,
 * or names another origin than `origin` (when given), and INVALID_CONFIG for an origin that cannot be a
 * note key name (empty, spaces, '+').
 */
export async function loadOrCreateLogKey(
  dataDir: string,
  origin: string | undefined,
  defaultOrigin: string,
  mayCreate: boolean,
  file = LOG_KEY_FILE,
): Promise<{ key: LogKey; created: boolean }> {
  if (origin !== undefined && !isValidKeyName(origin)) {
    throw new LogServerError(
      'INVALID_CONFIG',
      `origin ${JSON.stringify(origin)} is not a valid note key name`,
    )
  }
  const path = join(dataDir, file)
  let text: string | undefined
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new LogServerError('DATA_MISMATCH', `cannot read ${path}: ${(err as Error).message}`, {
        cause: err,
      })
    }
  }
  if (text !== undefined) {
    let key: LogKey
    try {
      key = logKeyFromSignerKey(text.trimEnd())
    } catch (cause) {
      throw new LogServerError('DATA_MISMATCH', `${path} does not hold a note signer key`, { cause })
    }
    if (origin !== undefined && origin !== key.origin) {
      throw new LogServerError(
        'DATA_MISMATCH',
        `${path} belongs to origin ${JSON.stringify(key.origin)}, not ${JSON.stringify(origin)}`,
      )
    }
    return { key, created: false }
  }
  if (!mayCreate) {
    throw new LogServerError('DATA_MISMATCH', `${path} is missing but the database already holds a log`)
  }
  const { signerKey } = generateNoteKey(origin ?? defaultOrigin)
  await writeFileDurably(path, signerKey + '\n', 0o600)
  return { key: logKeyFromSignerKey(signerKey), created: true }
}
