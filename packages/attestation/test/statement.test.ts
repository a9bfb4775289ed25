import { describe, expect, it } from 'vitest'
import {
  AttestationError,
  buildStatement,
  parseStatement,
  MAX_BUILD_INPUT_NAME,
  MAX_BUILD_INPUTS,
  REBUILD_BUILD_TYPE,
  statementBuildInputs,
  statementIndexKeys,
} from '@ledger/attestation'
import type { BuildStatementInput } from '@ledger/attestation'
import { sampleStatement } from './helpers.js'

function code(f: () => unknown): string | undefined {
  try {
    f()
  } catch (error) {
    if (error instanceof AttestationError) return error.code
    throw error
  }
  return undefined
}

// SHA-256 test vectors of FIPS 180-2 (appendix B): "abc" and the empty string.
const SHA256_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
const SHA256_EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
const COMMIT = '0123456789abcdef0123456789abcdef01234567'

const input = (): BuildStatementInput => ({
  artifacts: [
    { name: 'pkg-1.0.0.tgz', bytes: Buffer.from('abc') },
    { name: 'empty.txt', sha256: SHA256_EMPTY },
  ],
  source: { uri: 'git+https://github.com/o/r', commit: COMMIT },
  builderId: 'https://rebuilder.example/b1',
})

describe('buildStatement', () => {
  it('writes the statement of DESIGN §3, hashing bytes', () => {
    expect(buildStatement(input())).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [
        { name: 'pkg-1.0.0.tgz', digest: { sha256: SHA256_ABC } },
        { name: 'empty.txt', digest: { sha256: SHA256_EMPTY } },
      ],
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: {
        buildDefinition: {
          buildType: REBUILD_BUILD_TYPE,
          externalParameters: { repository: 'git+https://github.com/o/r', commit: COMMIT },
          resolvedDependencies: [{ uri: 'git+https://github.com/o/r', digest: { gitCommit: COMMIT } }],
        },
        runDetails: { builder: { id: 'https://rebuilder.example/b1' } },
      },
    })
  })

  it('records build metadata, environment and extra dependencies', () => {
    const statement = buildStatement({
      ...input(),
      buildType: 'https://example.org/buildtypes/npm/v1',
      externalParameters: { package: 'pkg' },
      dependencies: [{ uri: 'pkg:docker/node@20', digest: { sha256: SHA256_EMPTY } }],
      metadata: {
        invocationId: 'run-7',
        startedOn: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
        finishedOn: '2026-01-02T03:05:00Z',
      },
      environment: { os: 'linux', arch: 'x64' },
    })
    expect(statement.predicate.buildDefinition.buildType).toBe('https://example.org/buildtypes/npm/v1')
    expect(statement.predicate.buildDefinition.externalParameters).toEqual({
      repository: 'git+https://github.com/o/r',
      commit: COMMIT,
      package: 'pkg',
    })
    expect(statement.predicate.buildDefinition.internalParameters).toEqual({
      environment: { os: 'linux', arch: 'x64' },
    })
    expect(statement.predicate.buildDefinition.resolvedDependencies).toHaveLength(2)
    expect(statement.predicate.runDetails.metadata).toEqual({
      invocationId: 'run-7',
      startedOn: '2026-01-02T03:04:05.000Z',
      finishedOn: '2026-01-02T03:05:00Z',
    })
  })

  it.each([
    [
      'an uppercase sha256',
      (i: BuildStatementInput) => (i.artifacts = [{ name: 'a', sha256: SHA256_ABC.toUpperCase() }]),
      'DIGEST_INVALID',
    ],
    [
      'a short sha256',
      (i: BuildStatementInput) => (i.artifacts = [{ name: 'a', sha256: SHA256_ABC.slice(1) }]),
      'DIGEST_INVALID',
    ],
    [
      'bytes that do not match the given sha256',
      (i: BuildStatementInput) =>
        (i.artifacts = [{ name: 'a', bytes: Buffer.from('abd'), sha256: SHA256_ABC }]),
      'DIGEST_INVALID',
    ],
    ['a 39-digit commit', (i: BuildStatementInput) => (i.source.commit = COMMIT.slice(1)), 'DIGEST_INVALID'],
    [
      'an uppercase commit',
      (i: BuildStatementInput) => (i.source.commit = COMMIT.toUpperCase()),
      'DIGEST_INVALID',
    ],
    ['no artifacts', (i: BuildStatementInput) => (i.artifacts = []), 'STATEMENT_INVALID'],
    [
      'an empty artifact name',
      (i: BuildStatementInput) => (i.artifacts = [{ name: '', sha256: SHA256_ABC }]),
      'STATEMENT_INVALID',
    ],
    ['a builder id that is not a URI', (i: BuildStatementInput) => (i.builderId = 'me'), 'STATEMENT_INVALID'],
    [
      'a second gitCommit among the dependencies',
      (i: BuildStatementInput) =>
        (i.dependencies = [{ uri: 'git+https://x/y', digest: { gitCommit: COMMIT } }]),
      'STATEMENT_INVALID',
    ],
    [
      'an invalid Date',
      (i: BuildStatementInput) => (i.metadata = { startedOn: new Date(NaN) }),
      'STATEMENT_INVALID',
    ],
    [
      'a timestamp that is not RFC 3339',
      (i: BuildStatementInput) => (i.metadata = { startedOn: 'yesterday' }),
      'STATEMENT_INVALID',
    ],
  ])('refuses %s', (_label, mutate, expected) => {
    const i = input()
    mutate(i)
    expect(code(() => buildStatement(i))).toBe(expected)
  })
})

describe('parseStatement', () => {
  const bytes = (value: unknown) => Buffer.from(JSON.stringify(value))

  it('returns a valid statement as parsed', () => {
    expect(parseStatement(bytes(sampleStatement()))).toEqual(sampleStatement())
  })

  it.each([
    ['bytes that are not UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 'PAYLOAD_NOT_JSON'],
    ['text that is not JSON', Buffer.from('{"_type":'), 'PAYLOAD_NOT_JSON'],
    [
      'JSON behind a byte order mark',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes(sampleStatement())]),
      'PAYLOAD_NOT_JSON',
    ],
    ['a JSON array', bytes([sampleStatement()]), 'STATEMENT_INVALID'],
    ['JSON null', Buffer.from('null'), 'STATEMENT_INVALID'],
    [
      'a subject sha256 in uppercase',
      bytes(sampleStatement({ sha256: SHA256_ABC.toUpperCase() })),
      'DIGEST_INVALID',
    ],
    [
      'a subject sha256 of 63 digits',
      bytes(sampleStatement({ sha256: SHA256_ABC.slice(1) })),
      'DIGEST_INVALID',
    ],
    [
      'a subject sha256 that is a number',
      bytes(sampleStatement({ sha256: 12 as unknown as string })),
      'DIGEST_INVALID',
    ],
    ['a gitCommit of 41 digits', bytes(sampleStatement({ commit: COMMIT + 'a' })), 'DIGEST_INVALID'],
    ['a gitCommit with a prefix', bytes(sampleStatement({ commit: 'sha1:' + COMMIT })), 'DIGEST_INVALID'],
    [
      'a statement without a gitCommit dependency',
      bytes({ ...sampleStatement(), predicateType: 'https://example.org/other' }),
      'STATEMENT_INVALID',
    ],
  ])('refuses %s', (_label, payload, expected) => {
    expect(code(() => parseStatement(payload))).toBe(expected)
  })
})

describe('statementIndexKeys', () => {
  it('lists the distinct subject digests, the source commit and every subject', () => {
    const statement = buildStatement({
      ...input(),
      artifacts: [
        { name: 'a.tgz', sha256: SHA256_ABC },
        { name: 'b.tgz', sha256: SHA256_EMPTY },
        { name: 'a-copy.tgz', sha256: SHA256_ABC },
      ],
      dependencies: [{ uri: 'pkg:docker/node@20', digest: { sha256: SHA256_EMPTY } }],
    })
    expect(statementIndexKeys(statement)).toEqual({
      digests: [`sha256:${SHA256_ABC}`, `sha256:${SHA256_EMPTY}`],
      commits: [COMMIT],
      subjects: [
        { name: 'a.tgz', digest: { sha256: SHA256_ABC } },
        { name: 'b.tgz', digest: { sha256: SHA256_EMPTY } },
        { name: 'a-copy.tgz', digest: { sha256: SHA256_ABC } },
      ],
    })
  })

  it('indexes every (algorithm, value) of every subject, and only the accepted algorithms', () => {
    const sha512 = 'c'.repeat(128)
    const blake2b = 'd'.repeat(128)
    const statement = buildStatement({
      ...input(),
      artifacts: [
        { name: 'a.tgz', digest: { sha512, blake2b } },
        { name: 'b.tgz', digest: { sha384: 'e'.repeat(96) } },
      ],
    })
    statement.subject[0]!.digest.sha1 = 'f'.repeat(40)
    expect(statementIndexKeys(statement)).toEqual({
      digests: [`sha512:${sha512}`, `blake2b:${blake2b}`, `sha384:${'e'.repeat(96)}`],
      commits: [COMMIT],
      subjects: [
        { name: 'a.tgz', digest: { sha512, blake2b } },
        { name: 'b.tgz', digest: { sha384: 'e'.repeat(96) } },
      ],
    })
  })
})

describe('statementBuildInputs', () => {
  it('lists the resolved dependencies besides the source that carry a digest the log indexes', () => {
    const statement = buildStatement({
      ...input(),
      dependencies: [
        { name: 'rustc 1.55', digest: { sha256: SHA256_ABC, sha1: 'a'.repeat(40) } },
        { uri: 'pkg:docker/debian@sha256:x', digest: { sha512: 'c'.repeat(128) } },
        { name: 'only a url', uri: 'https://example.org/tool' },
        { name: 'sha1 only', digest: { sha1: 'b'.repeat(40) } },
        { digest: { blake2b: 'd'.repeat(128) } },
      ],
    })
    expect(statementBuildInputs(statement)).toEqual([
      { name: 'rustc 1.55', digest: { sha256: SHA256_ABC } },
      { name: 'pkg:docker/debian@sha256:x', digest: { sha512: 'c'.repeat(128) } },
      { name: 'input 5', digest: { blake2b: 'd'.repeat(128) } },
    ])
  })

  it(`allows ${MAX_BUILD_INPUTS} build inputs named in at most ${MAX_BUILD_INPUT_NAME} characters, no more`, () => {
    const inputs = (n: number, name = (i: number) => `tool ${i}`) =>
      Array.from({ length: n }, (_, i) => ({ name: name(i), digest: { sha256: SHA256_EMPTY } }))
    expect(
      statementBuildInputs(buildStatement({ ...input(), dependencies: inputs(MAX_BUILD_INPUTS) })),
    ).toHaveLength(MAX_BUILD_INPUTS)
    expect(code(() => buildStatement({ ...input(), dependencies: inputs(MAX_BUILD_INPUTS + 1) }))).toBe(
      'STATEMENT_INVALID',
    )
    const long = (length: number) => inputs(1, () => 'n'.repeat(length))
    expect(() => buildStatement({ ...input(), dependencies: long(MAX_BUILD_INPUT_NAME) })).not.toThrow()
    expect(code(() => buildStatement({ ...input(), dependencies: long(MAX_BUILD_INPUT_NAME + 1) }))).toBe(
      'STATEMENT_INVALID',
    )
  })
})
