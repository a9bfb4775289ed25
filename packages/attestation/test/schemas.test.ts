import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  AttestationError,
  isSchemaValid,
  schemaId,
  schemaValidator,
  validateApiError,
  validateRebuildStatement,
  validateStatement,
  validateSubmission,
  validateTrustPolicy,
} from '@ledger/attestation'
import type { SchemaName } from '@ledger/attestation'
import { fixture, sampleStatement } from './helpers.js'

const NAMES: SchemaName[] = ['statement', 'rebuild-provenance', 'submission', 'trust-policy', 'api-error']

function code(f: () => unknown): string | undefined {
  try {
    f()
  } catch (error) {
    if (error instanceof AttestationError) return error.code
    throw error
  }
  return undefined
}

describe('schema files', () => {
  it.each(NAMES)('%s is draft 2020-12, has its $id and compiles', (name) => {
    const schema = JSON.parse(
      readFileSync(new URL(`../../../schemas/${name}.schema.json`, import.meta.url), 'utf8'),
    ) as Record<string, unknown>
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema')
    expect(schema.$id).toBe(`https://rebuild-ledger.dev/schemas/${name}.schema.json`)
    expect(schemaId(name)).toBe(schema.$id)
    expect(isSchemaValid(name, 'not an object')).toBe(false)
  })

  it('a validator returns its argument and throws SCHEMA_INVALID naming the failing JSON pointer', () => {
    const policy = { log: { origin: 'a', verifierKey: 'a+01234567+AQ==' }, parties: [], threshold: 1 }
    const validate = schemaValidator('trust-policy')
    expect(code(() => validate(policy))).toBe('SCHEMA_INVALID')
    // The pointer in the message is part of the contract (the issue asks for it); the wording is not.
    expect(() => validate(policy)).toThrow('/parties')
    policy.parties = [{ name: 'p', keys: ['a'.repeat(64)] }] as never
    expect(validate(policy)).toBe(policy)
  })
})

const PEM = fixture('ecdsa-p256.pub')
const HINT = 'eb41ca82d7601949c321f53c16d303f1e71448b7b8adace7d691b02368469f88'

function submission() {
  return {
    bundle: {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint: HINT }, timestampVerificationData: {} },
      dsseEnvelope: {
        payload: 'eyJhIjoxfQ==',
        payloadType: 'application/vnd.in-toto+json',
        signatures: [{ sig: 'MEUCIQD0', keyid: HINT }],
      },
    },
    publicKey: PEM,
  }
}

describe('submission.schema.json', () => {
  it('accepts a key-signed DSSE bundle v0.3 and an SPKI PEM, with or without tlog entries', () => {
    const body = submission()
    expect(validateSubmission(body)).toBe(body)
    const receipt = submission()
    ;(receipt.bundle.verificationMaterial as Record<string, unknown>).tlogEntries = [{ logIndex: '0' }]
    expect(validateSubmission(receipt)).toBe(receipt)
  })

  const cases: [string, (body: ReturnType<typeof submission>) => void][] = [
    ['an extra top-level field', (b) => Object.assign(b, { extra: 1 })],
    ['no publicKey', (b) => delete (b as Partial<typeof b>).publicKey],
    [
      'a publicKey that is not an SPKI PEM',
      (b) => (b.publicKey = PEM.replace('PUBLIC KEY', 'RSA PUBLIC KEY')),
    ],
    ['an oversized publicKey', (b) => (b.publicKey = PEM + 'A'.repeat(2048))],
    [
      'a bundle v0.2 media type',
      (b) => (b.bundle.mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.2'),
    ],
    ['two signatures', (b) => b.bundle.dsseEnvelope.signatures.push({ sig: 'MEUCIQD0', keyid: HINT })],
    ['no signature', (b) => (b.bundle.dsseEnvelope.signatures = [])],
    ['a signature without sig', (b) => delete (b.bundle.dsseEnvelope.signatures[0] as { sig?: string }).sig],
    ['an uppercase hint', (b) => (b.bundle.verificationMaterial.publicKey.hint = HINT.toUpperCase())],
    ['a short hint', (b) => (b.bundle.verificationMaterial.publicKey.hint = HINT.slice(2))],
    [
      'a certificate instead of a public key',
      (b) => {
        const material = b.bundle.verificationMaterial as Record<string, unknown>
        delete material.publicKey
        material.certificate = { rawBytes: 'MIIB' }
      },
    ],
    [
      'a message signature instead of a DSSE envelope',
      (b) => {
        const bundle = b.bundle as Record<string, unknown>
        delete bundle.dsseEnvelope
        bundle.messageSignature = { signature: 'MEUCIQD0' }
      },
    ],
    ['a payload that is not base64', (b) => (b.bundle.dsseEnvelope.payload = 'eyJhIjoxfQ')],
    ['a payload over the size cap', (b) => (b.bundle.dsseEnvelope.payload = 'AAAA'.repeat(21_846))],
    ['a signature over the size cap', (b) => (b.bundle.dsseEnvelope.signatures[0]!.sig = 'AAAA'.repeat(65))],
    ['an extra field in the envelope', (b) => Object.assign(b.bundle.dsseEnvelope, { extra: '' })],
    ['a bundle that is an array', (b) => ((b as Record<string, unknown>).bundle = [])],
  ]
  it.each(cases)('refuses %s with SCHEMA_INVALID', (_label, mutate) => {
    const body = submission()
    mutate(body)
    expect(code(() => validateSubmission(body))).toBe('SCHEMA_INVALID')
  })

  it('takes a payload right at the cap (base64 of 65,535 bytes)', () => {
    const body = submission()
    body.bundle.dsseEnvelope.payload = Buffer.alloc(65_535).toString('base64')
    expect(validateSubmission(body)).toBe(body)
  })
})

describe('trust-policy.schema.json', () => {
  const full = () => ({
    log: {
      origin: 'ledger.example.org/2026',
      // A base64 part may hold '+' (DESIGN §5): only the first two '+' split the string.
      verifierKey: 'ledger.example.org/2026+5e8f2a1c+AVtu+o3mPTl1l+ZxYq4R6zW0JvQ9o8c2k4jH1bW7sDfG',
    },
    witnesses: { keys: ['witness.example+0badc0de+AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA='], quorum: 1 },
    parties: [
      { name: 'alice', keys: ['eb41ca82d7601949c321f53c16d303f1e71448b7b8adace7d691b02368469f88'] },
      { name: 'bob', keys: [PEM] },
    ],
    threshold: 2,
  })

  it('accepts a full policy and one without witnesses', () => {
    expect(validateTrustPolicy(full())).toEqual(full())
    const minimal: Partial<ReturnType<typeof full>> = full()
    delete minimal.witnesses
    expect(validateTrustPolicy(minimal)).toBe(minimal)
  })

  const cases: [string, (policy: ReturnType<typeof full>) => void][] = [
    ['no threshold', (p) => delete (p as Partial<typeof p>).threshold],
    ['a threshold of 0', (p) => (p.threshold = 0)],
    ['a fractional threshold', (p) => (p.threshold = 1.5)],
    ['no parties', (p) => (p.parties = [])],
    ['a party without keys', (p) => (p.parties[0]!.keys = [])],
    ['a key id in uppercase', (p) => (p.parties[0]!.keys = [p.parties[0]!.keys[0]!.toUpperCase()])],
    ['a key that is neither a key id nor a PEM', (p) => (p.parties[0]!.keys = ['alice-key'])],
    ['a verifier key without its hex id', (p) => (p.log.verifierKey = 'ledger.example.org/2026+AVtu')],
    ['a verifier key whose name holds a space', (p) => (p.log.verifierKey = `a b+5e8f2a1c+AQ==`)],
    ['an origin with whitespace', (p) => (p.log.origin = 'ledger example')],
    ['witnesses without a quorum', (p) => delete (p.witnesses as { quorum?: number }).quorum],
    ['a quorum of 0', (p) => (p.witnesses.quorum = 0)],
    ['an unknown field', (p) => Object.assign(p, { parties2: [] })],
    ['an unknown party field', (p) => Object.assign(p.parties[0]!, { weight: 2 })],
  ]
  it.each(cases)('refuses %s', (_label, mutate) => {
    const policy = full()
    mutate(policy)
    expect(code(() => validateTrustPolicy(policy))).toBe('SCHEMA_INVALID')
  })
})

describe('api-error.schema.json', () => {
  it('accepts {error: {code, message}} with optional details', () => {
    expect(validateApiError({ error: { code: 'BAD_SIGNATURE', message: 'no' } })).toBeTruthy()
    expect(
      validateApiError({ error: { code: 'CONFLICT', message: '', details: { size: '12' } } }),
    ).toBeTruthy()
  })
  it.each([
    ['a lowercase code', { error: { code: 'bad', message: 'x' } }],
    ['no message', { error: { code: 'BAD' } }],
    ['a bare string', { error: 'BAD' }],
    ['an extra top-level field', { error: { code: 'BAD', message: 'x' }, status: 400 }],
  ])('refuses %s', (_label, body) => {
    expect(code(() => validateApiError(body))).toBe('SCHEMA_INVALID')
  })
})

describe('statement.schema.json', () => {
  it('accepts a statement with unknown digest algorithms, unknown fields and no predicate', () => {
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { alg1: 'x' } }],
      predicateType: 'p',
    }
    expect(validateStatement(statement)).toBe(statement)
    expect(validateStatement({ ...statement, extension: {} })).toBeTruthy()
  })
  it.each([
    ['no predicateType', { _type: 'https://in-toto.io/Statement/v1', subject: [{ digest: { a: 'b' } }] }],
    [
      'a subject without digest',
      { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'a' }], predicateType: 'p' },
    ],
    [
      'an uppercase sha256',
      {
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ digest: { sha256: 'AB'.repeat(32) } }],
        predicateType: 'p',
      },
    ],
    [
      'a 41-digit gitCommit',
      {
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ digest: { gitCommit: 'a'.repeat(41) } }],
        predicateType: 'p',
      },
    ],
    [
      'an empty digest set',
      { _type: 'https://in-toto.io/Statement/v1', subject: [{ digest: {} }], predicateType: 'p' },
    ],
    [
      'a legacy v0.1 _type',
      { _type: 'https://in-toto.io/Statement/v0.1', subject: [{ digest: { a: 'b' } }], predicateType: 'p' },
    ],
    [
      'a predicate that is an array',
      {
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ digest: { a: 'b' } }],
        predicateType: 'p',
        predicate: [],
      },
    ],
  ])('refuses %s', (_label, statement) => {
    expect(code(() => validateStatement(statement))).toBe('SCHEMA_INVALID')
  })
})

describe('rebuild-provenance.schema.json', () => {
  it('accepts the sample statement, with extra dependencies without a gitCommit and SHA-256 commits', () => {
    expect(validateRebuildStatement(sampleStatement())).toBeTruthy()
    const s = sampleStatement({ commit: 'ab'.repeat(32) })
    s.predicate.buildDefinition.resolvedDependencies.push({
      uri: 'pkg:docker/node@20',
      digest: { sha256: 'cd'.repeat(32) },
    } as never)
    expect(validateRebuildStatement(s)).toBeTruthy()
  })

  type S = ReturnType<typeof sampleStatement>
  const cases: [string, (s: S) => void][] = [
    [
      'a second gitCommit dependency',
      (s) =>
        s.predicate.buildDefinition.resolvedDependencies.push({
          uri: 'git+https://x/y',
          digest: { gitCommit: 'b'.repeat(40) },
        }),
    ],
    [
      'no gitCommit dependency',
      (s) =>
        (s.predicate.buildDefinition.resolvedDependencies[0]!.digest = { sha1: 'b'.repeat(40) } as never),
    ],
    [
      'no resolvedDependencies',
      (s) => delete (s.predicate.buildDefinition as { resolvedDependencies?: unknown }).resolvedDependencies,
    ],
    [
      'a gitCommit dependency without uri',
      (s) => delete (s.predicate.buildDefinition.resolvedDependencies[0] as { uri?: string }).uri,
    ],
    ['a builder id that is not a URI', (s) => (s.predicate.runDetails.builder.id = 'rebuilder one')],
    ['no builder id', (s) => delete (s.predicate.runDetails.builder as { id?: string }).id],
    [
      'another predicateType',
      (s) => ((s as { predicateType: string }).predicateType = 'https://slsa.dev/provenance/v0.2'),
    ],
    ['a subject without name', (s) => delete (s.subject[0] as { name?: string }).name],
    [
      'a subject with none of sha256, sha384, sha512, blake2b',
      (s) => (s.subject[0]!.digest = { sha1: 'a'.repeat(40) } as never),
    ],
    ['a blake2b of the wrong length', (s) => (s.subject[0]!.digest = { blake2b: 'a'.repeat(64) } as never)],
    [
      'no externalParameters',
      (s) => delete (s.predicate.buildDefinition as { externalParameters?: unknown }).externalParameters,
    ],
    [
      'a startedOn that is not RFC 3339',
      (s) => Object.assign(s.predicate.runDetails, { metadata: { startedOn: '2024-01-01 00:00' } }),
    ],
  ]
  it.each(cases)('refuses %s', (_label, mutate) => {
    const s = sampleStatement()
    mutate(s)
    expect(code(() => validateRebuildStatement(s))).toBe('SCHEMA_INVALID')
  })
})
