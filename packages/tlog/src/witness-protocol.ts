// C2SP tlog-witness v1.0.0 (https://c2sp.org/tlog-witness@v1.0.0): the add-checkpoint request and answer
// bodies, for both sides, and the log's side of one exchange with its HTTP call passed in. Pure: the
// witness server and the log server do the I/O.
import { fromBase64, MAX_TREE_SIZE, parseDecimal, toBase64 } from './bytes.js'
import { parseCheckpoint, type Checkpoint } from './checkpoint.js'
import {
  parseCosignatureLine,
  verifyCosignature,
  type Cosignature,
  type CosignatureVerifier,
} from './cosignature.js'
import { TlogError, type TlogErrorCode } from './errors.js'
import { HASH_SIZE, type Hash } from './hash.js'
import { decodeNoteText, parseSignatureLine, parseSignedNote, type ParsedNote } from './signed-note.js'

/** The path of the call under a witness's submission prefix. */
export const ADD_CHECKPOINT_PATH = '/add-checkpoint'
/** Content-Type of a 409 answer, whose body is the witness's tree size and a newline. */
export const TLOG_SIZE_CONTENT_TYPE = 'text/x.tlog.size'
/** Most consistency proof lines a request may carry ("The client MUST NOT send more than 63"). */
export const MAX_WITNESS_PROOF_LINES = 63

/** Error code of a request or answer body that breaks the tlog-witness grammar. */
export const MALFORMED_WITNESS_MESSAGE: TlogErrorCode = 'MALFORMED_WITNESS_MESSAGE'

/** An add-checkpoint request: the size the client believes the witness has, a proof, the checkpoint. */
export interface AddCheckpointRequest {
  /** Tree size of the latest checkpoint the witness cosigned for this origin (0 when none). */
  oldSize: bigint
  /** RFC 6962 consistency proof from oldSize to the checkpoint's size; empty when oldSize is 0. */
  proof: Hash[]
  /** The signed checkpoint note (checkpoint body, blank line, signature lines), as the log serves it. */
  signedCheckpoint: string
}

/** A request that passed parseAddCheckpointRequest: its parts, the note split and the body parsed. */
export interface ParsedAddCheckpointRequest extends AddCheckpointRequest {
  note: ParsedNote
  checkpoint: Checkpoint
}

function malformed(message: string, cause?: unknown): TlogError {
  return new TlogError(MALFORMED_WITNESS_MESSAGE, message, cause === undefined ? undefined : { cause })
}

/**
 * Writes an add-checkpoint request body (tlog-witness, "add-checkpoint"): `old <size>`, one base64 hash
 * per line, an empty line, then the signed checkpoint. Throws TlogError INVALID_ARGUMENT for a size outside
 * 0..2^63-1, a proof element that is not 32 bytes, more than 63 proof lines, a proof with oldSize 0, or a
 * signedCheckpoint that is not a signed checkpoint note.
 */
export function encodeAddCheckpointRequest(request: AddCheckpointRequest): string {
  const { oldSize, proof, signedCheckpoint } = request
  if (typeof oldSize !== 'bigint' || oldSize < 0n || oldSize > MAX_TREE_SIZE) {
    throw new TlogError('INVALID_ARGUMENT', `old size ${oldSize} outside 0..2^63-1`)
  }
  if (proof.length > MAX_WITNESS_PROOF_LINES) {
    throw new TlogError('INVALID_ARGUMENT', `${proof.length} proof lines, at most ${MAX_WITNESS_PROOF_LINES}`)
  }
  if (oldSize === 0n && proof.length > 0) {
    throw new TlogError('INVALID_ARGUMENT', 'the proof must be empty when the old size is 0')
  }
  for (const hash of proof) {
    if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
      throw new TlogError('INVALID_ARGUMENT', 'a proof element is not a 32-byte hash')
    }
  }
  try {
    parseCheckpoint(parseSignedNote(signedCheckpoint).text)
  } catch (cause) {
    throw new TlogError('INVALID_ARGUMENT', 'not a signed checkpoint', { cause })
  }
  return `old ${oldSize}\n${proof.map((hash) => `${toBase64(hash)}\n`).join('')}\n${signedCheckpoint}`
}

const OLD_LINE_PREFIX = 'old '

/**
 * Parses an add-checkpoint request body (untrusted) strictly: UTF-8 without control characters but
 * newline; `old <size>` in canonical decimal up to 2^63-1; at most 63 lines of canonical base64 of 32
 * bytes; an empty line; a signed note (C2SP signed-note grammar) whose text is a checkpoint. It verifies
 * no signature and does not compare the sizes (a witness answers those after checking the signature).
 * Throws TlogError MALFORMED_WITNESS_MESSAGE (the cause says what failed): every such request is a 400.
 */
export function parseAddCheckpointRequest(body: string | Uint8Array): ParsedAddCheckpointRequest {
  let text: string
  try {
    text = decodeNoteText(body, 'MALFORMED_NOTE')
  } catch (cause) {
    throw malformed('request body is not UTF-8 text without control characters', cause)
  }
  // Proof lines are never empty, so the first empty line ends the header.
  const split = text.indexOf('\n\n')
  if (split < 0) throw malformed('no empty line after the old size and proof lines')
  const header = text.slice(0, split).split('\n')
  const signedCheckpoint = text.slice(split + 2)
  const oldLine = header[0]!
  if (!oldLine.startsWith(OLD_LINE_PREFIX)) throw malformed('the first line is not `old <size>`')
  let oldSize: bigint
  try {
    oldSize = parseDecimal(oldLine.slice(OLD_LINE_PREFIX.length))
  } catch (cause) {
    throw malformed('the old size is not a canonical decimal up to 2^63-1', cause)
  }
  const proofLines = header.slice(1)
  if (proofLines.length > MAX_WITNESS_PROOF_LINES) {
    throw malformed(`more than ${MAX_WITNESS_PROOF_LINES} consistency proof lines`)
  }
  const proof = proofLines.map((line) => {
    try {
      return fromBase64(line, HASH_SIZE)
    } catch (cause) {
      throw malformed('a consistency proof line is not canonical base64 of 32 bytes', cause)
    }
  })
  let note: ParsedNote
  let checkpoint: Checkpoint
  try {
    note = parseSignedNote(signedCheckpoint)
    checkpoint = parseCheckpoint(note.text)
  } catch (cause) {
    throw malformed('the request does not end with a signed checkpoint', cause)
  }
  return { oldSize, proof, signedCheckpoint, note, checkpoint }
}

/** The body of a 409 answer: the witness's tree size in decimal and a newline (text/x.tlog.size). */
export function encodeTlogSize(size: bigint): string {
  if (typeof size !== 'bigint' || size < 0n || size > MAX_TREE_SIZE) {
    throw new TlogError('INVALID_ARGUMENT', `size ${size} outside 0..2^63-1`)
  }
  return `${size}\n`
}

/**
 * Parses the body of a 409 answer (untrusted): exactly a canonical decimal size and a newline.
 * Throws TlogError MALFORMED_WITNESS_MESSAGE.
 */
export function parseTlogSize(body: string | Uint8Array): bigint {
  const text = typeof body === 'string' ? body : new TextDecoder().decode(body)
  if (!text.endsWith('\n')) throw malformed('the size does not end with a newline')
  try {
    return parseDecimal(text.slice(0, -1))
  } catch (cause) {
    throw malformed('the size is not a canonical decimal up to 2^63-1', cause)
  }
}

/** A cosignature from an add-checkpoint answer, by a trusted witness key, verified. */
export interface VerifiedWitnessCosignature {
  verifier: CosignatureVerifier
  cosignature: Cosignature
  /** The signature line as received, with its newline: append it to the checkpoint with addSignatures. */
  line: string
}

/**
 * Parses and verifies an add-checkpoint 200 answer (untrusted) for the checkpoint body `checkpointBody`:
 * one or more note signature lines, each ending in a newline. Lines by keys other than `witnesses` are
 * ignored (tlog-witness: "The client MUST ignore any cosignatures from unknown keys"); every line by a
 * trusted key must be a valid cosignature/v1 over the checkpoint. Returns the verified ones, one per key.
 * Throws TlogError MALFORMED_WITNESS_MESSAGE (grammar), BAD_SIGNATURE (a trusted key's line does not
 * verify), NO_VERIFIED_SIGNATURE (no line by a trusted key), or what verifyCosignature throws.
 */
export function parseAddCheckpointResponse(
  body: string | Uint8Array,
  checkpointBody: string,
  witnesses: readonly CosignatureVerifier[],
): VerifiedWitnessCosignature[] {
  let text: string
  try {
    text = decodeNoteText(body, 'MALFORMED_NOTE')
  } catch (cause) {
    throw malformed('answer is not UTF-8 text without control characters', cause)
  }
  if (text.length === 0 || !text.endsWith('\n')) {
    throw malformed('answer is not one or more newline-terminated signature lines')
  }
  const verified: VerifiedWitnessCosignature[] = []
  for (const raw of text.slice(0, -1).split('\n')) {
    const line = `${raw}\n`
    let sig
    try {
      sig = parseSignatureLine(line)
    } catch (cause) {
      throw malformed('answer holds a line that is not a note signature line', cause)
    }
    const verifier = witnesses.find((w) => w.name === sig.name && w.keyId === sig.keyId)
    if (verifier === undefined) continue
    const cosignature = parseCosignatureLine(line)
    verifyCosignature(verifier, checkpointBody, cosignature)
    if (!verified.some((v) => v.verifier === verifier)) verified.push({ verifier, cosignature, line })
  }
  if (verified.length === 0) {
    throw new TlogError('NO_VERIFIED_SIGNATURE', 'no cosignature by a trusted witness key in the answer')
  }
  return verified
}

/** An HTTP answer as the caller's transport saw it. */
export interface WitnessHttpAnswer {
  status: number
  /** The Content-Type header, if any. */
  contentType?: string | undefined
  body: string | Uint8Array
}

/** Options of requestCosignature: the checkpoint, the witness, and the I/O the caller owns. */
export interface RequestCosignatureOptions {
  /** The log's signed checkpoint (as served at /checkpoint, cosignatures optional). */
  signedCheckpoint: string
  /** The witness's trusted key (its verifier key string parsed with parseCosignatureVerifierKey). */
  witness: CosignatureVerifier
  /**
   * The tree size the caller believes the witness has cosigned for this log: the size of its last
   * successful answer, or 0 when unknown (the witness's 409 then says the right one).
   */
  witnessSize: bigint
  /** RFC 6962 consistency proof between two sizes of the log's own tree (the log's trusted tiles). */
  proveConsistency(oldSize: bigint, newSize: bigint): Promise<Hash[]>
  /** POSTs `body` to `<submission prefix>/add-checkpoint` and resolves with the answer (rejects on I/O). */
  post(body: string): Promise<WitnessHttpAnswer>
}

/** The outcome of requestCosignature. `witnessSize` is what to pass next time (undefined: unknown). */
export type CosignatureOutcome =
  | { kind: 'cosigned'; cosignature: VerifiedWitnessCosignature; witnessSize: bigint }
  | {
      kind: 'refused'
      /** HTTP status of the last answer. */
      status: number
      reason:
        | 'witness-ahead' // the witness has cosigned a larger tree: this checkpoint is stale or a fork
        | 'conflict' // 409 on a retry or at an equal size: the witness saw another tree of this size
        | 'unknown-log' // 404
        | 'bad-signature' // 403: the witness does not trust the log key
        | 'bad-proof' // 422
        | 'bad-request' // 400
        | 'bad-answer' // a 200 whose body is not a valid cosignature by the witness key
        | 'other' // any other status
      witnessSize: bigint | undefined
      error?: TlogError
    }

/**
 * One tlog-witness exchange from the log's side: sends the checkpoint with a consistency proof from
 * `witnessSize`; on 409 (the witness holds another size, e.g. after the log restarted) it reads the
 * witness's size and, when that is below the checkpoint's, retries once from it. A 200 answer is verified
 * (parseAddCheckpointResponse); append `cosignature.line` to the checkpoint with addSignatures.
 * Rejects only when `post` or `proveConsistency` rejects, or `signedCheckpoint` is not a signed
 * checkpoint (TlogError MALFORMED_NOTE, MALFORMED_CHECKPOINT); refusals are outcomes.
 */
export async function requestCosignature(options: RequestCosignatureOptions): Promise<CosignatureOutcome> {
  const note = parseSignedNote(options.signedCheckpoint)
  const { size } = parseCheckpoint(note.text)
  let oldSize = options.witnessSize > size ? 0n : options.witnessSize
  for (let attempt = 0; ; attempt++) {
    const proof = oldSize === 0n || oldSize === size ? [] : await options.proveConsistency(oldSize, size)
    const body = encodeAddCheckpointRequest({ oldSize, proof, signedCheckpoint: options.signedCheckpoint })
    const answer = await options.post(body)
    const refused = (reason: Extract<CosignatureOutcome, { kind: 'refused' }>['reason'], error?: TlogError) =>
      ({ kind: 'refused', status: answer.status, reason, witnessSize: oldSize, error }) as const
    switch (answer.status) {
      case 200:
        try {
          const [cosignature] = parseAddCheckpointResponse(answer.body, note.text, [options.witness])
          return { kind: 'cosigned', cosignature: cosignature!, witnessSize: size }
        } catch (err) {
          if (!(err instanceof TlogError)) throw err
          return { ...refused('bad-answer', err), witnessSize: undefined }
        }
      case 409: {
        let theirs: bigint
        try {
          theirs = parseTlogSize(answer.body)
        } catch (err) {
          return { ...refused('bad-answer', err as TlogError), witnessSize: undefined }
        }
        if (theirs > size) return { ...refused('witness-ahead'), witnessSize: theirs }
        if (theirs === oldSize || attempt > 0) return { ...refused('conflict'), witnessSize: theirs }
        oldSize = theirs
        continue
      }
      case 404:
        return refused('unknown-log')
      case 403:
        return refused('bad-signature')
      case 422:
        return refused('bad-proof')
      case 400:
        return refused('bad-request')
      default:
        return { ...refused('other'), witnessSize: undefined }
    }
  }
}
