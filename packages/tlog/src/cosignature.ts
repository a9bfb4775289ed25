// C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature), the Ed25519 `cosignature/v1` type (0x04):
// a witness's timestamped signature over a checkpoint body. The caller passes the clock in.
import { concatBytes, MAX_TREE_SIZE, uint64BE } from './bytes.js'
import { parseCheckpoint } from './checkpoint.js'
import { TlogError } from './errors.js'
import {
  decodeEd25519SignerKey,
  decodeEd25519VerifierKey,
  ed25519Sign,
  ed25519Verify,
  encodeEd25519KeyPair,
  formatSignatureLine,
  parseSignatureLine,
  SIGNATURE_TYPE_COSIGNATURE_V1,
  type NoteSignature,
  type NoteVerifier,
} from './signed-note.js'

/** The largest timestamp a cosignature may carry (tlog-cosignature: "MUST NOT exceed 2^63 - 1"). */
export const MAX_COSIGNATURE_TIMESTAMP = MAX_TREE_SIZE

const TIMESTAMP_SIZE = 8
const ED25519_SIGNATURE_SIZE = 64
const utf8Encoder = new TextEncoder()

/** A decoded cosignature/v1: who, when (POSIX seconds), and the 64-byte Ed25519 signature. */
export interface Cosignature {
  name: string
  keyId: number
  timestamp: bigint
  signature: Uint8Array
}

/** A witness key that cosigns checkpoints. */
export interface CosignatureSigner {
  readonly name: string
  readonly keyId: number
  readonly signatureType: typeof SIGNATURE_TYPE_COSIGNATURE_V1
  /** Cosigns a checkpoint body at `timestamp` (POSIX seconds). Throws MALFORMED_CHECKPOINT, INVALID_ARGUMENT. */
  cosign(checkpointBody: string, timestamp: bigint): Cosignature
  /** The same cosignature as a note signature line, newline included, to append to the signed checkpoint. */
  signatureLine(checkpointBody: string, timestamp: bigint): string
}

/**
 * A trusted witness key. As a NoteVerifier it verifies the note signature bytes `u64 timestamp || Ed25519
 * signature` over the cosignature/v1 message built from the note text, so openNote and openCheckpoint
 * take it next to Ed25519 note verifiers.
 */
export interface CosignatureVerifier extends NoteVerifier {
  readonly signatureType: typeof SIGNATURE_TYPE_COSIGNATURE_V1
  readonly publicKey: Uint8Array
}

function assertTimestamp(timestamp: bigint): void {
  if (timestamp < 0n || timestamp > MAX_COSIGNATURE_TIMESTAMP) {
    throw new TlogError('INVALID_ARGUMENT', `timestamp ${timestamp} outside 0..2^63-1`)
  }
}

function messagePrefix(timestamp: bigint): Uint8Array {
  return utf8Encoder.encode(`cosignature/v1\ntime ${timestamp}\n`)
}

/**
 * The message a cosignature/v1 signs (tlog-cosignature, "Ed25519 signed message"): the lines
 * `cosignature/v1` and `time <timestamp>`, then the whole checkpoint body with its final newline.
 * Throws TlogError INVALID_ARGUMENT for a timestamp outside 0..2^63-1.
 *
 * Extension lines are signed too, as tlog-cosignature v1.0.0 and later say; some older witnesses (e.g.
 * torchwood before 2025-06) signed only the first three lines, so they disagree on checkpoints with
 * extensions. This ledger's checkpoints carry none.
 */
export function cosignatureMessage(checkpointBody: string, timestamp: bigint): Uint8Array {
  assertTimestamp(timestamp)
  return concatBytes(messagePrefix(timestamp), utf8Encoder.encode(checkpointBody))
}

/**
 * Makes a cosigner key pair (signature type 0x04) from a 32-byte seed, by default 32 random bytes:
 * signer `PRIVATE+KEY+name+id+base64(0x04 || seed)` (x/mod's signer key format with type 0x04) and
 * verifier `name+id+base64(0x04 || public key)` (the vkey of tlog-cosignature). The key id is
 * SHA-256(name || 0x0A || 0x04 || public key)[:4]. Throws TlogError INVALID_ARGUMENT.
 */
export function generateCosignerKey(
  name: string,
  seed?: Uint8Array,
): { signerKey: string; verifierKey: string } {
  return encodeEd25519KeyPair(name, SIGNATURE_TYPE_COSIGNATURE_V1, seed)
}

/** Parses a cosigner signer key string (type 0x04 only). Throws TlogError MALFORMED_KEY. */
export function parseCosignerKey(signerKey: string): CosignatureSigner {
  const { name, keyId, privateKey } = decodeEd25519SignerKey(signerKey, SIGNATURE_TYPE_COSIGNATURE_V1)
  const cosign = (checkpointBody: string, timestamp: bigint): Cosignature => {
    // A witness vouches for a checkpoint; refuse to sign anything else.
    parseCheckpoint(checkpointBody)
    const signature = ed25519Sign(privateKey, cosignatureMessage(checkpointBody, timestamp))
    return { name, keyId, timestamp, signature }
  }
  return {
    name,
    keyId,
    signatureType: SIGNATURE_TYPE_COSIGNATURE_V1,
    cosign,
    signatureLine: (checkpointBody, timestamp) => formatCosignatureLine(cosign(checkpointBody, timestamp)),
  }
}

/**
 * Parses a cosigner verifier key `name+id+base64(0x04 || 32-byte Ed25519 key)` (untrusted). Throws
 * TlogError MALFORMED_KEY (grammar, another signature type, key id mismatch).
 */
export function parseCosignatureVerifierKey(vkey: string): CosignatureVerifier {
  const { name, keyId, publicKey, publicKeyObject } = decodeEd25519VerifierKey(
    vkey,
    SIGNATURE_TYPE_COSIGNATURE_V1,
  )
  return {
    name,
    keyId,
    signatureType: SIGNATURE_TYPE_COSIGNATURE_V1,
    publicKey,
    verify(message, signature) {
      if (signature.length !== TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE) return false
      const timestamp = new DataView(signature.buffer, signature.byteOffset, TIMESTAMP_SIZE).getBigUint64(0)
      if (timestamp > MAX_COSIGNATURE_TIMESTAMP) return false
      const signed = concatBytes(messagePrefix(timestamp), message)
      return ed25519Verify(publicKeyObject, signed, signature.subarray(TIMESTAMP_SIZE))
    },
  }
}

/** The note signature of a cosignature: its bytes after the key id are `u64 BE timestamp || signature`. */
export function cosignatureToNoteSignature(cosignature: Cosignature): NoteSignature {
  assertTimestamp(cosignature.timestamp)
  if (cosignature.signature.length !== ED25519_SIGNATURE_SIZE) {
    throw new TlogError('INVALID_ARGUMENT', 'Ed25519 signature is not 64 bytes')
  }
  return {
    name: cosignature.name,
    keyId: cosignature.keyId,
    signature: concatBytes(uint64BE(cosignature.timestamp), cosignature.signature),
  }
}

/**
 * Decodes the signature bytes of a cosignature/v1 note signature (untrusted): exactly 8 + 64 bytes, a
 * timestamp no larger than 2^63-1. Throws TlogError MALFORMED_COSIGNATURE. Verifies nothing.
 */
export function cosignatureFromNoteSignature(sig: NoteSignature): Cosignature {
  if (sig.signature.length !== TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE) {
    throw new TlogError('MALFORMED_COSIGNATURE', `cosignature of ${sig.signature.length} bytes, expected 72`)
  }
  const view = new DataView(sig.signature.buffer, sig.signature.byteOffset, TIMESTAMP_SIZE)
  const timestamp = view.getBigUint64(0)
  if (timestamp > MAX_COSIGNATURE_TIMESTAMP) {
    throw new TlogError('MALFORMED_COSIGNATURE', 'cosignature timestamp above 2^63-1')
  }
  return { name: sig.name, keyId: sig.keyId, timestamp, signature: sig.signature.slice(TIMESTAMP_SIZE) }
}

/** The signature line `— name base64(key id || timestamp || signature)` with its newline. */
export function formatCosignatureLine(cosignature: Cosignature): string {
  return formatSignatureLine(cosignatureToNoteSignature(cosignature))
}

/**
 * Parses a cosignature signature line (untrusted, e.g. a tlog-witness response), with or without its
 * newline. Verifies nothing. Throws TlogError MALFORMED_COSIGNATURE.
 */
export function parseCosignatureLine(line: string): Cosignature {
  let sig: NoteSignature
  try {
    sig = parseSignatureLine(line)
  } catch (cause) {
    throw new TlogError('MALFORMED_COSIGNATURE', 'not a signature line', { cause })
  }
  return cosignatureFromNoteSignature(sig)
}

/**
 * Checks that `cosignature` (untrusted) is a valid cosignature/v1 by `verifier` over `checkpointBody`:
 * same key name and key id, and a valid Ed25519 signature over the cosigned message. Throws TlogError
 * MALFORMED_CHECKPOINT or SIZE_OUT_OF_RANGE (the body is not a checkpoint), MALFORMED_COSIGNATURE
 * (timestamp above 2^63-1, signature not 64 bytes), BAD_SIGNATURE (another key, or no valid signature).
 */
export function verifyCosignature(
  verifier: CosignatureVerifier,
  checkpointBody: string,
  cosignature: Cosignature,
): void {
  parseCheckpoint(checkpointBody)
  if (cosignature.timestamp < 0n || cosignature.timestamp > MAX_COSIGNATURE_TIMESTAMP) {
    throw new TlogError('MALFORMED_COSIGNATURE', 'cosignature timestamp outside 0..2^63-1')
  }
  if (cosignature.signature.length !== ED25519_SIGNATURE_SIZE) {
    throw new TlogError('MALFORMED_COSIGNATURE', 'cosignature signature is not 64 bytes')
  }
  if (cosignature.name !== verifier.name || cosignature.keyId !== verifier.keyId) {
    throw new TlogError('BAD_SIGNATURE', `cosignature is not by ${verifier.name}`)
  }
  const signature = concatBytes(uint64BE(cosignature.timestamp), cosignature.signature)
  if (!verifier.verify(utf8Encoder.encode(checkpointBody), signature)) {
    throw new TlogError('BAD_SIGNATURE', `invalid cosignature by ${verifier.name}`)
  }
}
