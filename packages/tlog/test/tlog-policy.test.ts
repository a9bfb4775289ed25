import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  addSignatures,
  encodeCheckpoint,
  generateCosignerKey,
  generateNoteKey,
  isQuorumMet,
  MALFORMED_POLICY,
  parseCosignerKey,
  parseSignerKey,
  parseTlogPolicy,
  signNote,
  TlogError,
  verifyCheckpointWithPolicy,
} from '../src/index.js'

function codeOf(fn: () => unknown): string {
  try {
    fn()
    return 'no error'
  } catch (err) {
    return err instanceof TlogError ? err.code : 'not a TlogError'
  }
}

const seed = (n: number) => new Uint8Array(32).fill(n)
const log = generateNoteKey('example.com/log', seed(1))
const otherLog = generateNoteKey('example.com/other', seed(2))
const witnessNames = ['X1', 'X2', 'X3', 'Y1', 'Y2', 'Y3'] as const
const witnesses = Object.fromEntries(
  witnessNames.map((name, i) => [name, generateCosignerKey(`witness.example/${name}`, seed(10 + i))]),
) as Record<(typeof witnessNames)[number], { signerKey: string; verifierKey: string }>

// The example of c2sp.org/tlog-policy ("Example policy"), with real keys for the elided <vkey>.
const EXAMPLE = `log ${log.verifierKey}

witness X1 ${witnesses.X1.verifierKey}
witness X2 ${witnesses.X2.verifierKey}
witness X3 ${witnesses.X3.verifierKey}
group X-witnesses 2 X1 X2 X3

witness Y1 ${witnesses.Y1.verifierKey}
witness Y2 ${witnesses.Y2.verifierKey}
witness Y3 ${witnesses.Y3.verifierKey}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
`

describe('parseTlogPolicy', () => {
  it('reads the example of the spec', () => {
    const policy = parseTlogPolicy(EXAMPLE)
    expect(policy.logs.map((l) => l.vkey)).toEqual([log.verifierKey])
    expect(policy.logs[0]!.verifier.name).toBe('example.com/log')
    expect(policy.witnesses.map((w) => w.name)).toEqual([...witnessNames])
    expect(policy.groups).toEqual([
      { name: 'X-witnesses', threshold: 2, members: ['X1', 'X2', 'X3'] },
      { name: 'Y-witnesses', threshold: 1, members: ['Y1', 'Y2', 'Y3'] },
      { name: 'X-and-Y', threshold: 2, members: ['X-witnesses', 'Y-witnesses'] },
    ])
    expect(policy.quorum).toBe('X-and-Y')
  })

  it('reads the same policy from bytes', () => {
    expect(parseTlogPolicy(new TextEncoder().encode(EXAMPLE)).quorum).toBe('X-and-Y')
  })

  it('allows whitespace runs, tabs, comments, blank lines and URLs', () => {
    const text = [
      '# a comment',
      '   # an indented comment',
      '\t',
      '',
      `  log\t${log.verifierKey}   https://log.example/  `,
      `witness \t W ${witnesses.X1.verifierKey} https://w.example/`,
      'quorum\tW',
      '',
    ].join('\n')
    const policy = parseTlogPolicy(text)
    expect(policy.logs[0]!.url).toBe('https://log.example/')
    expect(policy.witnesses[0]).toMatchObject({ name: 'W', url: 'https://w.example/' })
    expect(policy.quorum).toBe('W')
  })

  it('accepts `quorum none` with no witnesses, and non-ASCII names and comments', () => {
    expect(parseTlogPolicy(`log ${log.verifierKey}\nquorum none\n`).quorum).toBe('none')
    const policy = parseTlogPolicy(
      `# é\nwitness K ${witnesses.X1.verifierKey}\nwitness \u212a ${witnesses.X2.verifierKey}\nquorum \u212a\n`,
    )
    // Names are opaque octets: K and the Kelvin sign are two names.
    expect(policy.witnesses.map((w) => w.name)).toEqual(['K', '\u212a'])
  })

  it('makes the quorum line optional only when asked', () => {
    const text = `log ${log.verifierKey}\n`
    expect(codeOf(() => parseTlogPolicy(text))).toBe(MALFORMED_POLICY)
    expect(parseTlogPolicy(text, { quorumOptional: true }).quorum).toBe('none')
  })

  const w = witnesses
  const cases: [string, string][] = [
    ['an unknown keyword', `witnesses A ${w.X1.verifierKey}\nquorum none\n`],
    ['two quorum lines', `quorum none\nquorum none\n`],
    ['a quorum naming nothing defined', `quorum A\n`],
    ['a quorum before its witness', `quorum A\nwitness A ${w.X1.verifierKey}\n`],
    ['a quorum line with two names', `witness A ${w.X1.verifierKey}\nquorum A A\n`],
    ['a group member defined later', `group G any A\nwitness A ${w.X1.verifierKey}\nquorum G\n`],
    ['a group member listed twice', `witness A ${w.X1.verifierKey}\ngroup G any A A\nquorum G\n`],
    ['none as a group member', `witness A ${w.X1.verifierKey}\ngroup G any A none\nquorum G\n`],
    ['none as a witness name', `witness none ${w.X1.verifierKey}\nquorum none\n`],
    ['a group without members', `group G any\nquorum none\n`],
    ['a threshold of 0', `witness A ${w.X1.verifierKey}\ngroup G 0 A\nquorum G\n`],
    ['a threshold above n', `witness A ${w.X1.verifierKey}\ngroup G 2 A\nquorum G\n`],
    ['a threshold with a leading zero', `witness A ${w.X1.verifierKey}\ngroup G 01 A\nquorum G\n`],
    ['a threshold keyword in capitals', `witness A ${w.X1.verifierKey}\ngroup G ALL A\nquorum G\n`],
    ['a name defined twice', `witness A ${w.X1.verifierKey}\ngroup A any A\nquorum none\n`],
    [
      'two witnesses with one key',
      `witness A ${w.X1.verifierKey}\nwitness B ${w.X1.verifierKey}\nquorum none\n`,
    ],
    [
      'two witnesses with one public key under two names',
      `witness A ${w.X1.verifierKey}\nwitness B ${generateCosignerKey('renamed', seed(10)).verifierKey}\nquorum none\n`,
    ],
    [
      'two logs with one public key',
      `log ${log.verifierKey}\nlog ${generateNoteKey('x', seed(1)).verifierKey}\nquorum none\n`,
    ],
    ['a log with a cosignature key', `log ${w.X1.verifierKey}\nquorum none\n`],
    ['a witness with a log key', `witness A ${log.verifierKey}\nquorum none\n`],
    ['a log line without a key', `log\nquorum none\n`],
    ['a log line with two URLs', `log ${log.verifierKey} https://a/ https://b/\nquorum none\n`],
    ['a witness line with two URLs', `witness A ${w.X1.verifierKey} https://a/ https://b/\nquorum none\n`],
    [
      'a key with a bad key id',
      `log ${log.verifierKey.replace(/\+[0-9a-f]{8}\+/, '+00000000+')}\nquorum none\n`,
    ],
    ['a carriage return', `quorum none\r\n`],
    ['a control character', `# bell \u0007\nquorum none\n`],
    ['a DEL character', `# del \u007f\nquorum none\n`],
    ['a last line without newline', `quorum none`],
    ['a line of a non-ASCII space (not whitespace here)', `\u00a0\nquorum none\n`],
    ['a keyword followed by a non-ASCII space', `quorum\u00a0none\n`],
    ['no quorum at all', `log ${log.verifierKey}\n`],
  ]
  for (const [name, text] of cases) {
    it(`refuses ${name}`, () => {
      expect(codeOf(() => parseTlogPolicy(text))).toBe(MALFORMED_POLICY)
    })
  }

  it('refuses a file that is not UTF-8', () => {
    expect(codeOf(() => parseTlogPolicy(new Uint8Array([0x23, 0xff, 0x0a])))).toBe(MALFORMED_POLICY)
  })
})

describe('isQuorumMet', () => {
  const policy = parseTlogPolicy(EXAMPLE)
  // Expected by reading the spec: two of X1..X3 and one of Y1..Y3.
  const table: [string[], boolean][] = [
    [[], false],
    [['X1', 'X2', 'Y1'], true],
    [['X2', 'X3', 'Y3'], true],
    [['X1', 'Y1'], false],
    [['X1', 'X2', 'X3'], false],
    [['Y1', 'Y2', 'Y3'], false],
    [['X1', 'X2', 'X3', 'Y1', 'Y2', 'Y3'], true],
    // Group names are not witnesses: naming them does not satisfy them.
    [['X-witnesses', 'Y-witnesses', 'X-and-Y'], false],
  ]
  for (const [names, met] of table) {
    it(`{${names.join(', ')}} ${met ? 'meets' : 'does not meet'} the example quorum`, () => {
      expect(isQuorumMet(policy, names)).toBe(met)
    })
  }

  it('is met by anything under `quorum none`, and by the one witness it names', () => {
    expect(isQuorumMet(parseTlogPolicy('quorum none\n'), [])).toBe(true)
    const single = parseTlogPolicy(`witness A ${witnesses.X1.verifierKey}\nquorum A\n`)
    expect(isQuorumMet(single, ['A'])).toBe(true)
    expect(isQuorumMet(single, ['B'])).toBe(false)
  })

  it('matches counting for a flat k-of-n group (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.subarray([...witnessNames]),
        fc.integer({ min: 1, max: 6 }),
        (n, present, kRaw) => {
          const members = witnessNames.slice(0, n)
          const k = Math.min(kRaw, n)
          const text =
            members.map((name) => `witness ${name} ${witnesses[name].verifierKey}\n`).join('') +
            `group G ${k} ${members.join(' ')}\nquorum G\n`
          const expected = present.filter((name) => (members as readonly string[]).includes(name)).length >= k
          expect(isQuorumMet(parseTlogPolicy(text), present)).toBe(expected)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('never turns false when more witnesses cosign (property)', () => {
    fc.assert(
      fc.property(fc.subarray([...witnessNames]), fc.subarray([...witnessNames]), (a, b) => {
        if (isQuorumMet(policy, a)) expect(isQuorumMet(policy, [...a, ...b])).toBe(true)
      }),
      { numRuns: 200 },
    )
  })
})

describe('verifyCheckpointWithPolicy', () => {
  const policy = parseTlogPolicy(EXAMPLE)
  const body = encodeCheckpoint({ origin: 'example.com/log', size: 5n, root: seed(3), extensions: [] })
  const signed = signNote(body, [parseSignerKey(log.signerKey)])
  const cosign = (note: string, names: (typeof witnessNames)[number][]) =>
    addSignatures(
      note,
      names.map((name) => parseCosignerKey(witnesses[name].signerKey).signatureLine(body, 1700000000n)),
    )

  it('accepts a checkpoint whose cosigners meet the quorum, naming them', () => {
    const result = verifyCheckpointWithPolicy(policy, cosign(signed, ['Y2', 'X1', 'X3']))
    expect(result.witnessed).toEqual(['X1', 'X3', 'Y2'])
    expect(result.checkpoint.size).toBe(5n)
    expect(result.log.vkey).toBe(log.verifierKey)
    expect(result.cosignatures.map((c) => c.timestamp)).toEqual([1700000000n, 1700000000n, 1700000000n])
  })

  it('refuses one whose cosigners do not meet it', () => {
    expect(codeOf(() => verifyCheckpointWithPolicy(policy, cosign(signed, ['X1', 'X2'])))).toBe(
      'QUORUM_NOT_MET',
    )
    expect(codeOf(() => verifyCheckpointWithPolicy(policy, signed))).toBe('QUORUM_NOT_MET')
  })

  it('refuses a bad cosignature by a policy witness, even with a quorum besides', () => {
    const wrongBody = encodeCheckpoint({ origin: 'example.com/log', size: 6n, root: seed(3), extensions: [] })
    const bad = parseCosignerKey(witnesses.Y3.signerKey).signatureLine(wrongBody, 1n)
    const note = addSignatures(cosign(signed, ['X1', 'X2', 'Y1']), [bad])
    expect(codeOf(() => verifyCheckpointWithPolicy(policy, note))).toBe('BAD_SIGNATURE')
  })

  it('refuses a checkpoint by a log the policy does not list', () => {
    const stranger = signNote(
      encodeCheckpoint({ origin: 'example.com/other', size: 5n, root: seed(3), extensions: [] }),
      [parseSignerKey(otherLog.signerKey)],
    )
    expect(codeOf(() => verifyCheckpointWithPolicy(policy, stranger))).toBe('NO_VERIFIED_SIGNATURE')
  })

  it('refuses a checkpoint whose origin is not the signing log key name', () => {
    const elsewhere = encodeCheckpoint({
      origin: 'example.com/elsewhere',
      size: 5n,
      root: seed(3),
      extensions: [],
    })
    const note = signNote(elsewhere, [parseSignerKey(log.signerKey)])
    expect(
      codeOf(() =>
        verifyCheckpointWithPolicy(parseTlogPolicy(`log ${log.verifierKey}\nquorum none\n`), note),
      ),
    ).toBe('ORIGIN_MISMATCH')
  })
})
