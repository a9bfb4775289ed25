import { join } from 'node:path'
import {
  decodeEd25519SignerKey,
  generateCosignerKey,
  isValidKeyName,
  parseCosignerKey,
  SIGNATURE_TYPE_COSIGNATURE_V1,
  type CosignatureSigner,
} from '@ledger/tlog'
import { WitnessError } from './errors.js'
import { createRecordedFile, placeRecordedFile, readFileIfExists } from '@ledger/durable-file'

/** File name of the witness's signer key inside the data directory. */
export const WITNESS_KEY_FILE = 'witness.key'

/** The witness key: its signer and its C2SP verifier key string (cosignature/v1, type 0x04). */
export interface WitnessKey {
  name: string
  signer: CosignatureSigner
  verifierKey: string
}

/** The key of a signer key string `PRIVATE+KEY+name+id+base64(0x04 || seed)`. Throws TlogError MALFORMED_KEY. */
export function witnessKeyFromSignerKey(signerKey: string): WitnessKey {
  const { name, seed } = decodeEd25519SignerKey(signerKey, SIGNATURE_TYPE_COSIGNATURE_V1)
  return {
    name,
    signer: parseCosignerKey(signerKey),
    verifierKey: generateCosignerKey(name, seed).verifierKey,
  }
}

/**
 * Reads `<dataDir>/witness.key`. When it does not exist and the state records no key (`recorded`
 * undefined), generates a fresh key named `name` (or `defaultName`), writes it durably (mode 0600) to
 * `witness.key.new`, calls `record(key)` to write the state's record of it, and only then renames it into
 * place: a crash in between never leaves a key file beside empty state, which always means lost state.
 * When the state records a key, finishes a first start that crashed between the record and the rename,
 * or throws (the key is lost). `created` is true when the key was made (or put in place) by this call.
 * Throws WitnessError DATA_MISMATCH when the file is unreadable, not a cosigner key, names another key
 * than `name`, or is missing while the state already exists (a new key would present a history it never
 * saw as its own); INVALID_CONFIG for a name that cannot be a note key name. When the file exists and the
 * state records nothing, the caller refuses it unless the operator said it is a new identity.
 */
export async function loadOrCreateWitnessKey(
  dataDir: string,
  name: string | undefined,
  defaultName: string,
  recorded: string | undefined,
  record: (key: WitnessKey) => Promise<void>,
): Promise<{ key: WitnessKey; created: boolean }> {
  if (name !== undefined && !isValidKeyName(name)) {
    throw new WitnessError('INVALID_CONFIG', `name ${JSON.stringify(name)} is not a valid note key name`)
  }
  const path = join(dataDir, WITNESS_KEY_FILE)
  let text: string | undefined
  try {
    text = await readFileIfExists(path)
  } catch (err) {
    throw new WitnessError('DATA_MISMATCH', `cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  if (text !== undefined) return { key: parseWitnessKey(path, text, name), created: false }
  if (recorded === undefined) {
    const { signerKey } = generateCosignerKey(name ?? defaultName)
    const key = witnessKeyFromSignerKey(signerKey)
    await createRecordedFile(path, `${signerKey}\n`, 0o600, () => record(key))
    return { key, created: true }
  }
  const placed = await placeRecordedFile(path, (pending) => {
    try {
      return witnessKeyFromSignerKey(pending.trimEnd()).verifierKey === recorded
    } catch {
      return false
    }
  })
  if (placed === undefined) {
    throw new WitnessError('DATA_MISMATCH', `${path} is missing but the database already holds witness state`)
  }
  return { key: parseWitnessKey(path, placed, name), created: true }
}

function parseWitnessKey(path: string, text: string, name: string | undefined): WitnessKey {
  let key: WitnessKey
  try {
    key = witnessKeyFromSignerKey(text.trimEnd())
  } catch (cause) {
    throw new WitnessError('DATA_MISMATCH', `${path} does not hold a cosigner key`, { cause })
  }
  if (name !== undefined && name !== key.name) {
    throw new WitnessError(
      'DATA_MISMATCH',
      `${path} is named ${JSON.stringify(key.name)}, not ${JSON.stringify(name)}`,
    )
  }
  return key
}
