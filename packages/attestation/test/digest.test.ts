import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  AttestationError,
  buildStatement,
  digestBytes,
  digestsDiffer,
  parseCanonicalDigest,
  parseDigest,
  parseStatement,
  toSRI,
} from '@ledger/attestation'
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

// Expected digests come from coreutils, not from our code: each tool prints `HEX  NAME`.
const dir = mkdtempSync(join(tmpdir(), 'digest-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const content = Buffer.from('pretend this is the rebuilt release tarball\n')
const file = join(dir, 'app-1.0.tar.gz')
writeFileSync(file, content)
const coreutils = (tool: string) => execFileSync(tool, [file], { encoding: 'utf8' }).split(' ')[0]!
const expected = {
  sha256: coreutils('sha256sum'),
  sha384: coreutils('sha384sum'),
  sha512: coreutils('sha512sum'),
  blake2b: coreutils('b2sum'),
}
// npm's integrity is SRI over the same bytes: base64 of sha512sum's digest, computed by openssl here.
const sri512 = `sha512-${execFileSync('sh', ['-c', `openssl dgst -sha512 -binary '${file}' | base64 -w0`], { encoding: 'utf8' }).trim()}`

describe('digests', () => {
  it('hashes as sha256sum, sha384sum, sha512sum and b2sum do', () => {
    expect(digestBytes(content, ['sha256', 'sha384', 'sha512', 'blake2b'])).toEqual(expected)
  })

  it('parses alg:hex (either case), bare sha256 hex and SRI to the same canonical digest', () => {
    expect(parseDigest(`sha512:${expected.sha512.toUpperCase()}`)).toEqual({
      algorithm: 'sha512',
      hex: expected.sha512,
    })
    expect(parseDigest(`SHA256:${expected.sha256}`)).toEqual({ algorithm: 'sha256', hex: expected.sha256 })
    expect(parseDigest(expected.sha256.toUpperCase())).toEqual({ algorithm: 'sha256', hex: expected.sha256 })
    expect(parseDigest(sri512)).toEqual({ algorithm: 'sha512', hex: expected.sha512 })
    expect(parseDigest(`blake2b:${expected.blake2b}`)).toEqual({
      algorithm: 'blake2b',
      hex: expected.blake2b,
    })
    expect(toSRI({ algorithm: 'sha512', hex: expected.sha512 })).toBe(sri512)
  })

  it.each([
    ['sha1 SRI', `sha1-${Buffer.alloc(20).toString('base64')}`],
    ['md5', `md5:${'a'.repeat(32)}`],
    ['sha512 of the wrong length', `sha512:${'a'.repeat(64)}`],
    ['SRI of the wrong length', `sha512-${Buffer.alloc(32).toString('base64')}`],
    ['non-canonical SRI base64', `sha256-${Buffer.alloc(32).toString('base64').slice(0, -1)}`],
    ['two SRI hashes', `${sri512} ${sri512}`],
    ['non-hex', `sha256:${'g'.repeat(64)}`],
    ['63 hex', 'a'.repeat(63)],
    ['empty', ''],
    ['a control character', `sha256:${'a'.repeat(63)}\n`],
  ])('refuses %s', (_label, text) => {
    expect(code(() => parseDigest(text))).toBe('DIGEST_INVALID')
  })

  it('takes only lowercase alg:hex as canonical', () => {
    expect(parseCanonicalDigest(`sha256:${expected.sha256}`)).toBeDefined()
    expect(parseCanonicalDigest(`sha256:${expected.sha256.toUpperCase()}`)).toBeUndefined()
    expect(parseCanonicalDigest(expected.sha256)).toBeUndefined()
    expect(parseCanonicalDigest(`sha1:${'a'.repeat(40)}`)).toBeUndefined()
  })

  it('calls two digest sets different only in an algorithm both name', () => {
    expect(digestsDiffer({ sha256: 'a' }, { sha512: 'b' })).toBeUndefined()
    expect(digestsDiffer({ sha256: 'a', sha512: 'b' }, { sha512: 'b' })).toBeUndefined()
    expect(digestsDiffer({ sha256: 'a', sha512: 'b' }, { sha256: 'a', sha512: 'c' })).toBe('sha512')
  })
})

describe('statements with other digests', () => {
  const source = { uri: 'git+https://github.com/o/r', commit: '0123456789abcdef0123456789abcdef01234567' }

  it('records the digests asked for from the bytes, and checks given ones against them', () => {
    const statement = buildStatement({
      artifacts: [{ name: 'app-1.0.tar.gz', bytes: content, algorithms: ['sha256', 'sha512', 'blake2b'] }],
      source,
      builderId: 'https://rebuilder.example/b1',
    })
    expect(statement.subject[0]!.digest).toEqual({
      sha256: expected.sha256,
      sha512: expected.sha512,
      blake2b: expected.blake2b,
    })
    expect(
      code(() =>
        buildStatement({
          artifacts: [
            { name: 'x', bytes: content, digest: { sha512: 'a'.repeat(128) }, algorithms: ['sha512'] },
          ],
          source,
          builderId: 'https://rebuilder.example/b1',
        }),
      ),
    ).toBe('DIGEST_INVALID')
  })

  it.each([
    ['sha512 only', { sha512: 'a'.repeat(128) }, undefined],
    ['blake2b only', { blake2b: 'a'.repeat(128) }, undefined],
    ['sha384 only', { sha384: 'a'.repeat(96) }, undefined],
    ['uppercase sha512', { sha512: 'A'.repeat(128) }, 'DIGEST_INVALID'],
    ['blake2b of 64 hex', { blake2b: 'a'.repeat(64) }, 'DIGEST_INVALID'],
    ['sha384 as a number', { sha384: 1 }, 'DIGEST_INVALID'],
    ['only sha1', { sha1: 'a'.repeat(40) }, 'STATEMENT_INVALID'],
    ['only md5', { md5: 'a'.repeat(32) }, 'STATEMENT_INVALID'],
    ['an empty digest set', {}, 'STATEMENT_INVALID'],
  ])('a signed statement whose subject has %s', (_label, digest, expectedCode) => {
    const statement = sampleStatement()
    ;(statement.subject[0] as { digest: unknown }).digest = digest
    expect(code(() => parseStatement(Buffer.from(JSON.stringify(statement))))).toBe(expectedCode)
  })
})
