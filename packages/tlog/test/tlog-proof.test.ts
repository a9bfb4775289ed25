import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  addSignatures,
  encodeCheckpoint,
  encodeTlogProof,
  generateCosignerKey,
  parseCosignatureVerifierKey,
  parseCosignerKey,
  parseSignerKey,
  parseTlogProof,
  parseVerifierKey,
  signNote,
  TlogError,
  verifyTlogProof,
  type TlogErrorCode,
  type TlogProof,
} from '../src/index.js'
import { hex, inclusionVectors, keyByRole, type InclusionVector } from './note-vectors.js'

function codeOf(fn: () => unknown): TlogErrorCode | 'no error' | 'not a TlogError' {
  try {
    fn()
    return 'no error'
  } catch (err) {
    return err instanceof TlogError ? err.code : 'not a TlogError'
  }
}

/** RFC 6962 leaf hash, computed here: SHA-256(0x00 || leaf). */
function leafHashOf(leaf: Uint8Array): Uint8Array {
  return new Uint8Array(
    createHash('sha256')
      .update(Buffer.from([0]))
      .update(leaf)
      .digest(),
  )
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')

/** The last digit of a 32-byte base64 hash with an unused low bit set: same bytes to a lenient decoder. */
function aliasOfLastDigit(hash64: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  return alphabet[alphabet.indexOf(hash64[42]!) | 1]!
}

const log = keyByRole('log')
const logSigner = parseSignerKey(log.signer_key)
const logVerifier = parseVerifierKey(log.verifier_key)
const w1 = keyByRole('witness1')
const witnessKeys = generateCosignerKey(w1.name, hex(w1.seed_hex))
const cosigner = parseCosignerKey(witnessKeys.signerKey)
const witness = parseCosignatureVerifierKey(witnessKeys.verifierKey)
const policy = { witnesses: [witness], quorum: 1 }

/** A checkpoint for the vector's tree, signed by the log and cosigned by witness1. */
function cosignedCheckpoint(size: bigint, root: Uint8Array): string {
  const body = encodeCheckpoint({ origin: log.name, size, root, extensions: [] })
  return addSignatures(signNote(body, [logSigner]), [cosigner.signatureLine(body, 1_700_000_000n)])
}

/** A tlog-proof for an inclusion vector, the leaf carried in `extra` (as the ledger's receipts do). */
function proofFor(v: InclusionVector): TlogProof {
  return {
    extra: hex(v.leaf_hex!),
    index: BigInt(v.index),
    proof: v.proof.map(hex),
    checkpoint: cosignedCheckpoint(BigInt(v.tree_size), hex(v.root)),
  }
}

// Leaf 0 of the vectors' leaf rule is empty; an empty extra line is not written, so skip it.
const usable = inclusionVectors.filter((v) => v.leaf_hex !== undefined && v.leaf_hex.length > 0)

describe('tlog-proof format', () => {
  const v = usable.find((p) => p.tree_size === '70' && p.index === '35')!
  const proof = proofFor(v)
  const text = encodeTlogProof(proof)

  it('writes the layout of the spec', () => {
    const expected = [
      'c2sp.org/tlog-proof@v1',
      `extra ${b64(hex(v.leaf_hex!))}`,
      'index 35',
      ...v.proof.map((h) => b64(hex(h))),
      '',
      proof.checkpoint,
    ].join('\n')
    expect(text).toBe(expected)
    expect(text.endsWith('\n')).toBe(true)
    expect(parseTlogProof(text)).toEqual(proof)
    expect(parseTlogProof(new TextEncoder().encode(text))).toEqual(proof)
  })

  it('omits the extra line when there is no extra data, and allows an empty proof', () => {
    const bare = { index: 0n, proof: [], checkpoint: cosignedCheckpoint(1n, hex(usable[0]!.leaf_hash)) }
    const encoded = encodeTlogProof(bare)
    expect(encoded.startsWith('c2sp.org/tlog-proof@v1\nindex 0\n\n')).toBe(true)
    const parsed = parseTlogProof(encoded)
    expect(parsed).toEqual(bare)
    expect('extra' in parsed).toBe(false)
  })

  it('rejects non-canonical or broken proofs', () => {
    const lines = text.split('\n')
    const hashLine = b64(hex(v.proof[0]!))
    const bad: [string, string][] = [
      ['empty input', ''],
      ['wrong header', text.replace('tlog-proof@v1', 'tlog-proof@v2')],
      ['no header', lines.slice(1).join('\n')],
      ['CRLF', text.replaceAll('\n', '\r\n')],
      ['empty extra', text.replace(/^extra .*$/m, 'extra ')],
      ['extra without padding', text.replace(/^(extra .*?)=+$/m, '$1')],
      ['extra in URL-safe base64', text.replace(/^extra .*$/m, 'extra -_-_')],
      ['extra after index', text.replace(/^(extra .*)\n(index 35)$/m, '$2\n$1')],
      ['index with a leading zero', text.replace('index 35', 'index 035')],
      ['index with a plus sign', text.replace('index 35', 'index +35')],
      ['index with two spaces', text.replace('index 35', 'index  35')],
      ['index with a trailing space', text.replace('index 35', 'index 35 ')],
      ['index above 2^63-1', text.replace('index 35', 'index 9223372036854775808')],
      ['index of 20 digits', text.replace('index 35', `index ${'1'.repeat(20)}`)],
      ['no index', text.replace('index 35\n', '')],
      ['hash with a trailing space', text.replace(`${hashLine}\n`, `${hashLine} \n`)],
      ['hash of 31 bytes', text.replace(`${hashLine}\n`, `${b64(hex(v.proof[0]!).subarray(1))}\n`)],
      [
        'hash with unused bits set',
        text.replace(`${hashLine}\n`, `${hashLine.slice(0, 42)}${aliasOfLastDigit(hashLine)}=\n`),
      ],
      ['hash in hex', text.replace(`${hashLine}\n`, `${v.proof[0]}\n`)],
      ['64 hashes', text.replace(`${hashLine}\n`, `${hashLine}\n`.repeat(64))],
      ['no empty line', text.replace('\n\n', '\n')],
      ['nothing after the empty line', text.slice(0, text.indexOf('\n\n') + 2)],
      [
        'a checkpoint without signatures',
        text.slice(0, text.indexOf('\n\n') + 2) +
          encodeCheckpoint({ origin: 'a', size: 1n, root: new Uint8Array(32), extensions: [] }),
      ],
      [
        'a signed note that is not a checkpoint',
        text.slice(0, text.indexOf('\n\n') + 2) + signNote('hello\n', [logSigner]),
      ],
      ['trailing text', `${text}more\n`],
      ['a trailing empty line', `${text}\n`],
    ]
    for (const [what, input] of bad) {
      expect(input, what).not.toBe(text)
      expect(
        codeOf(() => parseTlogProof(input)),
        what,
      ).toBe('MALFORMED_PROOF')
    }
    expect(codeOf(() => parseTlogProof(Buffer.concat([Buffer.from(text), Buffer.from([0xff])])))).toBe(
      'MALFORMED_PROOF',
    )
  })

  it('refuses to write what it could not read back', () => {
    expect(codeOf(() => encodeTlogProof({ ...proof, extra: new Uint8Array(0) }))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => encodeTlogProof({ ...proof, index: -1n }))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => encodeTlogProof({ ...proof, index: 1n << 63n }))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => encodeTlogProof({ ...proof, proof: [new Uint8Array(31)] }))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => encodeTlogProof({ ...proof, proof: Array(64).fill(new Uint8Array(32)) }))).toBe(
      'INVALID_ARGUMENT',
    )
    expect(codeOf(() => encodeTlogProof({ ...proof, checkpoint: 'not a note' }))).toBe('MALFORMED_NOTE')
    expect(codeOf(() => encodeTlogProof({ ...proof, checkpoint: signNote('hello\n', [logSigner]) }))).toBe(
      'MALFORMED_CHECKPOINT',
    )
  })
})

describe('verifyTlogProof', () => {
  it('verifies a proof file for every valid inclusion vector', () => {
    expect(usable.length).toBeGreaterThan(590)
    for (const v of usable) {
      const parsed = parseTlogProof(encodeTlogProof(proofFor(v)))
      const checkpoint = verifyTlogProof(parsed, leafHashOf(parsed.extra!), logVerifier, policy)
      expect(checkpoint.size).toBe(BigInt(v.tree_size))
      expect(Buffer.from(checkpoint.root).toString('hex')).toBe(v.root)
      expect(Buffer.from(leafHashOf(parsed.extra!)).toString('hex')).toBe(v.leaf_hash)
    }
  })

  const v = usable.find((p) => p.tree_size === '1000' && p.index === '500')!
  const proof = proofFor(v)
  const leafHash = hex(v.leaf_hash)

  it('fails when any field is tampered with', () => {
    verifyTlogProof(proof, leafHash, logVerifier, policy)
    const flipped = (bytes: Uint8Array) => bytes.map((b, i) => (i === 0 ? b ^ 1 : b))
    const tampered: [string, () => unknown, TlogErrorCode][] = [
      [
        'index',
        () => verifyTlogProof({ ...proof, index: 501n }, leafHash, logVerifier, policy),
        'PROOF_MISMATCH',
      ],
      [
        'index past the size',
        () => verifyTlogProof({ ...proof, index: 1000n }, leafHash, logVerifier, policy),
        'INDEX_OUT_OF_RANGE',
      ],
      [
        'a proof hash',
        () =>
          verifyTlogProof(
            { ...proof, proof: [flipped(proof.proof[0]!), ...proof.proof.slice(1)] },
            leafHash,
            logVerifier,
            policy,
          ),
        'PROOF_MISMATCH',
      ],
      [
        'a missing proof hash',
        () => verifyTlogProof({ ...proof, proof: proof.proof.slice(1) }, leafHash, logVerifier, policy),
        'PROOF_MISMATCH',
      ],
      ['the leaf', () => verifyTlogProof(proof, flipped(leafHash), logVerifier, policy), 'PROOF_MISMATCH'],
      [
        'the extra data, when the leaf comes from it',
        () => verifyTlogProof(proof, leafHashOf(flipped(proof.extra!)), logVerifier, policy),
        'PROOF_MISMATCH',
      ],
      [
        'the checkpoint size',
        () =>
          verifyTlogProof(
            { ...proof, checkpoint: proof.checkpoint.replace('\n1000\n', '\n1001\n') },
            leafHash,
            logVerifier,
            policy,
          ),
        'BAD_SIGNATURE',
      ],
      [
        'the log key',
        () => verifyTlogProof(proof, leafHash, parseVerifierKey(w1.verifier_key), policy),
        'NO_VERIFIED_SIGNATURE',
      ],
      [
        'the witness policy',
        () =>
          verifyTlogProof(proof, leafHash, logVerifier, {
            witnesses: [
              witness,
              parseCosignatureVerifierKey(generateCosignerKey('w2.example', new Uint8Array(32)).verifierKey),
            ],
            quorum: 2,
          }),
        'QUORUM_NOT_MET',
      ],
    ]
    for (const [what, fn, code] of tampered) expect(codeOf(fn), what).toBe(code)
  })

  it('rejects any flipped bit of the proof file', () => {
    const arb = fc.record({
      v: fc.constantFrom(...usable.filter((p) => BigInt(p.tree_size) <= 300n)),
      at: fc.nat(),
      bit: fc.integer({ min: 0, max: 7 }),
    })
    fc.assert(
      fc.property(arb, ({ v, at, bit }) => {
        const bytes = Buffer.from(encodeTlogProof(proofFor(v)), 'utf8')
        const i = at % bytes.length
        bytes[i] = bytes[i]! ^ (1 << bit)
        const code = codeOf(() => {
          const parsed = parseTlogProof(bytes)
          // The application's step 1: the leaf hash from the leaf it holds, here the extra data.
          verifyTlogProof(parsed, leafHashOf(parsed.extra ?? new Uint8Array(0)), logVerifier, policy)
        })
        expect(code).not.toBe('no error')
        expect(code).not.toBe('not a TlogError')
      }),
      { numRuns: 300 },
    )
  })
})
