import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  addSignatures,
  generateNoteKey,
  openNote,
  parseSignatureLine,
  parseSignedNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  TlogError,
  verifierKeyOf,
  type NoteSigner,
  type NoteVerifier,
  type TlogErrorCode,
} from '../src/index.js'
import {
  badKeyVectors,
  hex,
  keyByRole,
  keyVectors,
  noteVectors,
  type NoteVector,
  type VectorSignature,
} from './note-vectors.js'

function codeOf(fn: () => unknown): TlogErrorCode | 'no error' | 'not a TlogError' {
  try {
    fn()
    return 'no error'
  } catch (err) {
    return err instanceof TlogError ? err.code : 'not a TlogError'
  }
}

/** Key id recomputed independently: SHA-256(name || 0x0A || 0x01 || key)[:4] (C2SP signed-note). */
function independentKeyId(name: string, publicKey: Uint8Array): number {
  return createHash('sha256')
    .update(Buffer.from(name, 'utf8'))
    .update(Buffer.from([0x0a, 0x01]))
    .update(publicKey)
    .digest()
    .readUInt32BE(0)
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64')
}

function idBytes(keyId: number): Uint8Array {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(keyId)
  return out
}

/** A vector signature as the base64 of its line: key id || signature bytes. */
function lineBase64(sig: { keyId: number; signature: Uint8Array }): string {
  return b64(Buffer.concat([idBytes(sig.keyId), sig.signature]))
}

function expectSignatures(
  actual: { name: string; keyId: number; signature: Uint8Array }[],
  expected: VectorSignature[],
) {
  expect(
    actual.map((s) => ({
      name: s.name,
      key_id: s.keyId.toString(16).padStart(8, '0'),
      signature_base64: lineBase64(s),
    })),
  ).toEqual(expected)
}

const log = keyByRole('log')
const witness1 = keyByRole('witness1')
const witness2 = keyByRole('witness2')

describe('note keys (signed-notes.json, kind key)', () => {
  it.each(keyVectors.map((k) => [k.role, k] as const))(
    '%s: reproduces the x/mod key strings from the seed',
    (_, k) => {
      expect(independentKeyId(k.name, hex(k.public_key_hex)).toString(16).padStart(8, '0')).toBe(k.key_id)
      const generated = generateNoteKey(k.name, hex(k.seed_hex))
      expect(generated.signerKey).toBe(k.signer_key)
      expect(generated.verifierKey).toBe(k.verifier_key)
      expect(verifierKeyOf(k.signer_key)).toBe(k.verifier_key)
      const signer = parseSignerKey(k.signer_key)
      const verifier = parseVerifierKey(k.verifier_key)
      expect([signer.name, signer.keyId]).toEqual([k.name, Number.parseInt(k.key_id, 16)])
      expect([verifier.name, verifier.keyId]).toEqual([k.name, Number.parseInt(k.key_id, 16)])
      // The signer signs with the vector's key: node:crypto verifies with the raw public key.
      const message = Buffer.from(`signed by ${k.role}\n`)
      const signature = signer.sign(message)
      const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), hex(k.public_key_hex)])
      const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' })
      expect(cryptoVerify(null, message, publicKey, signature)).toBe(true)
      expect(verifier.verify(message, signature)).toBe(true)
      expect(verifier.verify(Buffer.from(`signed by someone else\n`), signature)).toBe(false)
    },
  )

  it('splits a verifier key at its first two + only (the base64 part may hold +)', () => {
    expect(witness1.verifier_key.split('+').length).toBeGreaterThan(3)
    expect(parseVerifierKey(witness1.verifier_key).name).toBe(witness1.name)
    expect(parseSignerKey(witness1.signer_key).name).toBe(witness1.name)
  })

  it('generates a random key when no seed is given', () => {
    const a = generateNoteKey('example.com/random')
    const b = generateNoteKey('example.com/random')
    expect(a.signerKey).not.toBe(b.signerKey)
    expect(verifierKeyOf(a.signerKey)).toBe(a.verifierKey)
  })

  it('refuses bad names and seeds', () => {
    for (const name of ['', 'a+b', 'a b', 'a\u00a0b', 'a\nb', 'a\tb', 'a\u2028b']) {
      expect(codeOf(() => generateNoteKey(name, new Uint8Array(32)))).toBe('INVALID_ARGUMENT')
    }
    expect(codeOf(() => generateNoteKey('example.com/x', new Uint8Array(31)))).toBe('INVALID_ARGUMENT')
  })
})

describe('malformed key strings (signed-notes.json, kinds verifier_key and signer_key)', () => {
  it.each(badKeyVectors.map((k) => [k.reason, k] as const))('%s', (_, k) => {
    if (k.kind === 'verifier_key')
      expect(codeOf(() => parseVerifierKey(k.verifier_key!))).toBe('MALFORMED_KEY')
    else expect(codeOf(() => parseSignerKey(k.signer_key!))).toBe('MALFORMED_KEY')
  })

  it('rejects non-canonical spellings of valid keys', () => {
    const [name, id, key] = [log.name, log.key_id, log.verifier_key.slice(log.name.length + 10)]
    const variants = [
      `${name}+${id.toUpperCase()}+${key}`, // uppercase key id
      `${name}+${id}+${key.slice(0, -1)}`, // base64 without its last digit
      `${name}+${id}+${key} `, // trailing space
      `${name}+${id}+${key}\n`, // trailing newline
      ` ${name}+${id}+${key}`, // leading space
      `${name}+${id}++${key}`, // extra separator
      `${name}+0x${id.slice(2)}+${key}`,
    ]
    for (const vkey of variants)
      expect(
        codeOf(() => parseVerifierKey(vkey)),
        vkey,
      ).toBe('MALFORMED_KEY')
    // Unused base64 bits set: the last digit M (001100) becomes N (001101), same bytes to a lenient decoder.
    expect(key.endsWith('M')).toBe(true)
    expect(codeOf(() => parseVerifierKey(`${name}+${id}+${key.slice(0, -1)}N`))).toBe('MALFORMED_KEY')
    // A cosigner key (type 0x04) is not a note key, and a note signer key string is not a verifier key.
    expect(codeOf(() => parseVerifierKey(log.signer_key))).toBe('MALFORMED_KEY')
    expect(codeOf(() => parseSignerKey(log.verifier_key))).toBe('MALFORMED_KEY')
  })
})

describe('signed notes (signed-notes.json, kind note)', () => {
  const valid = noteVectors.filter((v) => v.valid)
  const invalid = noteVectors.filter((v) => !v.valid)

  it.each(valid.map((v) => [v.comment, v] as const))('opens: %s', (_, v) => {
    const verifiers = v.verifier_keys.map(parseVerifierKey)
    const inputs: (string | Uint8Array)[] = [hex(v.message_hex)]
    if (v.message !== undefined) inputs.push(v.message)
    for (const input of inputs) {
      const opened = openNote(input, verifiers)
      expect(opened.text).toBe(v.text)
      expectSignatures(opened.signatures, v.signatures!)
      expectSignatures(opened.unverified, v.unverified_signatures!)
    }
  })

  /** Signers of the vector keys for every signature line of `v`, when all are ours and distinct. */
  function vectorSigners(v: NoteVector): NoteSigner[] | undefined {
    const message = Buffer.from(hex(v.message_hex)).toString('utf8')
    const lines = message.slice(v.text!.length + 1, -1).split('\n')
    if (new Set(lines).size !== lines.length) return undefined
    const signers: NoteSigner[] = []
    for (const line of lines) {
      const sig = parseSignatureLine(line)
      const key = keyVectors.find((k) => k.name === sig.name && Number.parseInt(k.key_id, 16) === sig.keyId)
      if (key === undefined) return undefined
      const signer = parseSignerKey(key.signer_key)
      // Ed25519 is deterministic: the same key over the same text gives the same bytes.
      if (b64(signer.sign(Buffer.from(v.text!))) !== b64(sig.signature)) return undefined
      signers.push(signer)
    }
    return signers
  }

  it.each(valid.map((v) => [v.comment, v] as const))('signing reproduces the signatures: %s', (_, v) => {
    for (const sig of v.signatures!) {
      const key = keyVectors.find((k) => k.name === sig.name && k.key_id === sig.key_id)!
      const bytes = parseSignerKey(key.signer_key).sign(Buffer.from(v.text!))
      expect(b64(Buffer.concat([hex(sig.key_id), bytes]))).toBe(sig.signature_base64)
    }
    const signers = vectorSigners(v)
    if (signers !== undefined)
      expect(signNote(v.text!, signers)).toBe(Buffer.from(hex(v.message_hex)).toString('utf8'))
  })

  it('reproduces most valid vector messages byte for byte with signNote', () => {
    // All but the notes with a duplicate line or a line no vector key made.
    expect(valid.filter((v) => vectorSigners(v) !== undefined).length).toBeGreaterThanOrEqual(
      valid.length - 2,
    )
  })

  it('reproduces a one-signature checkpoint note byte for byte', () => {
    const v = valid.find(
      (n) =>
        n.checkpoint?.tree_size === '70' &&
        n.signatures!.length === 1 &&
        n.unverified_signatures!.length === 0,
    )!
    expect(signNote(v.text!, [parseSignerKey(log.signer_key)])).toBe(
      Buffer.from(hex(v.message_hex)).toString('utf8'),
    )
  })

  const codes: Record<string, TlogErrorCode> = {
    malformed: 'MALFORMED_NOTE',
    invalid_signature: 'BAD_SIGNATURE',
    no_verified_signature: 'NO_VERIFIED_SIGNATURE',
  }
  it.each(invalid.map((v) => [`${v.error_kind}: ${v.reason}`, v] as const))('rejects %s', (_, v) => {
    const verifiers = v.verifier_keys.map(parseVerifierKey)
    expect(codeOf(() => openNote(hex(v.message_hex), verifiers))).toBe(codes[v.error_kind!])
    if (v.message !== undefined)
      expect(codeOf(() => openNote(v.message!, verifiers))).toBe(codes[v.error_kind!])
  })

  it('covers every error kind of the vectors', () => {
    expect(new Set(invalid.map((v) => v.error_kind))).toEqual(new Set(Object.keys(codes)))
  })
})

describe('signed-note grammar beyond the vectors', () => {
  const logSigner = parseSignerKey(log.signer_key)
  const logVerifier = parseVerifierKey(log.verifier_key)
  const text = 'example.com/tlog-vectors/log\n70\n2VPEmouYqi6YvNOBVd3pXzfipwSGP1YnkafMCmf2Iuk=\n'
  const signed = signNote(text, [logSigner])
  const sigLine = signed.slice(text.length + 1)

  it('verifies the example of the C2SP signed-note spec', () => {
    const verifier = parseVerifierKey('example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k')
    const note =
      'This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n'
    expect(openNote(note, [verifier]).text).toBe('This is an example message.\n')
  })

  it('rejects non-canonical signature base64 (unused bits set)', () => {
    // The payload is 68 bytes: the last base64 group holds 2 bytes and 2 unused bits.
    const payload = sigLine.slice(sigLine.lastIndexOf(' ') + 1, -1)
    expect(payload.endsWith('=')).toBe(true)
    const last = payload[payload.length - 2]!
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
    const aliased = alphabet[alphabet.indexOf(last) | 1]!
    expect(aliased).not.toBe(last)
    const bad = signed.replace(`${last}=\n`, `${aliased}=\n`)
    expect(Buffer.from(payload, 'base64')).toEqual(
      Buffer.from(bad.slice(bad.lastIndexOf(' ') + 1, -1), 'base64'),
    )
    expect(codeOf(() => openNote(bad, [logVerifier]))).toBe('MALFORMED_NOTE')
  })

  it('rejects CRLF, trailing spaces, a missing final newline and lone surrogates', () => {
    for (const bad of [
      signed.replaceAll('\n', '\r\n'),
      signed.replace('\n\n', ' \n\n'),
      `${signed.slice(0, -1)} \n`,
      signed.slice(0, -1),
      signed.replace('\u2014 ', '\u2014  '),
      signed.replace('70', '7\ud8000'),
      `${signed}\n`,
    ]) {
      expect(
        codeOf(() => openNote(bad, [logVerifier])),
        JSON.stringify(bad),
      ).toBe(bad.includes(' \n\n') ? 'BAD_SIGNATURE' : 'MALFORMED_NOTE')
    }
  })

  it('verifies every signature of a known key: a second, bad line by the log key rejects the note', () => {
    // x/mod skips the second line unverified; C2SP says a known key's signature MUST be verified.
    const other = parseSignerKey(
      keyByRole('same name as the log key, different key (so different key_id); never given to a verifier')
        .signer_key,
    )
    const forged = parseSignatureLine(signNote(text, [other]).slice(text.length + 1))
    const bad = `${signed}\u2014 ${log.name} ${lineBase64({ keyId: logVerifier.keyId, signature: forged.signature })}\n`
    expect(codeOf(() => openNote(bad, [logVerifier]))).toBe('BAD_SIGNATURE')
  })

  it('accepts 100 signature lines and rejects 101', () => {
    const unknown = parseSignatureLine(
      signNote(text, [parseSignerKey(keyByRole('witness1').signer_key)]).slice(text.length + 1),
    )
    const lines = (n: number) =>
      Array.from({ length: n }, (_, i) => `\u2014 unknown.example/${i} ${lineBase64(unknown)}\n`).join('')
    expect(openNote(`${signed}${lines(99)}`, [logVerifier]).unverified).toHaveLength(99)
    expect(codeOf(() => openNote(`${signed}${lines(100)}`, [logVerifier]))).toBe('MALFORMED_NOTE')
  })

  it('refuses to sign what it could not open', () => {
    expect(codeOf(() => signNote('no final newline', [logSigner]))).toBe('MALFORMED_NOTE')
    expect(codeOf(() => signNote('a\r\n', [logSigner]))).toBe('MALFORMED_NOTE')
    expect(codeOf(() => signNote('', [logSigner]))).toBe('MALFORMED_NOTE')
    expect(codeOf(() => signNote(text, []))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => signNote(text, [logSigner, logSigner]))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => openNote(signed, [logVerifier, logVerifier]))).toBe('INVALID_ARGUMENT')
  })

  it('parses without verifying', () => {
    const parsed = parseSignedNote(signed)
    expect(parsed.text).toBe(text)
    expect(parsed.signatures.map((s) => [s.name, s.keyId])).toEqual([[log.name, logVerifier.keyId]])
  })

  it('adds witness signature lines, deduplicated', () => {
    const w1 = parseSignerKey(witness1.signer_key)
    const w2 = parseSignerKey(witness2.signer_key)
    const w1Line = signNote(text, [w1]).slice(text.length + 1)
    const w2Sig = parseSignatureLine(signNote(text, [w2]).slice(text.length + 1))
    const both = addSignatures(signed, [w1Line, w2Sig, w1Line])
    expect(both).toBe(signNote(text, [logSigner, w1, w2]))
    expect(addSignatures(both, [w1Line.slice(0, -1)])).toBe(both)
    const verifiers: NoteVerifier[] = [
      logVerifier,
      parseVerifierKey(witness1.verifier_key),
      parseVerifierKey(witness2.verifier_key),
    ]
    expect(openNote(both, verifiers).signatures.map((s) => s.name)).toEqual([
      log.name,
      witness1.name,
      witness2.name,
    ])
    // A new signature by a key already present replaces the old one in place (x/mod's note.Sign does).
    const replaced = addSignatures(both, [{ ...w2Sig, name: witness1.name, keyId: w1.keyId }])
    expect(parseSignedNote(replaced).signatures.map((s) => s.name)).toEqual([
      log.name,
      witness1.name,
      witness2.name,
    ])
    expect(codeOf(() => openNote(replaced, verifiers))).toBe('BAD_SIGNATURE')
    expect(codeOf(() => addSignatures(signed, ['- not a signature line']))).toBe('MALFORMED_NOTE')
    expect(codeOf(() => addSignatures(text, [w1Line]))).toBe('MALFORMED_NOTE')
  })
})

describe('signed-note properties', () => {
  const nameArb = fc.stringMatching(/^[a-z0-9./-]{1,20}$/)
  const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 })
  // Note texts: printable lines (any Unicode but controls), possibly empty lines, ending in a newline.
  const lineArb = fc.string({ unit: 'grapheme', maxLength: 30 }).filter((s) => ![...s].some((ch) => ch < ' '))
  const textArb = fc.array(lineArb, { minLength: 1, maxLength: 4 }).map((lines) => `${lines.join('\n')}\n`)

  it('sign then open round-trips, with the key strings', () => {
    fc.assert(
      fc.property(nameArb, seedArb, textArb, (name, seed, text) => {
        const { signerKey, verifierKey } = generateNoteKey(name, seed)
        expect(verifierKeyOf(signerKey)).toBe(verifierKey)
        const opened = openNote(signNote(text, [parseSignerKey(signerKey)]), [parseVerifierKey(verifierKey)])
        expect(opened.text).toBe(text)
        expect(opened.signatures).toHaveLength(1)
      }),
      { numRuns: 100 },
    )
  })

  it('any changed byte of a signed note makes it fail to open', () => {
    const signer = parseSignerKey(log.signer_key)
    const verifier = parseVerifierKey(log.verifier_key)
    fc.assert(
      fc.property(textArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (text, at, mask) => {
        const bytes = Buffer.from(signNote(text, [signer]), 'utf8')
        const i = at % bytes.length
        bytes[i] = bytes[i]! ^ mask
        const code = codeOf(() => openNote(bytes, [verifier]))
        expect(['MALFORMED_NOTE', 'BAD_SIGNATURE', 'NO_VERIFIED_SIGNATURE']).toContain(code)
      }),
      { numRuns: 300 },
    )
  })
})
