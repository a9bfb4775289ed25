import { readFile } from 'node:fs/promises'
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
import { writeFileDurably } from '@ledger/durable-file'

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
 * Reads `<dataDir>/witness.key`, or, when it does not exist and `mayCreate`, generates a fresh key named
 * `name` (or `defaultName`) and writes it durably with mode 0600. Throws WitnessError DATA_MISMATCH when
 * the file is unreadable, not a cosigner key, names another key than `name`, or is missing while the
 * state already exists (a new key would present a history it never saw as its own); INVALID_CONFIG for
 * a name that cannot be a note key name. `mayCreate` is true exactly when there is no state: the caller
 * then refuses an existing key (`created` false) unless the operator said it is a new identity.
 */
export async function loadOrCreateWitnessKey(
  dataDir: string,
  name: string | undefined,
  defaultName: string,
  mayCreate: boolean,
): Promise<{ key: WitnessKey; created: boolean }> {
  if (name !== undefined && !isValidKeyName(name)) {
    throw new WitnessError('INVALID_CONFIG', `name ${JSON.stringify(name)} is not a valid note key name`)
  }
  const path = join(dataDir, WITNESS_KEY_FILE)
  let text: string | undefined
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new WitnessError('DATA_MISMATCH', `cannot read ${path}: ${(err as Error).message}`, {
        cause: err,
      })
    }
  }
  if (text !== undefined) {
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
    return { key, created: false }
  }
  if (!mayCreate) {
    throw new WitnessError('DATA_MISMATCH', `${path} is missing but the database already holds witness state`)
  }
  const { signerKey } = generateCosignerKey(name ?? defaultName)
  await writeFileDurably(path, `${signerKey}\n`, 0o600)
  return { key: witnessKeyFromSignerKey(signerKey), created: true }
}
