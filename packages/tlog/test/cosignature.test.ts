import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  addSignatures,
  cosignatureFromNoteSignature,
  cosignatureMessage,
  encodeCheckpoint,
  formatCosignatureLine,
  generateCosignerKey,
  openCheckpoint,
  openNote,
  parseCosignatureLine,
  parseCosignatureVerifierKey,
  parseCosignerKey,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  TlogError,
  verifyCosignature,
  type Cosignature,
  type TlogErrorCode,
} from '../src/index.js'
import { hex, keyByRole, type KeyVector } from './note-vectors.js'

function codeOf(fn: () => unknown): TlogErrorCode | 'no error' | 'not a TlogError' {
  try {
    fn()
    return 'no error'
  } catch (err) {
    return err instanceof TlogError ? err.code : 'not a TlogError'
  }
}

/** The tlog-cosignature vkey of a vector key, computed here: type byte 0x04 in the key id and the key. */
function expectedCosignerVerifierKey(k: KeyVector): { keyId: number; vkey: string } {
  const publicKey = hex(k.public_key_hex)
  const digest = createHash('sha256')
    .update(Buffer.from(k.name, 'utf8'))
    .update(Buffer.from([0x0a, 0x04]))
    .update(publicKey)
    .digest()
  const keyId = digest.readUInt32BE(0)
  const key = Buffer.concat([Buffer.from([0x04]), publicKey]).toString('base64')
  return { keyId, vkey: `${k.name}+${digest.subarray(0, 4).toString('hex')}+${key}` }
}

/** Independent Ed25519 verification of the cosignature/v1 message (tlog-cosignature, "Ed25519 signed message"). */
function independentlyValid(k: KeyVector, body: string, timestamp: bigint, signature: Uint8Array): boolean {
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), hex(k.public_key_hex)])
  const message = Buffer.from(`cosignature/v1\ntime ${timestamp}\n${body}`, 'utf8')
  return cryptoVerify(null, message, createPublicKey({ key: spki, format: 'der', type: 'spki' }), signature)
}

const log = keyByRole('log')
const w1 = keyByRole('witness1')
const w2 = keyByRole('witness2')
const w1Keys = generateCosignerKey(w1.name, hex(w1.seed_hex))
const w2Keys = generateCosignerKey(w2.name, hex(w2.seed_hex))
const body = encodeCheckpoint({
  origin: log.name,
  size: 70n,
  root: hex('d953c49a8b98aa2e98bcd38155dde95f37e2a704863f562791a7cc0a67f622e9'),
  extensions: [],
})
const timestamp = 1_679_315_147n

describe('cosigner keys', () => {
  it('uses signature type 0x04 in the key id and the key strings', () => {
    const { keyId, vkey } = expectedCosignerVerifierKey(w1)
    expect(w1Keys.verifierKey).toBe(vkey)
    expect(w1Keys.signerKey).toBe(
      `PRIVATE+KEY+${w1.name}+${vkey.split('+')[1]}+${Buffer.concat([Buffer.from([0x04]), hex(w1.seed_hex)]).toString('base64')}`,
    )
    const verifier = parseCosignatureVerifierKey(w1Keys.verifierKey)
    const signer = parseCosignerKey(w1Keys.signerKey)
    expect([verifier.name, verifier.keyId, signer.name, signer.keyId]).toEqual([
      w1.name,
      keyId,
      w1.name,
      keyId,
    ])
    expect(Buffer.from(verifier.publicKey).toString('hex')).toBe(w1.public_key_hex)
    // Same seed, other type byte: another key id than the note key (domain separation).
    expect(keyId).not.toBe(Number.parseInt(w1.key_id, 16))
  })

  it('keeps note keys and cosigner keys apart', () => {
    expect(codeOf(() => parseCosignerKey(w1.signer_key))).toBe('MALFORMED_KEY')
    expect(codeOf(() => parseCosignatureVerifierKey(w1.verifier_key))).toBe('MALFORMED_KEY')
    expect(codeOf(() => parseSignerKey(w1Keys.signerKey))).toBe('MALFORMED_KEY')
    expect(codeOf(() => parseVerifierKey(w1Keys.verifierKey))).toBe('MALFORMED_KEY')
    const id = w1Keys.verifierKey.slice(w1.name.length + 1, w1.name.length + 9)
    const key = w1Keys.verifierKey.slice(w1.name.length + 10)
    const flipped = (Number.parseInt(id, 16) ^ 1).toString(16).padStart(8, '0')
    expect(codeOf(() => parseCosignatureVerifierKey(`${w1.name}+${id}+${key}`))).toBe('no error')
    expect(codeOf(() => parseCosignatureVerifierKey(`${w1.name}+${flipped}+${key}`))).toBe('MALFORMED_KEY')
  })
})

describe('cosign and verify', () => {
  const signer = parseCosignerKey(w1Keys.signerKey)
  const verifier = parseCosignatureVerifierKey(w1Keys.verifierKey)

  it('signs cosignature/v1 || time || body, checked independently with node:crypto', () => {
    const c = signer.cosign(body, timestamp)
    expect([c.name, c.keyId, c.timestamp, c.signature.length]).toEqual([
      w1.name,
      verifier.keyId,
      timestamp,
      64,
    ])
    expect(independentlyValid(w1, body, timestamp, c.signature)).toBe(true)
    expect(independentlyValid(w1, body, timestamp + 1n, c.signature)).toBe(false)
    expect(Buffer.from(cosignatureMessage(body, timestamp)).toString('utf8')).toBe(
      `cosignature/v1\ntime 1679315147\n${body}`,
    )
    verifyCosignature(verifier, body, c)
  })

  it('writes the signature line as key id || u64 BE timestamp || signature', () => {
    const c = signer.cosign(body, timestamp)
    const line = signer.signatureLine(body, timestamp)
    expect(line).toBe(formatCosignatureLine(c))
    const match = /^\u2014 (\S+) (\S+)\n$/.exec(line)!
    expect(match[1]).toBe(w1.name)
    const payload = Buffer.from(match[2]!, 'base64')
    expect(payload.length).toBe(4 + 8 + 64)
    expect(payload.readUInt32BE(0)).toBe(verifier.keyId)
    expect(payload.readBigUInt64BE(4)).toBe(timestamp)
    expect(Buffer.from(payload.subarray(12))).toEqual(Buffer.from(c.signature))
    expect(parseCosignatureLine(line)).toEqual(c)
  })

  it('decodes the example cosignature line of the spec', () => {
    const c = parseCosignatureLine(
      '\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==',
    )
    expect([c.name, c.keyId.toString(16), c.timestamp]).toEqual([
      'witness.example.com/w1',
      '8d66cf3f',
      1_679_315_147n,
    ])
  })

  it('fails on a tampered timestamp, body, key id, name or signature', () => {
    const c = signer.cosign(body, timestamp)
    const tampered: [string, Cosignature, string][] = [
      ['timestamp', { ...c, timestamp: timestamp + 1n }, body],
      ['body', c, body.replace('\n70\n', '\n71\n')],
      ['key id', { ...c, keyId: c.keyId ^ 1 }, body],
      ['name', { ...c, name: `${c.name}x` }, body],
      ['signature', { ...c, signature: c.signature.map((b, i) => (i === 10 ? b ^ 4 : b)) }, body],
    ]
    for (const [what, cosig, text] of tampered) {
      expect(
        codeOf(() => verifyCosignature(verifier, text, cosig)),
        what,
      ).toBe('BAD_SIGNATURE')
    }
    // Another witness's key does not verify it either.
    expect(codeOf(() => verifyCosignature(parseCosignatureVerifierKey(w2Keys.verifierKey), body, c))).toBe(
      'BAD_SIGNATURE',
    )
  })

  it('rejects malformed cosignatures', () => {
    const c = signer.cosign(body, timestamp)
    expect(codeOf(() => verifyCosignature(verifier, body, { ...c, timestamp: 1n << 63n }))).toBe(
      'MALFORMED_COSIGNATURE',
    )
    expect(codeOf(() => verifyCosignature(verifier, body, { ...c, signature: c.signature.slice(1) }))).toBe(
      'MALFORMED_COSIGNATURE',
    )
    expect(codeOf(() => verifyCosignature(verifier, 'not a checkpoint\n', c))).toBe('MALFORMED_CHECKPOINT')
    const sig = { name: c.name, keyId: c.keyId, signature: new Uint8Array(72) }
    expect(cosignatureFromNoteSignature(sig).timestamp).toBe(0n)
    expect(codeOf(() => cosignatureFromNoteSignature({ ...sig, signature: new Uint8Array(71) }))).toBe(
      'MALFORMED_COSIGNATURE',
    )
    expect(
      codeOf(() => cosignatureFromNoteSignature({ ...sig, signature: new Uint8Array(72).fill(0x80) })),
    ).toBe('MALFORMED_COSIGNATURE')
    expect(codeOf(() => parseCosignatureLine('- w1 AAAA'))).toBe('MALFORMED_COSIGNATURE')
  })

  it('refuses to cosign what is not a checkpoint, or out-of-range timestamps', () => {
    expect(codeOf(() => signer.cosign('hello\n', timestamp))).toBe('MALFORMED_CHECKPOINT')
    expect(codeOf(() => signer.cosign(body, -1n))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => signer.cosign(body, 1n << 63n))).toBe('INVALID_ARGUMENT')
    expect(signer.cosign(body, (1n << 63n) - 1n).timestamp).toBe((1n << 63n) - 1n)
  })

  it('verifies any random timestamp and body, and no other', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (time, size, root) => {
          const text = encodeCheckpoint({ origin: log.name, size, root, extensions: [] })
          const c = signer.cosign(text, time)
          expect(independentlyValid(w1, text, time, c.signature)).toBe(true)
          verifyCosignature(verifier, text, c)
          const other = time === 0n ? 1n : time - 1n
          expect(codeOf(() => verifyCosignature(verifier, text, { ...c, timestamp: other }))).toBe(
            'BAD_SIGNATURE',
          )
        },
      ),
      { numRuns: 100 },
    )
  })
})

describe('cosigned checkpoints', () => {
  const logSigner = parseSignerKey(log.signer_key)
  const logVerifier = parseVerifierKey(log.verifier_key)
  const cosigner1 = parseCosignerKey(w1Keys.signerKey)
  const cosigner2 = parseCosignerKey(w2Keys.signerKey)
  const witness1 = parseCosignatureVerifierKey(w1Keys.verifierKey)
  const witness2 = parseCosignatureVerifierKey(w2Keys.verifierKey)
  const signed = signNote(body, [logSigner])
  const cosigned = addSignatures(signed, [
    cosigner1.signatureLine(body, timestamp),
    cosigner2.signatureLine(body, timestamp + 5n),
  ])

  it('opens with the log key and the witness keys together, with timestamps', () => {
    const opened = openCheckpoint(cosigned, logVerifier, { witnesses: [witness1, witness2], quorum: 2 })
    expect(opened.cosignatures.map((c) => [c.name, c.timestamp])).toEqual([
      [w1.name, timestamp],
      [w2.name, timestamp + 5n],
    ])
    for (const c of opened.cosignatures)
      expect(independentlyValid(c.name === w1.name ? w1 : w2, body, c.timestamp, c.signature)).toBe(true)
    expect(openNote(cosigned, [logVerifier, witness1, witness2]).signatures).toHaveLength(3)
    // Without the witness keys the cosignatures are unknown signatures, ignored.
    expect(openNote(cosigned, [logVerifier]).unverified).toHaveLength(2)
  })

  it('fails the quorum when a cosignature is missing, and the note when one is bad', () => {
    const one = addSignatures(signed, [cosigner1.signatureLine(body, timestamp)])
    expect(
      openCheckpoint(one, logVerifier, { witnesses: [witness1, witness2], quorum: 1 }).cosignatures,
    ).toHaveLength(1)
    expect(
      codeOf(() => openCheckpoint(one, logVerifier, { witnesses: [witness1, witness2], quorum: 2 })),
    ).toBe('QUORUM_NOT_MET')
    // A cosignature over another checkpoint, pasted in: the known witness's signature fails, the note is rejected.
    const otherBody = body.replace('\n70\n', '\n71\n')
    const pasted = addSignatures(signed, [cosigner1.signatureLine(otherBody, timestamp)])
    expect(codeOf(() => openCheckpoint(pasted, logVerifier, { witnesses: [witness1], quorum: 1 }))).toBe(
      'BAD_SIGNATURE',
    )
    // The timestamp bytes changed in the line: the signature no longer verifies.
    const c = cosigner1.cosign(body, timestamp)
    const shifted = addSignatures(signed, [formatCosignatureLine({ ...c, timestamp: timestamp + 1n })])
    expect(codeOf(() => openCheckpoint(shifted, logVerifier, { witnesses: [witness1], quorum: 1 }))).toBe(
      'BAD_SIGNATURE',
    )
  })

  it('signs the whole body, extension lines included', () => {
    const withExtension = encodeCheckpoint({ ...parseBody(body), extensions: ['ext'] })
    const c = cosigner1.cosign(withExtension, timestamp)
    expect(independentlyValid(w1, withExtension, timestamp, c.signature)).toBe(true)
    expect(independentlyValid(w1, body, timestamp, c.signature)).toBe(false)
  })
})

function parseBody(text: string) {
  const [origin, size, root] = text.split('\n') as [string, string, string]
  return {
    origin,
    size: BigInt(size),
    root: new Uint8Array(Buffer.from(root, 'base64')),
    extensions: [] as string[],
  }
}
