// C2SP signed-note (https://c2sp.org/signed-note): Ed25519 note keys, signing, and verification.
// Where C2SP and Go's golang.org/x/mod/sumdb/note differ, the comments say which one is followed.
import {
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto'
import { bytesEqual, concatBytes, fromBase64, fromHex, toBase64, toHex } from './bytes.js'
import { TlogError } from './errors.js'
import { sha256 } from './hash.js'

/** Signature type byte of plain Ed25519 note signatures (C2SP signed-note, "Signature types"). */
export const SIGNATURE_TYPE_ED25519 = 0x01
/** Signature type byte of timestamped Ed25519 checkpoint cosignatures (C2SP tlog-cosignature). */
export const SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04

/**
 * Most signature lines a note may carry. C2SP asks verifiers for a limit of at least 16; x/mod's note.Open
 * rejects more than 100, and the project's vectors follow it.
 */
export const MAX_NOTE_SIGNATURES = 100

/** A key that signs note texts. `sign` returns the signature bytes that follow the 4-byte key id. */
export interface NoteSigner {
  readonly name: string
  readonly keyId: number
  sign(message: Uint8Array): Uint8Array
}

/**
 * A trusted key for note signatures. `verify` gets the note text (UTF-8 bytes) and the signature bytes that
 * follow the 4-byte key id, both untrusted, and returns false (never throws) when they do not verify.
 * `signatureType` is set by the verifiers this package makes; openCheckpoint reads cosignature timestamps
 * only from verifiers of type SIGNATURE_TYPE_COSIGNATURE_V1.
 */
export interface NoteVerifier {
  readonly name: string
  readonly keyId: number
  readonly signatureType?: number
  verify(message: Uint8Array, signature: Uint8Array): boolean
}

/** One signature line: key name, key id, and the signature bytes after the key id. */
export interface NoteSignature {
  name: string
  keyId: number
  signature: Uint8Array
}

/** A note that passed openNote: its text, the verified signatures and the ignored ones, in message order. */
export interface OpenedNote {
  text: string
  signatures: NoteSignature[]
  unverified: NoteSignature[]
}

/** A signed note split into its parts, signatures not verified (see parseSignedNote). */
export interface ParsedNote {
  text: string
  signatures: NoteSignature[]
}

const EM_DASH_SPACE = '\u2014 '
const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

// ASCII control characters other than newline (C2SP signed-note, "Format"). DEL (U+007F) is allowed, as in x/mod.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_RE = /[\u0000-\u0009\u000b-\u001f]/
// Lone UTF-16 surrogates: a JS string that holds one has no UTF-8 encoding.
const LONE_SURROGATE_RE = /\p{Cs}/u
// Key names MUST NOT contain Unicode spaces or '+'. White_Space is the set Go's unicode.IsSpace tests.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const BAD_NAME_CHAR_RE = /[\p{White_Space}+\u0000-\u001f]/u
const KEY_ID_HEX_RE = /^[0-9a-f]{8}$/

/**
 * Decodes untrusted note bytes as strict UTF-8, or checks that a string has a UTF-8 encoding, and rejects
 * ASCII control characters other than newline. Throws TlogError(`code`).
 */
export function decodeNoteText(
  input: string | Uint8Array,
  code: 'MALFORMED_NOTE' | 'MALFORMED_CHECKPOINT',
): string {
  let text: string
  if (typeof input === 'string') {
    if (LONE_SURROGATE_RE.test(input)) throw new TlogError(code, 'text is not valid Unicode')
    text = input
  } else {
    try {
      text = utf8Decoder.decode(input)
    } catch (cause) {
      throw new TlogError(code, 'text is not valid UTF-8', { cause })
    }
  }
  if (CONTROL_RE.test(text)) throw new TlogError(code, 'text holds a control character other than newline')
  return text
}

/** True when `name` can name a note key: non-empty, valid Unicode, no spaces, no '+', no control characters. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !LONE_SURROGATE_RE.test(name) && !BAD_NAME_CHAR_RE.test(name)
}

/**
 * The RECOMMENDED key id of C2SP signed-note: the first four bytes, big-endian, of
 * SHA-256(key name || 0x0A || signature type || public key).
 */
export function noteKeyId(name: string, signatureType: number, publicKey: Uint8Array): number {
  const digest = sha256(utf8Encoder.encode(name), Uint8Array.of(0x0a, signatureType), publicKey)
  return new DataView(digest.buffer, digest.byteOffset, 4).getUint32(0)
}

function keyIdBytes(keyId: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, keyId)
  return out
}

function keyIdHex(keyId: number): string {
  return toHex(keyIdBytes(keyId))
}

// --- Ed25519 keys via node:crypto (raw 32-byte keys wrapped in the fixed DER prefixes of RFC 8410) ---

const PKCS8_ED25519_PREFIX = fromHex('302e020100300506032b657004220420')
const SPKI_ED25519_PREFIX = fromHex('302a300506032b6570032100')
const ED25519_KEY_SIZE = 32
const ED25519_SIGNATURE_SIZE = 64

function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.from(concatBytes(PKCS8_ED25519_PREFIX, seed)),
    format: 'der',
    type: 'pkcs8',
  })
}

function ed25519PublicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({
    key: Buffer.from(concatBytes(SPKI_ED25519_PREFIX, publicKey)),
    format: 'der',
    type: 'spki',
  })
}

function ed25519PublicKeyOf(privateKey: KeyObject): Uint8Array {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  return new Uint8Array(spki.subarray(spki.length - ED25519_KEY_SIZE))
}

/**
 * Ed25519 (RFC 8032) over `message` with the key whose 32-byte seed made `privateKey`. Deterministic.
 * Building block for note and cosignature signers.
 */
export function ed25519Sign(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(cryptoSign(null, message, privateKey))
}

/** Ed25519 verification of untrusted input; false for any wrong length or bad signature. */
export function ed25519Verify(publicKey: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_SIZE) return false
  try {
    return cryptoVerify(null, message, publicKey, signature)
  } catch {
    return false
  }
}

/** The parts of an Ed25519-based key string (signer keys also carry the seed and its KeyObject). */
export interface Ed25519KeyParts {
  name: string
  keyId: number
  signatureType: number
  publicKey: Uint8Array
  publicKeyObject: KeyObject
}

export interface Ed25519SignerKeyParts extends Ed25519KeyParts {
  seed: Uint8Array
  privateKey: KeyObject
}

/** Splits `name+hex8+base64` at its first two '+': names cannot hold '+', base64 can. */
function splitKeyString(key: string): [string, string, string] | undefined {
  const first = key.indexOf('+')
  if (first < 0) return undefined
  const second = key.indexOf('+', first + 1)
  if (second < 0) return undefined
  return [key.slice(0, first), key.slice(first + 1, second), key.slice(second + 1)]
}

function decodeKeyMaterial(key: string, signatureType: number, what: string) {
  const parts = splitKeyString(key)
  if (parts === undefined) throw new TlogError('MALFORMED_KEY', `${what} is not name+id+key`)
  const [name, hex, b64] = parts
  if (!isValidKeyName(name)) throw new TlogError('MALFORMED_KEY', `${what} has an invalid key name`)
  if (!KEY_ID_HEX_RE.test(hex))
    throw new TlogError('MALFORMED_KEY', `${what} key id is not 8 lowercase hex digits`)
  let material: Uint8Array
  try {
    material = fromBase64(b64)
  } catch (cause) {
    throw new TlogError('MALFORMED_KEY', `${what} key is not canonical base64`, { cause })
  }
  if (material.length === 0) throw new TlogError('MALFORMED_KEY', `${what} has no key`)
  if (material[0] !== signatureType) {
    throw new TlogError(
      'MALFORMED_KEY',
      `${what} has signature type ${material[0]}, expected ${signatureType}`,
    )
  }
  const raw = material.subarray(1)
  if (raw.length !== ED25519_KEY_SIZE) throw new TlogError('MALFORMED_KEY', `${what} key is not 32 bytes`)
  return { name, keyId: Number.parseInt(hex, 16), raw: new Uint8Array(raw) }
}

/**
 * Decodes an Ed25519-based verifier key `name+hex(key id)+base64(type || 32-byte public key)` (C2SP
 * signed-note, "Verifier keys") of the given signature type. Untrusted input; throws TlogError
 * MALFORMED_KEY for any grammar error, another type, or a key id that does not match the key.
 */
export function decodeEd25519VerifierKey(vkey: string, signatureType: number): Ed25519KeyParts {
  const { name, keyId, raw } = decodeKeyMaterial(vkey, signatureType, 'verifier key')
  if (noteKeyId(name, signatureType, raw) !== keyId) {
    throw new TlogError('MALFORMED_KEY', 'verifier key id does not match the key')
  }
  let publicKeyObject: KeyObject
  try {
    publicKeyObject = ed25519PublicKeyObject(raw)
  } catch (cause) {
    throw new TlogError('MALFORMED_KEY', 'not an Ed25519 public key', { cause })
  }
  return { name, keyId, signatureType, publicKey: raw, publicKeyObject }
}

/**
 * Decodes an Ed25519-based signer key `PRIVATE+KEY+name+hex(key id)+base64(type || 32-byte seed)` (the
 * x/mod note format) of the given signature type. The key id must match the public key derived from the
 * seed. Throws TlogError MALFORMED_KEY.
 */
export function decodeEd25519SignerKey(skey: string, signatureType: number): Ed25519SignerKeyParts {
  const prefix = 'PRIVATE+KEY+'
  if (!skey.startsWith(prefix))
    throw new TlogError('MALFORMED_KEY', 'signer key does not start with PRIVATE+KEY+')
  const { name, keyId, raw: seed } = decodeKeyMaterial(skey.slice(prefix.length), signatureType, 'signer key')
  const privateKey = ed25519PrivateKey(seed)
  const publicKey = ed25519PublicKeyOf(privateKey)
  if (noteKeyId(name, signatureType, publicKey) !== keyId) {
    throw new TlogError('MALFORMED_KEY', 'signer key id does not match the key')
  }
  return {
    name,
    keyId,
    signatureType,
    publicKey,
    publicKeyObject: createPublicKey(privateKey),
    seed,
    privateKey,
  }
}

/**
 * Makes the signer and verifier key strings of an Ed25519-based key of the given signature type from a
 * 32-byte seed (default: 32 random bytes). Throws TlogError INVALID_ARGUMENT for a bad name or seed.
 */
export function encodeEd25519KeyPair(
  name: string,
  signatureType: number,
  seed?: Uint8Array,
): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name)) throw new TlogError('INVALID_ARGUMENT', 'invalid key name')
  const secret = seed ?? new Uint8Array(randomBytes(ED25519_KEY_SIZE))
  if (secret.length !== ED25519_KEY_SIZE) throw new TlogError('INVALID_ARGUMENT', 'seed is not 32 bytes')
  const publicKey = ed25519PublicKeyOf(ed25519PrivateKey(secret))
  const id = keyIdHex(noteKeyId(name, signatureType, publicKey))
  const type = Uint8Array.of(signatureType)
  return {
    signerKey: `PRIVATE+KEY+${name}+${id}+${toBase64(concatBytes(type, secret))}`,
    verifierKey: `${name}+${id}+${toBase64(concatBytes(type, publicKey))}`,
  }
}

// --- Note keys (signature type 0x01) ---

/**
 * Makes an Ed25519 note key (signature type 0x01) named `name` from a 32-byte seed, by default 32 random
 * bytes. Same strings as x/mod's note.GenerateKey for the same seed. Throws TlogError INVALID_ARGUMENT.
 */
export function generateNoteKey(name: string, seed?: Uint8Array): { signerKey: string; verifierKey: string } {
  return encodeEd25519KeyPair(name, SIGNATURE_TYPE_ED25519, seed)
}

/** Parses an Ed25519 note signer key string `PRIVATE+KEY+name+id+key`. Throws TlogError MALFORMED_KEY. */
export function parseSignerKey(key: string): NoteSigner {
  const { name, keyId, privateKey } = decodeEd25519SignerKey(key, SIGNATURE_TYPE_ED25519)
  return { name, keyId, sign: (message) => ed25519Sign(privateKey, message) }
}

/**
 * Parses an Ed25519 note verifier key string `name+id+key` (type 0x01 only, as x/mod). Untrusted input;
 * throws TlogError MALFORMED_KEY. For witness cosignature keys (type 0x04) use parseCosignatureVerifierKey.
 */
export function parseVerifierKey(key: string): NoteVerifier {
  const { name, keyId, publicKeyObject } = decodeEd25519VerifierKey(key, SIGNATURE_TYPE_ED25519)
  return {
    name,
    keyId,
    signatureType: SIGNATURE_TYPE_ED25519,
    verify: (message, signature) => ed25519Verify(publicKeyObject, message, signature),
  }
}

/** The verifier key string of an Ed25519 note signer key string. Throws TlogError MALFORMED_KEY. */
export function verifierKeyOf(signerKey: string): string {
  const { name, keyId, publicKey } = decodeEd25519SignerKey(signerKey, SIGNATURE_TYPE_ED25519)
  return `${name}+${keyIdHex(keyId)}+${toBase64(concatBytes(Uint8Array.of(SIGNATURE_TYPE_ED25519), publicKey))}`
}

// --- Notes ---

/** Checks a note text before signing: a valid note text ending in a newline. Throws MALFORMED_NOTE. */
function assertSignableText(text: string): void {
  decodeNoteText(text, 'MALFORMED_NOTE')
  if (!text.endsWith('\n')) throw new TlogError('MALFORMED_NOTE', 'note text does not end with a newline')
}

/** The signature line `— name base64(key id || signature)` plus its newline (C2SP signed-note). */
export function formatSignatureLine(signature: NoteSignature): string {
  if (!isValidKeyName(signature.name)) throw new TlogError('INVALID_ARGUMENT', 'invalid key name')
  if (!Number.isInteger(signature.keyId) || signature.keyId < 0 || signature.keyId > 0xffffffff) {
    throw new TlogError('INVALID_ARGUMENT', 'key id is not a uint32')
  }
  if (signature.signature.length === 0) throw new TlogError('INVALID_ARGUMENT', 'empty signature')
  const payload = toBase64(concatBytes(keyIdBytes(signature.keyId), signature.signature))
  return `${EM_DASH_SPACE}${signature.name} ${payload}\n`
}

/**
 * Parses one signature line (untrusted), with or without its final newline:
 * `— <name> base64(4-byte key id || signature)`, at least one signature byte. Throws MALFORMED_NOTE.
 */
export function parseSignatureLine(line: string): NoteSignature {
  const body = line.endsWith('\n') ? line.slice(0, -1) : line
  if (body.includes('\n')) throw new TlogError('MALFORMED_NOTE', 'more than one line')
  if (!body.startsWith(EM_DASH_SPACE))
    throw new TlogError('MALFORMED_NOTE', 'signature line does not start with "— "')
  const rest = body.slice(EM_DASH_SPACE.length)
  const space = rest.indexOf(' ')
  if (space < 0) throw new TlogError('MALFORMED_NOTE', 'signature line has no signature')
  const name = rest.slice(0, space)
  if (!isValidKeyName(name)) throw new TlogError('MALFORMED_NOTE', 'signature line has an invalid key name')
  let bytes: Uint8Array
  try {
    bytes = fromBase64(rest.slice(space + 1))
  } catch (cause) {
    throw new TlogError('MALFORMED_NOTE', 'signature is not canonical base64', { cause })
  }
  // x/mod's note.Open requires a key id and at least one signature byte.
  if (bytes.length < 5) throw new TlogError('MALFORMED_NOTE', 'signature shorter than 5 bytes')
  const keyId = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0)
  return { name, keyId, signature: bytes.slice(4) }
}

/**
 * Splits a signed note (untrusted) into its text and signature lines without verifying anything
 * (C2SP signed-note, "Format"): valid UTF-8 without control characters but newline, the text ends at the
 * last blank line, then one or more well-formed signature lines each ending in a newline, at most
 * MAX_NOTE_SIGNATURES. Throws TlogError MALFORMED_NOTE. Never trust the text of a note parsed this way.
 */
export function parseSignedNote(message: string | Uint8Array): ParsedNote {
  const note = decodeNoteText(message, 'MALFORMED_NOTE')
  const split = note.lastIndexOf('\n\n')
  if (split < 0) throw new TlogError('MALFORMED_NOTE', 'no blank line before the signatures')
  const text = note.slice(0, split + 1)
  const block = note.slice(split + 2)
  if (block.length === 0) throw new TlogError('MALFORMED_NOTE', 'no signature lines')
  if (!block.endsWith('\n'))
    throw new TlogError('MALFORMED_NOTE', 'signature block does not end with a newline')
  const lines = block.slice(0, -1).split('\n')
  if (lines.length > MAX_NOTE_SIGNATURES) {
    throw new TlogError('MALFORMED_NOTE', `more than ${MAX_NOTE_SIGNATURES} signature lines`)
  }
  return { text, signatures: lines.map(parseSignatureLine) }
}

function signatureKey(name: string, keyId: number): string {
  return `${name}+${keyId}`
}

/**
 * Signs `text` (which must end in a newline and be a valid note text) with every signer, in order, and
 * returns the signed note. Throws TlogError MALFORMED_NOTE for a bad text, INVALID_ARGUMENT when there
 * is no signer, two signers share a name and key id, or a signer has an invalid name.
 */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  assertSignableText(text)
  if (signers.length === 0) throw new TlogError('INVALID_ARGUMENT', 'a note needs at least one signer')
  if (signers.length > MAX_NOTE_SIGNATURES) throw new TlogError('INVALID_ARGUMENT', 'too many signers')
  const message = utf8Encoder.encode(text)
  const seen = new Set<string>()
  let lines = ''
  for (const signer of signers) {
    const key = signatureKey(signer.name, signer.keyId)
    if (seen.has(key)) throw new TlogError('INVALID_ARGUMENT', `two signers for ${signer.name}`)
    seen.add(key)
    lines += formatSignatureLine({ name: signer.name, keyId: signer.keyId, signature: signer.sign(message) })
  }
  return `${text}\n${lines}`
}

/**
 * Opens a signed note (untrusted) with the trusted `verifiers` (C2SP signed-note, "Signatures"):
 * signatures from unknown keys (name and key id not both matching a verifier) are ignored and listed in
 * `unverified` (identical lines once); every signature from a known key is verified, and one that fails
 * rejects the whole note (BAD_SIGNATURE: C2SP's SHOULD, x/mod's behaviour). Repeated signatures by one
 * key are listed once. Throws TlogError MALFORMED_NOTE (grammar, see parseSignedNote), BAD_SIGNATURE,
 * NO_VERIFIED_SIGNATURE (no known key signed), INVALID_ARGUMENT (two verifiers with one name and key id).
 *
 * x/mod skips a second signature line of an already verified key without verifying it; C2SP says a
 * signature from a known key MUST be verified, so here every one is.
 */
export function openNote(message: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const known = new Map<string, NoteVerifier>()
  for (const verifier of verifiers) {
    const key = signatureKey(verifier.name, verifier.keyId)
    if (known.has(key)) throw new TlogError('INVALID_ARGUMENT', `two verifiers for ${verifier.name}`)
    known.set(key, verifier)
  }
  const parsed = parseSignedNote(message)
  const textBytes = utf8Encoder.encode(parsed.text)
  const signatures: NoteSignature[] = []
  const unverified: NoteSignature[] = []
  const verified = new Set<string>()
  for (const sig of parsed.signatures) {
    const key = signatureKey(sig.name, sig.keyId)
    const verifier = known.get(key)
    if (verifier === undefined) {
      const repeated = unverified.some(
        (u) => u.name === sig.name && u.keyId === sig.keyId && bytesEqual(u.signature, sig.signature),
      )
      if (!repeated) unverified.push(sig)
      continue
    }
    if (!verifier.verify(textBytes, sig.signature)) {
      throw new TlogError('BAD_SIGNATURE', `invalid signature for key ${sig.name}+${keyIdHex(sig.keyId)}`)
    }
    if (verified.has(key)) continue
    verified.add(key)
    signatures.push(sig)
  }
  if (signatures.length === 0)
    throw new TlogError('NO_VERIFIED_SIGNATURE', 'note has no verifiable signatures')
  return { text: parsed.text, signatures, unverified }
}

/**
 * Adds signature lines (e.g. witness cosignatures) to a signed note, without verifying anything: the
 * caller has verified what it adds. Each extra is a signature line (with or without its newline) or a
 * NoteSignature. A new signature with the name and key id of one already in the note replaces it in
 * place (as x/mod's note.Sign replaces a key's old signature); an identical one changes nothing; others
 * are appended in order. Throws TlogError MALFORMED_NOTE for a malformed note or line, INVALID_ARGUMENT
 * when the result would exceed MAX_NOTE_SIGNATURES.
 */
export function addSignatures(
  signedNote: string,
  extraSignatures: readonly (string | NoteSignature)[],
): string {
  const parsed = parseSignedNote(signedNote)
  const result = [...parsed.signatures]
  for (const extra of extraSignatures) {
    const sig = typeof extra === 'string' ? parseSignatureLine(extra) : extra
    const at = result.findIndex((s) => s.name === sig.name && s.keyId === sig.keyId)
    if (at >= 0) result[at] = sig
    else result.push(sig)
  }
  if (result.length > MAX_NOTE_SIGNATURES) {
    throw new TlogError('INVALID_ARGUMENT', `more than ${MAX_NOTE_SIGNATURES} signatures`)
  }
  return `${parsed.text}\n${result.map(formatSignatureLine).join('')}`
}
