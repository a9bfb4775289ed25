import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  encodeCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  TlogError,
  type Checkpoint,
  type TlogErrorCode,
} from '../src/index.js'
import { checkpointVectors, hex, keyByRole, noteVectors } from './note-vectors.js'

function codeOf(fn: () => unknown): TlogErrorCode | 'no error' | 'not a TlogError' {
  try {
    fn()
    return 'no error'
  } catch (err) {
    return err instanceof TlogError ? err.code : 'not a TlogError'
  }
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

describe('checkpoint bodies (checkpoints.json)', () => {
  const valid = checkpointVectors.filter((v) => v.valid)
  const invalid = checkpointVectors.filter((v) => !v.valid)

  it.each(valid.map((v) => [v.comment, v] as const))('parses and re-encodes: %s', (_, v) => {
    for (const input of [hex(v.body_hex), v.body!]) {
      const c = parseCheckpoint(input)
      expect(c.origin).toBe(v.origin)
      expect(c.size).toBe(BigInt(v.tree_size!))
      expect(toHex(c.root)).toBe(v.root)
      expect(Buffer.from(c.root).toString('base64')).toBe(v.root_base64)
      expect(c.extensions).toEqual(v.extensions)
      expect(encodeCheckpoint(c)).toBe(v.body)
    }
  })

  it.each(invalid.map((v) => [v.reason, v] as const))('rejects %s', (_, v) => {
    // The vectors' parser_error "tree size above 2^63-1" is the one range error; the rest are grammar.
    const expected =
      v.parser_error === 'tree size above 2^63-1' ? 'SIZE_OUT_OF_RANGE' : 'MALFORMED_CHECKPOINT'
    expect(codeOf(() => parseCheckpoint(hex(v.body_hex)))).toBe(expected)
    if (v.body !== undefined) expect(codeOf(() => parseCheckpoint(v.body!))).toBe(expected)
  })

  it('has both range and grammar negatives', () => {
    expect(invalid.filter((v) => v.parser_error === 'tree size above 2^63-1').length).toBeGreaterThan(0)
    expect(invalid.length).toBeGreaterThan(20)
  })

  it('reads the checkpoints inside the signed-note vectors', () => {
    const withCheckpoint = noteVectors.filter((v) => v.valid && v.checkpoint !== undefined)
    expect(withCheckpoint.length).toBeGreaterThan(5)
    for (const v of withCheckpoint) {
      const c = parseCheckpoint(v.text!)
      expect([c.origin, c.size.toString(), toHex(c.root), c.extensions]).toEqual([
        v.checkpoint!.origin,
        v.checkpoint!.tree_size,
        v.checkpoint!.root,
        v.checkpoint!.extensions,
      ])
    }
  })

  it('rejects a lone surrogate and a size of 20 digits', () => {
    const body = 'example.com/log\n3\ndHfCG5FzMnG/O7OvP+ex8H+JeZ93Lal6AhEyXOOLmhg=\n'
    expect(parseCheckpoint(body).size).toBe(3n)
    expect(codeOf(() => parseCheckpoint(body.replace('log', '\udc00')))).toBe('MALFORMED_CHECKPOINT')
    expect(codeOf(() => parseCheckpoint(body.replace('\n3\n', `\n${'9'.repeat(40)}\n`)))).toBe(
      'SIZE_OUT_OF_RANGE',
    )
  })
})

describe('encodeCheckpoint', () => {
  const root = new Uint8Array(32).fill(7)
  const good: Checkpoint = { origin: 'example.com/log', size: 5n, root, extensions: [] }

  it('writes the three lines and the extensions', () => {
    expect(encodeCheckpoint({ ...good, extensions: ['a b', 'c'] })).toBe(
      `example.com/log\n5\n${Buffer.from(root).toString('base64')}\na b\nc\n`,
    )
  })

  it('refuses what it could not read back', () => {
    for (const bad of [
      { ...good, origin: '' },
      { ...good, origin: 'a\nb' },
      { ...good, origin: 'a\rb' },
      { ...good, size: -1n },
      { ...good, size: 1n << 63n },
      { ...good, root: new Uint8Array(31) },
      { ...good, extensions: [''] },
      { ...good, extensions: ['x\ny'] },
    ]) {
      expect(codeOf(() => encodeCheckpoint(bad))).toBe('INVALID_ARGUMENT')
    }
  })

  it('round-trips any valid checkpoint', () => {
    const line = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
      .filter((s) => ![...s].some((ch) => ch < ' '))
    fc.assert(
      fc.property(
        line,
        fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(line, { maxLength: 3 }),
        (origin, size, rootBytes, extensions) => {
          const c = { origin, size, root: rootBytes, extensions }
          const text = encodeCheckpoint(c)
          expect(parseCheckpoint(text)).toEqual(c)
          expect(parseCheckpoint(new TextEncoder().encode(text))).toEqual(c)
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('openCheckpoint', () => {
  const log = keyByRole('log')
  const logSigner = parseSignerKey(log.signer_key)
  const logVerifier = parseVerifierKey(log.verifier_key)
  const w1 = parseVerifierKey(keyByRole('witness1').verifier_key)
  const w2 = parseVerifierKey(keyByRole('witness2').verifier_key)
  const c01 = parseVerifierKey(keyByRole('cosigner01').verifier_key)
  const threeSigned = noteVectors.find((v) => v.valid && v.signatures!.length === 3)!

  it('opens a checkpoint signed by the log and two witnesses', () => {
    const opened = openCheckpoint(threeSigned.message!, logVerifier, { witnesses: [w1, w2], quorum: 2 })
    expect(opened.checkpoint.size).toBe(70n)
    expect(toHex(opened.checkpoint.root)).toBe(threeSigned.checkpoint!.root)
    expect(opened.witnessSignatures.map((s) => s.name)).toEqual(['witness.example/w1', 'witness.example/w2'])
    // Those are plain Ed25519 note signatures, not timestamped cosignatures.
    expect(opened.cosignatures).toEqual([])
    expect(openCheckpoint(threeSigned.message!, logVerifier).witnessSignatures).toEqual([])
  })

  it('counts the quorum over distinct witnesses', () => {
    expect(
      openCheckpoint(threeSigned.message!, logVerifier, { witnesses: [w1, c01], quorum: 1 })
        .witnessSignatures,
    ).toHaveLength(1)
    expect(
      codeOf(() => openCheckpoint(threeSigned.message!, logVerifier, { witnesses: [w1, c01], quorum: 2 })),
    ).toBe('QUORUM_NOT_MET')
    // The default quorum is every witness given.
    expect(
      codeOf(() => openCheckpoint(threeSigned.message!, logVerifier, { witnesses: [w1, w2, c01] })),
    ).toBe('QUORUM_NOT_MET')
    for (const quorum of [-1, 3, 1.5, Number.NaN]) {
      expect(
        codeOf(() => openCheckpoint(threeSigned.message!, logVerifier, { witnesses: [w1, w2], quorum })),
      ).toBe('INVALID_ARGUMENT')
    }
  })

  it('requires the log signature, even when a witness signed', () => {
    const witnessOnly = noteVectors.find((v) => !v.valid && v.reason?.startsWith('signed only by witness1'))!
    expect(
      codeOf(() => openCheckpoint(witnessOnly.message!, logVerifier, { witnesses: [w1], quorum: 1 })),
    ).toBe('NO_VERIFIED_SIGNATURE')
  })

  it('rejects notes the note layer rejects', () => {
    for (const v of noteVectors.filter((n) => !n.valid)) {
      // The vector's other trusted keys become witnesses (quorum 0): their bad signatures still count.
      const witnesses = v.verifier_keys.filter((k) => k !== log.verifier_key).map(parseVerifierKey)
      expect(['MALFORMED_NOTE', 'BAD_SIGNATURE', 'NO_VERIFIED_SIGNATURE']).toContain(
        codeOf(() => openCheckpoint(hex(v.message_hex), logVerifier, { witnesses, quorum: 0 })),
      )
    }
  })

  it('checks the origin against the log key name', () => {
    const body = encodeCheckpoint({
      origin: 'other.example/log',
      size: 1n,
      root: new Uint8Array(32),
      extensions: [],
    })
    const signed = signNote(body, [logSigner])
    expect(codeOf(() => openCheckpoint(signed, logVerifier))).toBe('ORIGIN_MISMATCH')
    expect(openCheckpoint(signed, logVerifier, { origin: 'other.example/log' }).checkpoint.size).toBe(1n)
  })

  it('rejects a signed note that is not a checkpoint', () => {
    expect(codeOf(() => openCheckpoint(signNote('hello\n', [logSigner]), logVerifier))).toBe(
      'MALFORMED_CHECKPOINT',
    )
    const huge = `${log.name}\n9223372036854775808\n${Buffer.alloc(32).toString('base64')}\n`
    expect(codeOf(() => openCheckpoint(signNote(huge, [logSigner]), logVerifier))).toBe('SIZE_OUT_OF_RANGE')
  })
})
