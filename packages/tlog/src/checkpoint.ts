// C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the note text of a log's signed tree head.
import { fromBase64, MAX_TREE_SIZE, toBase64 } from './bytes.js'
import type { Cosignature } from './cosignature.js'
import { TlogError } from './errors.js'
import { HASH_SIZE, type Hash } from './hash.js'
import {
  decodeNoteText,
  openNote,
  SIGNATURE_TYPE_COSIGNATURE_V1,
  type NoteSignature,
  type NoteVerifier,
  type OpenedNote,
} from './signed-note.js'

/** A checkpoint body: origin line, tree size, RFC 6962 root hash, and opaque extension lines. */
export interface Checkpoint {
  origin: string
  size: bigint
  root: Hash
  extensions: string[]
}

const SIZE_RE = /^(?:0|[1-9][0-9]*)$/
// A line may hold any Unicode but no control character (signed-note) and no newline.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const BAD_LINE_RE = /[\u0000-\u001f]|\p{Cs}/u

/**
 * Writes a checkpoint body (C2SP tlog-checkpoint, "Note text"). Throws TlogError INVALID_ARGUMENT when a
 * field cannot be written so that parseCheckpoint reads it back: an empty origin or extension line, a
 * newline or control character in one, a size outside 0..2^63-1, a root that is not 32 bytes.
 */
export function encodeCheckpoint(checkpoint: Checkpoint): string {
  const lines = [checkpoint.origin, ...checkpoint.extensions]
  for (const line of lines) {
    if (line.length === 0 || BAD_LINE_RE.test(line)) {
      throw new TlogError(
        'INVALID_ARGUMENT',
        'checkpoint lines must be non-empty, without control characters',
      )
    }
  }
  if (checkpoint.size < 0n || checkpoint.size > MAX_TREE_SIZE) {
    throw new TlogError('INVALID_ARGUMENT', `tree size ${checkpoint.size} outside 0..2^63-1`)
  }
  if (checkpoint.root.length !== HASH_SIZE)
    throw new TlogError('INVALID_ARGUMENT', 'root hash is not 32 bytes')
  const body = [
    checkpoint.origin,
    checkpoint.size.toString(),
    toBase64(checkpoint.root),
    ...checkpoint.extensions,
  ]
  return `${body.join('\n')}\n`
}

/**
 * Parses a checkpoint body (untrusted) strictly (C2SP tlog-checkpoint, "Note text"; the reading of
 * test/vectors/README.md): valid UTF-8 without control characters but newline, ending in a newline, at
 * least three lines, all non-empty; the size canonical ASCII decimal; the root canonical padded base64 of
 * 32 bytes. Any origin that is non-empty is accepted (spaces and '+' are only SHOULD NOT).
 * Throws TlogError MALFORMED_CHECKPOINT, or SIZE_OUT_OF_RANGE for a size above 2^63-1.
 */
export function parseCheckpoint(text: string | Uint8Array): Checkpoint {
  const body = decodeNoteText(text, 'MALFORMED_CHECKPOINT')
  if (!body.endsWith('\n')) throw new TlogError('MALFORMED_CHECKPOINT', 'text does not end with a newline')
  const lines = body.slice(0, -1).split('\n')
  if (lines.length < 3) throw new TlogError('MALFORMED_CHECKPOINT', 'fewer than three lines')
  if (lines.some((line) => line.length === 0)) throw new TlogError('MALFORMED_CHECKPOINT', 'empty line')
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]]
  if (!SIZE_RE.test(sizeLine)) {
    throw new TlogError('MALFORMED_CHECKPOINT', 'tree size is not canonical ASCII decimal')
  }
  // 2^63-1 has 19 digits: a longer canonical number is out of range without building a huge BigInt.
  if (sizeLine.length > 19 || BigInt(sizeLine) > MAX_TREE_SIZE) {
    throw new TlogError('SIZE_OUT_OF_RANGE', 'tree size above 2^63-1')
  }
  let root: Uint8Array
  try {
    root = fromBase64(rootLine, HASH_SIZE)
  } catch (cause) {
    throw new TlogError('MALFORMED_CHECKPOINT', 'root hash is not canonical base64 of 32 bytes', { cause })
  }
  return { origin, size: BigInt(sizeLine), root, extensions }
}

/** Options of openCheckpoint. */
export interface OpenCheckpointOptions {
  /** Trusted witness keys (cosignature/v1 verifiers, or plain note verifiers). Default: none. */
  witnesses?: readonly NoteVerifier[]
  /** How many distinct witnesses must have signed. Default: all of `witnesses`. */
  quorum?: number
  /** The origin line expected. Default: the log key's name (C2SP: the key name SHOULD match the origin). */
  origin?: string
}

/** A checkpoint that passed openCheckpoint. */
export interface OpenedCheckpoint {
  checkpoint: Checkpoint
  note: OpenedNote
  /** The verified witness signatures, one per witness, in message order. */
  witnessSignatures: NoteSignature[]
  /** The cosignature/v1 ones among them, with their timestamps (the caller judges their age). */
  cosignatures: Cosignature[]
}

/**
 * Opens a signed checkpoint (untrusted) from the log with key `logVerifier`: the note must carry a valid
 * signature by the log key (C2SP signed-note rules; any failing signature by a known key rejects it), its
 * text must be a checkpoint whose origin is the log key's name (or `opts.origin`), and at least
 * `opts.quorum` of `opts.witnesses` must have signed it validly. Signatures by other keys are ignored.
 * Throws TlogError MALFORMED_NOTE, MALFORMED_CHECKPOINT, SIZE_OUT_OF_RANGE, BAD_SIGNATURE,
 * NO_VERIFIED_SIGNATURE (the log did not sign), ORIGIN_MISMATCH, QUORUM_NOT_MET, or INVALID_ARGUMENT
 * (a quorum that is not an integer in 0..witnesses, two keys with one name and key id).
 */
export function openCheckpoint(
  signedNote: string | Uint8Array,
  logVerifier: NoteVerifier,
  opts: OpenCheckpointOptions = {},
): OpenedCheckpoint {
  const witnesses = opts.witnesses ?? []
  const quorum = opts.quorum ?? witnesses.length
  if (!Number.isSafeInteger(quorum) || quorum < 0 || quorum > witnesses.length) {
    throw new TlogError('INVALID_ARGUMENT', `quorum ${quorum} is not in 0..${witnesses.length}`)
  }
  const note = openNote(signedNote, [logVerifier, ...witnesses])
  const isKey = (key: NoteVerifier) => (sig: NoteSignature) =>
    sig.name === key.name && sig.keyId === key.keyId
  if (!note.signatures.some(isKey(logVerifier))) {
    throw new TlogError('NO_VERIFIED_SIGNATURE', `no signature by the log key ${logVerifier.name}`)
  }
  const checkpoint = parseCheckpoint(note.text)
  const origin = opts.origin ?? logVerifier.name
  if (checkpoint.origin !== origin) {
    throw new TlogError('ORIGIN_MISMATCH', `checkpoint origin is not ${JSON.stringify(origin)}`)
  }
  const witnessSignatures: NoteSignature[] = []
  const cosignatures: Cosignature[] = []
  // note.signatures holds each key once, in message order.
  for (const sig of note.signatures) {
    const witness = witnesses.find((key) => isKey(key)(sig))
    if (witness === undefined) continue
    witnessSignatures.push(sig)
    if (witness.signatureType === SIGNATURE_TYPE_COSIGNATURE_V1) cosignatures.push(decodeTimestamped(sig))
  }
  if (witnessSignatures.length < quorum) {
    throw new TlogError('QUORUM_NOT_MET', `${witnessSignatures.length} of ${quorum} witness cosignatures`)
  }
  return { checkpoint, note, witnessSignatures, cosignatures }
}

/** Splits a verified cosignature/v1 signature (u64 timestamp || 64-byte Ed25519 signature). */
function decodeTimestamped(sig: NoteSignature): Cosignature {
  if (sig.signature.length !== 8 + 64) {
    throw new TlogError('MALFORMED_COSIGNATURE', `cosignature of ${sig.signature.length} bytes, expected 72`)
  }
  const view = new DataView(sig.signature.buffer, sig.signature.byteOffset, sig.signature.byteLength)
  return {
    name: sig.name,
    keyId: sig.keyId,
    timestamp: view.getBigUint64(0),
    signature: sig.signature.slice(8),
  }
}
