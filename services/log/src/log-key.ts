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
import { createRecordedFile, placeRecordedFile, readFileIfExists } from '@ledger/durable-file'
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
 * Reads `<dataDir>/log.key` (or `file`). When it does not exist:
 * - and the store records no log (`recorded` undefined), generates a fresh key named `origin` (or
 *   `defaultOrigin`), writes it durably (mode 0600) to `log.key.new`, calls `record(key)` to write the
 *   store's record of it, and only then renames it to `log.key`. A crash before the record leaves no
 *   `log.key` and an empty store, a first start again; a key file beside an empty store always means a
 *   lost store. When `record` throws (another process of the log recorded its own key first), nothing is
 *   put in place.
 * - and the store records a log, finishes a first start that crashed between the record and the rename
 *   (`log.key.new` holds the key whose verifier key is `recorded`), or throws: the key is lost.
 * `created` is true when the key was made (or put in place) by this call, its record written. Throws
 * LogServerError DATA_MISMATCH when the file is unreadable, is not a signer key, or names another origin
 * than `origin` (when given), and INVALID_CONFIG for an origin that cannot be a note key name (empty,
 * spaces, '+').
 */
export async function loadOrCreateLogKey(
  dataDir: string,
  origin: string | undefined,
  defaultOrigin: string,
  recorded: string | undefined,
  record: (key: LogKey) => Promise<void>,
  file = LOG_KEY_FILE,
): Promise<{ key: LogKey; created: boolean }> {
  if (origin !== undefined && !isValidKeyName(origin)) {
    throw new LogServerError(
      'INVALID_CONFIG',
      `origin ${JSON.stringify(origin)} is not a valid note key name`,
    )
  }
  const path = join(dataDir, file)
  const text = await readKeyFile(path)
  if (text !== undefined) return { key: parseLogKey(path, text, origin), created: false }
  if (recorded === undefined) {
    const { signerKey } = generateNoteKey(origin ?? defaultOrigin)
    const key = logKeyFromSignerKey(signerKey)
    await createRecordedFile(path, signerKey + '\n', 0o600, () => record(key))
    return { key, created: true }
  }
  const placed = await placeRecordedFile(path, (pending) => {
    try {
      return verifierKeyOf(pending.trimEnd()) === recorded
    } catch {
      return false
    }
  })
  if (placed === undefined) {
    throw new LogServerError('DATA_MISMATCH', `${path} is missing but the database already holds a log`)
  }
  return { key: parseLogKey(path, placed, origin), created: true }
}

/** Reads `<dataDir>/log.key` (or `file`), which must exist. Throws LogServerError DATA_MISMATCH otherwise. */
export async function readLogKey(dataDir: string, file = LOG_KEY_FILE): Promise<LogKey> {
  const path = join(dataDir, file)
  const text = await readKeyFile(path)
  if (text === undefined) throw new LogServerError('DATA_MISMATCH', `${path} is missing`)
  return parseLogKey(path, text, undefined)
}

async function readKeyFile(path: string): Promise<string | undefined> {
  try {
    return await readFileIfExists(path)
  } catch (err) {
    throw new LogServerError('DATA_MISMATCH', `cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
    })
  }
}

function parseLogKey(path: string, text: string, origin: string | undefined): LogKey {
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
  return key
}
