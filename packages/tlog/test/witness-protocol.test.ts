import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  encodeAddCheckpointRequest,
  encodeCheckpoint,
  encodeTlogSize,
  generateCosignerKey,
  generateNoteKey,
  MALFORMED_WITNESS_MESSAGE,
  parseAddCheckpointRequest,
  parseAddCheckpointResponse,
  parseCosignatureVerifierKey,
  parseCosignerKey,
  parseSignerKey,
  parseTlogSize,
  requestCosignature,
  signNote,
  TlogError,
  type CosignatureOutcome,
  type WitnessHttpAnswer,
} from '../src/index.js'

/** The base64 key of a vkey: it follows the SECOND '+' (the base64 itself may hold '+'). */
function keyMaterial(vkey: string): string {
  return vkey.slice(vkey.indexOf('+', vkey.indexOf('+') + 1) + 1)
}

function codeOf(fn: () => unknown): string {
  try {
    fn()
    return 'no error'
  } catch (err) {
    return err instanceof TlogError ? err.code : 'not a TlogError'
  }
}

interface ConsistencyVector {
  valid: boolean
  old_size: string
  new_size: string
  old_root: string
  new_root: string
  proof: string[]
}
const vectors = JSON.parse(
  readFileSync(new URL('../../../test/vectors/consistency-proofs.json', import.meta.url), 'utf8'),
) as ConsistencyVector[]
const hexBytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'))
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')

const logKey = generateNoteKey('example.com/log', new Uint8Array(32).fill(7))
const logSigner = parseSignerKey(logKey.signerKey)

function signedCheckpoint(size: bigint, root: Uint8Array, origin = 'example.com/log'): string {
  return signNote(encodeCheckpoint({ origin, size, root, extensions: [] }), [logSigner])
}

// The example request body of tlog-witness v1.0.0, "add-checkpoint" (signatures not verifiable).
const SPEC_REQUEST = [
  'old 20852014',
  'PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=',
  'jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=',
  '5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=',
  '/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=',
  '',
  'example.com/behind-the-sofa',
  '20852163',
  'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=',
  '',
  '— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=',
  '— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=',
  '',
].join('\n')

// The example response body of tlog-witness v1.0.0.
const SPEC_RESPONSE = [
  '— witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==',
  '— witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQNt64vWhO+DlkL0+UfzuOBMh9ChdMkP1vi/lCAsmlw==',
  '— witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==',
  '',
].join('\n')

describe('add-checkpoint request', () => {
  it('parses the example of tlog-witness v1.0.0', () => {
    const request = parseAddCheckpointRequest(SPEC_REQUEST)
    expect(request.oldSize).toBe(20852014n)
    expect(request.proof.map(b64)).toEqual(SPEC_REQUEST.split('\n').slice(1, 5))
    expect(request.checkpoint.origin).toBe('example.com/behind-the-sofa')
    expect(request.checkpoint.size).toBe(20852163n)
    expect(request.note.signatures).toHaveLength(2)
    expect(request.signedCheckpoint).toBe(SPEC_REQUEST.slice(SPEC_REQUEST.indexOf('example.com/behind')))
  })

  it('writes old line, proof lines, an empty line and the note, byte for byte', () => {
    const v = vectors.find((x) => x.valid && x.proof.length === 3)!
    const note = signedCheckpoint(BigInt(v.new_size), hexBytes(v.new_root))
    const body = encodeAddCheckpointRequest({
      oldSize: BigInt(v.old_size),
      proof: v.proof.map(hexBytes),
      signedCheckpoint: note,
    })
    const expected = `old ${v.old_size}\n${v.proof.map((h) => Buffer.from(h, 'hex').toString('base64') + '\n').join('')}\n${note}`
    expect(body).toBe(expected)
    const parsed = parseAddCheckpointRequest(new TextEncoder().encode(body))
    expect(parsed.oldSize).toBe(BigInt(v.old_size))
    expect(parsed.proof.map((h) => Buffer.from(h).toString('hex'))).toEqual(v.proof)
    expect(parsed.signedCheckpoint).toBe(note)
  })

  it('round-trips any size and proof (property)', () => {
    const note = signedCheckpoint(1000n, new Uint8Array(32).fill(1))
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: (1n << 63n) - 1n }),
        fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 63 }),
        (oldSize, proof) => {
          const parsed = parseAddCheckpointRequest(
            encodeAddCheckpointRequest({ oldSize, proof, signedCheckpoint: note }),
          )
          expect(parsed.oldSize).toBe(oldSize)
          expect(parsed.proof).toEqual(proof)
        },
      ),
      { numRuns: 150 },
    )
  })

  const note = signedCheckpoint(10n, new Uint8Array(32).fill(2))
  const hash = b64(new Uint8Array(32).fill(3))
  const cases: [string, string][] = [
    ['no old line', `${hash}\n\n${note}`],
    ['old with a leading zero', `old 05\n\n${note}`],
    ['old with a sign', `old +5\n\n${note}`],
    ['old with two spaces', `old  5\n\n${note}`],
    ['old with a trailing space', `old 5 \n\n${note}`],
    ['old in capitals', `OLD 5\n\n${note}`],
    ['old above 2^63-1', `old 9223372036854775808\n\n${note}`],
    ['a proof line of 31 bytes', `old 5\n${b64(new Uint8Array(31))}\n\n${note}`],
    ['a proof line without padding', `old 5\n${hash.slice(0, -1)}\n\n${note}`],
    ['a proof line with a trailing space', `old 5\n${hash} \n\n${note}`],
    ['64 proof lines', `old 5\n${`${hash}\n`.repeat(64)}\n${note}`],
    ['no empty line', `old 5\n${note}`],
    ['a note without signatures', `old 5\n\nexample.com/log\n10\n${hash}\n`],
    ['a note that is not a checkpoint', `old 5\n\n${signNote('hello\n', [logSigner])}`],
    ['CRLF line ends', `old 5\r\n\r\n${note}`],
    ['an empty body', ''],
  ]
  for (const [name, body] of cases) {
    it(`refuses ${name}`, () => {
      expect(codeOf(() => parseAddCheckpointRequest(body))).toBe(MALFORMED_WITNESS_MESSAGE)
    })
  }

  it('refuses bytes that are not UTF-8', () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('old 5\n\n'), 0xff, 0xfe])
    expect(codeOf(() => parseAddCheckpointRequest(bytes))).toBe(MALFORMED_WITNESS_MESSAGE)
  })

  it('keeps 63 proof lines, the most the spec allows', () => {
    const body = `old 5\n${`${hash}\n`.repeat(63)}\n${note}`
    expect(parseAddCheckpointRequest(body).proof).toHaveLength(63)
  })

  it('refuses to write what a witness must refuse', () => {
    const encode =
      (oldSize: bigint, proof: Uint8Array[], signed = note) =>
      () =>
        encodeAddCheckpointRequest({ oldSize, proof, signedCheckpoint: signed })
    expect(codeOf(encode(0n, [new Uint8Array(32)]))).toBe('INVALID_ARGUMENT')
    expect(
      codeOf(
        encode(
          5n,
          Array.from({ length: 64 }, () => new Uint8Array(32)),
        ),
      ),
    ).toBe('INVALID_ARGUMENT')
    expect(codeOf(encode(5n, [new Uint8Array(31)]))).toBe('INVALID_ARGUMENT')
    expect(codeOf(encode(-1n, []))).toBe('INVALID_ARGUMENT')
    expect(codeOf(encode(5n, [], 'not a note\n'))).toBe('INVALID_ARGUMENT')
  })
})

describe('409 body (text/x.tlog.size)', () => {
  it('is the size in decimal and a newline', () => {
    expect(encodeTlogSize(0n)).toBe('0\n')
    expect(encodeTlogSize(20852014n)).toBe('20852014\n')
    expect(parseTlogSize('20852014\n')).toBe(20852014n)
    expect(parseTlogSize(new TextEncoder().encode('0\n'))).toBe(0n)
  })
  for (const bad of ['', '12', '012\n', '12\n\n', ' 12\n', '-1\n', '9223372036854775808\n']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      expect(codeOf(() => parseTlogSize(bad))).toBe(MALFORMED_WITNESS_MESSAGE)
    })
  }
})

describe('add-checkpoint answer', () => {
  const witness = generateCosignerKey('witness.example/w1', new Uint8Array(32).fill(9))
  const other = generateCosignerKey('witness.example/w2', new Uint8Array(32).fill(10))
  const verifier = parseCosignatureVerifierKey(witness.verifierKey)
  const note = signedCheckpoint(10n, new Uint8Array(32).fill(2))
  const body = note.slice(0, note.indexOf('\n\n') + 1)

  it('verifies the cosignature, and it is the spec message signed (independent check with node:crypto)', () => {
    const line = parseCosignerKey(witness.signerKey).signatureLine(body, 1700000000n)
    const [got] = parseAddCheckpointResponse(line, body, [verifier])
    expect(got!.cosignature.timestamp).toBe(1700000000n)
    expect(got!.line).toBe(line)
    // tlog-cosignature: base64(key id || u64 timestamp || Ed25519 signature over the message).
    const raw = Buffer.from(line.slice(line.lastIndexOf(' ') + 1, -1), 'base64')
    const publicKey = Buffer.from(keyMaterial(witness.verifierKey), 'base64').subarray(1)
    const keyId = createHash('sha256')
      .update(Buffer.concat([Buffer.from('witness.example/w1\n'), Buffer.of(0x04), publicKey]))
      .digest()
      .subarray(0, 4)
    expect(raw.subarray(0, 4)).toEqual(keyId)
    expect(raw.readBigUInt64BE(4)).toBe(1700000000n)
    const spki = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]),
      format: 'der',
      type: 'spki',
    })
    const message = Buffer.from(`cosignature/v1\ntime 1700000000\n${body}`)
    expect(cryptoVerify(null, message, spki, raw.subarray(12))).toBe(true)
  })

  it('ignores lines by unknown keys and keeps the trusted one', () => {
    const mine = parseCosignerKey(witness.signerKey).signatureLine(body, 5n)
    const theirs = parseCosignerKey(other.signerKey).signatureLine(body, 5n)
    const got = parseAddCheckpointResponse(theirs + mine, body, [verifier])
    expect(got.map((g) => g.verifier.name)).toEqual(['witness.example/w1'])
  })

  it('refuses an answer whose trusted line does not verify', () => {
    const line = parseCosignerKey(witness.signerKey).signatureLine(body, 5n)
    const otherBody = signedCheckpoint(11n, new Uint8Array(32).fill(2))
    const otherText = otherBody.slice(0, otherBody.indexOf('\n\n') + 1)
    expect(codeOf(() => parseAddCheckpointResponse(line, otherText, [verifier]))).toBe('BAD_SIGNATURE')
  })

  it('refuses an answer with no trusted line (the spec example is by other keys)', () => {
    expect(codeOf(() => parseAddCheckpointResponse(SPEC_RESPONSE, body, [verifier]))).toBe(
      'NO_VERIFIED_SIGNATURE',
    )
  })

  for (const [name, answer] of [
    ['an empty answer', ''],
    ['a line without its newline', '— witness.example/w1 AAAAAAAA'],
    ['text that is not a signature line', 'ok\n'],
  ] as const) {
    it(`refuses ${name}`, () => {
      expect(codeOf(() => parseAddCheckpointResponse(answer, body, [verifier]))).toBe(
        MALFORMED_WITNESS_MESSAGE,
      )
    })
  }
})

describe('requestCosignature (the log side), against a scripted witness', () => {
  const witness = generateCosignerKey('witness.example/w1', new Uint8Array(32).fill(9))
  const cosigner = parseCosignerKey(witness.signerKey)
  const verifier = parseCosignatureVerifierKey(witness.verifierKey)
  const v = vectors.find((x) => x.valid && BigInt(x.old_size) > 1n && x.proof.length >= 2)!
  const note = signedCheckpoint(BigInt(v.new_size), hexBytes(v.new_root))
  const body = note.slice(0, note.indexOf('\n\n') + 1)

  function script(answers: ((requestBody: string) => WitnessHttpAnswer)[]) {
    const sent: string[] = []
    const proofsAsked: [bigint, bigint][] = []
    return {
      sent,
      proofsAsked,
      run: (witnessSize: bigint): Promise<CosignatureOutcome> =>
        requestCosignature({
          signedCheckpoint: note,
          witness: verifier,
          witnessSize,
          proveConsistency: async (oldSize, newSize) => {
            proofsAsked.push([oldSize, newSize])
            return oldSize === BigInt(v.old_size) ? v.proof.map(hexBytes) : [new Uint8Array(32)]
          },
          post: async (requestBody) => {
            sent.push(requestBody)
            const answer = answers[sent.length - 1]
            if (answer === undefined) throw new Error('unexpected request')
            return answer(requestBody)
          },
        }),
    }
  }
  const cosigned = (): WitnessHttpAnswer => ({ status: 200, body: cosigner.signatureLine(body, 1234n) })

  it('sends old size and proof, and returns the verified line', async () => {
    const s = script([cosigned])
    const outcome = await s.run(BigInt(v.old_size))
    expect(outcome.kind).toBe('cosigned')
    expect(outcome.witnessSize).toBe(BigInt(v.new_size))
    const request = parseAddCheckpointRequest(s.sent[0]!)
    expect(request.oldSize).toBe(BigInt(v.old_size))
    expect(request.proof.map((h) => Buffer.from(h).toString('hex'))).toEqual(v.proof)
    expect(request.signedCheckpoint).toBe(note)
  })

  it('sends size 0 with an empty proof when the witness size is unknown', async () => {
    const s = script([cosigned])
    await s.run(0n)
    expect(s.proofsAsked).toEqual([])
    expect(s.sent[0]!.startsWith('old 0\n\n')).toBe(true)
  })

  it('on 409 retries once from the size the witness names', async () => {
    const s = script([
      () => ({ status: 409, contentType: 'text/x.tlog.size', body: `${v.old_size}\n` }),
      cosigned,
    ])
    const outcome = await s.run(0n)
    expect(outcome.kind).toBe('cosigned')
    expect(s.sent).toHaveLength(2)
    expect(parseAddCheckpointRequest(s.sent[1]!).oldSize).toBe(BigInt(v.old_size))
    expect(s.proofsAsked).toEqual([[BigInt(v.old_size), BigInt(v.new_size)]])
  })

  it('stops when the witness is ahead, or conflicts again', async () => {
    const ahead = await script([() => ({ status: 409, body: `${BigInt(v.new_size) + 1n}\n` })]).run(0n)
    expect(ahead).toMatchObject({
      kind: 'refused',
      reason: 'witness-ahead',
      witnessSize: BigInt(v.new_size) + 1n,
    })
    const twice = script([
      () => ({ status: 409, body: `${v.old_size}\n` }),
      () => ({ status: 409, body: '1\n' }),
    ])
    expect(await twice.run(0n)).toMatchObject({ kind: 'refused', reason: 'conflict' })
    expect(twice.sent).toHaveLength(2)
    const sameSize = await script([() => ({ status: 409, body: `${v.old_size}\n` })]).run(BigInt(v.old_size))
    expect(sameSize).toMatchObject({ kind: 'refused', reason: 'conflict' })
  })

  for (const [status, reason] of [
    [404, 'unknown-log'],
    [403, 'bad-signature'],
    [422, 'bad-proof'],
    [400, 'bad-request'],
    [500, 'other'],
  ] as const) {
    it(`reports ${status} as ${reason}`, async () => {
      const outcome = await script([() => ({ status, body: 'no\n' })]).run(0n)
      expect(outcome).toMatchObject({ kind: 'refused', status, reason })
    })
  }

  it('reports a 200 that is not a valid cosignature as bad-answer', async () => {
    const forged = parseCosignerKey(witness.signerKey).signatureLine(body.replace(v.new_size, '1'), 1n)
    for (const answer of ['garbage\n', forged]) {
      const outcome = await script([() => ({ status: 200, body: answer })]).run(0n)
      expect(outcome).toMatchObject({ kind: 'refused', reason: 'bad-answer', witnessSize: undefined })
    }
  })
})
