// C2SP tlog-proof (https://c2sp.org/tlog-proof, `c2sp.org/tlog-proof@v1`): an offline-verifiable proof
// that an entry is in a log: optional extra data, the entry index, its inclusion proof, and the log's
// signed checkpoint (with any witness cosignatures) verbatim. Read from the spec text at
// github.com/C2SP/C2SP tlog-proof.md (commit ab17a74, "document verification steps").
import { fromBase64, MAX_TREE_SIZE, toBase64 } from './bytes.js'
import { openCheckpoint, parseCheckpoint, type Checkpoint, type OpenCheckpointOptions } from './checkpoint.js'
import { TlogError } from './errors.js'
import { HASH_SIZE, type Hash } from './hash.js'
import { verifyInclusion } from './merkle.js'
import { decodeNoteText, parseSignedNote, type NoteVerifier } from './signed-note.js'

/** The first line of every tlog-proof. */
export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1'

/**
 * A parsed tlog-proof. `extra` is unauthenticated (the spec: applications MUST NOT implicitly trust it);
 * `checkpoint` is the signed note exactly as it appears in the proof.
 */
export interface TlogProof {
  extra?: Uint8Array
  index: bigint
  proof: Hash[]
  checkpoint: string
}

// A tree of at most 2^63-1 leaves is at most 63 levels deep.
const MAX_PROOF_HASHES = 63
const INDEX_RE = /^(?:0|[1-9][0-9]*)$/

/** Checks that `checkpoint` is a signed note whose text is a checkpoint; signatures are not verified. */
function assertCheckpointNote(checkpoint: string): void {
  parseCheckpoint(parseSignedNote(checkpoint).text)
}

/**
 * Writes a tlog-proof (C2SP tlog-proof, "Format"): the header, `extra <base64>` when `extra` is present,
 * `index <decimal>`, one base64 hash per line, an empty line, then the checkpoint note verbatim.
 * Throws TlogError INVALID_ARGUMENT (empty extra, index outside 0..2^63-1, a hash not 32 bytes, more than
 * 63 hashes), or MALFORMED_NOTE / MALFORMED_CHECKPOINT when `checkpoint` is not a signed checkpoint.
 */
export function encodeTlogProof(proof: TlogProof): string {
  if (proof.extra !== undefined && proof.extra.length === 0) {
    // `extra ` with nothing after it would be a line with a trailing space; absent says the same.
    throw new TlogError('INVALID_ARGUMENT', 'extra data is empty: leave it out')
  }
  if (proof.index < 0n || proof.index > MAX_TREE_SIZE) {
    throw new TlogError('INVALID_ARGUMENT', `index ${proof.index} outside 0..2^63-1`)
  }
  if (proof.proof.length > MAX_PROOF_HASHES)
    throw new TlogError('INVALID_ARGUMENT', 'more than 63 proof hashes')
  if (proof.proof.some((hash) => hash.length !== HASH_SIZE)) {
    throw new TlogError('INVALID_ARGUMENT', 'a proof hash is not 32 bytes')
  }
  assertCheckpointNote(proof.checkpoint)
  const lines = [TLOG_PROOF_HEADER]
  if (proof.extra !== undefined) lines.push(`extra ${toBase64(proof.extra)}`)
  lines.push(`index ${proof.index}`)
  for (const hash of proof.proof) lines.push(toBase64(hash))
  return `${lines.join('\n')}\n\n${proof.checkpoint}`
}

/**
 * Parses a tlog-proof (untrusted) strictly: the header line; an optional `extra ` line of non-empty
 * canonical base64; `index ` and a canonical decimal no larger than 2^63-1; up to 63 lines of canonical
 * base64 of 32 bytes; an empty line; then a signed note (grammar checked, signatures NOT verified) whose
 * text is a checkpoint, up to the end of the input. Lines end in a lone newline (no CR, no trailing
 * spaces). Throws TlogError MALFORMED_PROOF (the cause says more). Verify with verifyTlogProof.
 */
export function parseTlogProof(text: string | Uint8Array): TlogProof {
  let input: string
  try {
    input = decodeNoteText(text, 'MALFORMED_NOTE')
  } catch (cause) {
    throw new TlogError('MALFORMED_PROOF', 'proof is not UTF-8 text without control characters', { cause })
  }
  const blank = input.indexOf('\n\n')
  if (blank < 0) throw new TlogError('MALFORMED_PROOF', 'no empty line before the checkpoint')
  const lines = input.slice(0, blank).split('\n')
  const checkpoint = input.slice(blank + 2)
  if (lines.shift() !== TLOG_PROOF_HEADER)
    throw new TlogError('MALFORMED_PROOF', 'first line is not the header')

  let extra: Uint8Array | undefined
  if (lines[0]?.startsWith('extra ')) {
    const encoded = lines.shift()!.slice('extra '.length)
    if (encoded.length === 0) throw new TlogError('MALFORMED_PROOF', 'empty extra data')
    extra = decodeProofBase64(encoded, undefined, 'extra data')
  }

  const indexLine = lines.shift()
  if (indexLine === undefined || !indexLine.startsWith('index ')) {
    throw new TlogError('MALFORMED_PROOF', 'no index line')
  }
  const digits = indexLine.slice('index '.length)
  if (!INDEX_RE.test(digits)) throw new TlogError('MALFORMED_PROOF', 'index is not canonical ASCII decimal')
  if (digits.length > 19 || BigInt(digits) > MAX_TREE_SIZE) {
    throw new TlogError('MALFORMED_PROOF', 'index above 2^63-1')
  }

  if (lines.length > MAX_PROOF_HASHES) throw new TlogError('MALFORMED_PROOF', 'more than 63 proof hashes')
  const proof = lines.map((line) => decodeProofBase64(line, HASH_SIZE, 'proof hash'))

  try {
    assertCheckpointNote(checkpoint)
  } catch (cause) {
    throw new TlogError('MALFORMED_PROOF', 'the checkpoint is not a signed checkpoint note', { cause })
  }
  return { ...(extra !== undefined && { extra }), index: BigInt(digits), proof, checkpoint }
}

function decodeProofBase64(encoded: string, length: number | undefined, what: string): Uint8Array {
  try {
    return fromBase64(encoded, length)
  } catch (cause) {
    throw new TlogError(
      'MALFORMED_PROOF',
      `${what} is not canonical base64${length ? ` of ${length} bytes` : ''}`,
      {
        cause,
      },
    )
  }
}

/**
 * Verifies a parsed tlog-proof for the entry with leaf hash `leafHash` (computed by the caller from the
 * entry it holds; the spec's step 1): opens the checkpoint with the log key and the witness policy
 * (openCheckpoint: log signature, origin, quorum) and checks the inclusion proof of `leafHash` at
 * `proof.index` against the checkpoint's root (RFC 9162 §2.1.3.2). Returns the verified checkpoint.
 * Throws TlogError as openCheckpoint does, and PROOF_MISMATCH or INDEX_OUT_OF_RANGE from verifyInclusion.
 */
export function verifyTlogProof(
  proof: TlogProof,
  leafHash: Hash,
  logVerifier: NoteVerifier,
  opts: OpenCheckpointOptions = {},
): Checkpoint {
  const { checkpoint } = openCheckpoint(proof.checkpoint, logVerifier, opts)
  verifyInclusion(leafHash, proof.index, checkpoint.size, proof.proof, checkpoint.root)
  return checkpoint
}
