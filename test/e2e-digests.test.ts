// Issue #12, digests: rebuilders record sha256, sha512 and blake2b (or an SRI string); installers ask by any
// of them, in any spelling. The expected digests come from coreutils (sha256sum, sha512sum, b2sum), never
// from our own code. Real log, real keys, the CLI in-process.
import { execFileSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RunningLog } from '@ledger/log-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, removeDir, startLog, tempDir, type CliRun } from './e2e-support.js'

const COMMIT = '2a3b4c5d6e7f80912a3b4c5d6e7f80912a3b4c5d'
const REPO = 'git+https://github.com/example/lib'

let dir: string
let log: RunningLog
let attest: ReturnType<typeof cli>
const sums: Record<'sha256' | 'sha512' | 'blake2b', string> = { sha256: '', sha512: '', blake2b: '' }
let sri = ''

function expectCode(run: CliRun, code: number) {
  if (run.code !== code)
    throw new Error(`exit ${run.code}, expected ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`)
}

const coreutils = (tool: string, file: string) =>
  execFileSync(tool, [file], { encoding: 'utf8' }).split(' ')[0]!

beforeAll(async () => {
  dir = await tempDir()
  log = await startLog(join(dir, 'log-data'))
  attest = cli(dir)
  await writeFile(join(dir, 'lib-2.0.tgz'), 'the reproducible library tarball\n')
  await writeFile(join(dir, 'other.tgz'), 'what the second rebuilder got\n')
  const file = join(dir, 'lib-2.0.tgz')
  sums.sha256 = coreutils('sha256sum', file)
  sums.sha512 = coreutils('sha512sum', file)
  sums.blake2b = coreutils('b2sum', file)
  sri = `sha512-${Buffer.from(sums.sha512, 'hex').toString('base64')}`
  for (const name of ['alice', 'bob', 'carol']) expectCode(await attest('keygen', '--out', name), 0)
}, 60_000)

afterAll(async () => {
  await log?.close()
  await removeDir(dir)
})

async function submit(key: string, ...args: string[]) {
  const run = await attest(
    'submit',
    '--log',
    log.url,
    '--key',
    `${key}.key`,
    ...args,
    '--repo',
    REPO,
    '--commit',
    COMMIT,
    '--log-key',
    log.verifierKey,
    '--receipt',
    `${key}-${Math.random().toString(36).slice(2)}.json`,
    '--json',
  )
  return run
}

async function policy(names: string[], threshold: number): Promise<string> {
  const parties = []
  for (const name of names) {
    const pub = await readFile(join(dir, `${name}.pub`), 'utf8')
    parties.push({ name, keys: [pub] })
  }
  const path = join(dir, `policy-${names.join('-')}-${threshold}.json`)
  await writeFile(
    path,
    JSON.stringify({ log: { origin: 'e2e.example/log', verifierKey: log.verifierKey }, parties, threshold }),
  )
  return path
}

describe('every common digest', () => {
  it('records sha256, sha512 and blake2b of an artifact by default, as coreutils computes them', async () => {
    const run = await submit('alice', '--artifact', 'lib-2.0.tgz')
    expectCode(run, 0)
    const answer = run.json() as { subjects: { name: string; digests: string[] }[] }
    expect(answer.subjects).toEqual([
      {
        name: 'lib-2.0.tgz',
        digest: `sha256:${sums.sha256}`,
        digests: [`sha256:${sums.sha256}`, `sha512:${sums.sha512}`, `blake2b:${sums.blake2b}`],
      },
    ])
  })

  it('takes an SRI subject (npm integrity) from a rebuilder', async () => {
    const run = await submit('bob', '--subject', `lib-2.0.tgz=${sri}`)
    expectCode(run, 0)
    expect((run.json() as { subjects: unknown[] }).subjects).toEqual([
      { name: 'lib-2.0.tgz', digest: `sha512:${sums.sha512}`, digests: [`sha512:${sums.sha512}`] },
    ])
  })

  it('--digest-algs chooses what --artifact records', async () => {
    const run = await submit('carol', '--artifact', 'lib-2.0.tgz', '--digest-algs', 'blake2b')
    expectCode(run, 0)
    expect((run.json() as { subjects: { digests: string[] }[] }).subjects[0]!.digests).toEqual([
      `blake2b:${sums.blake2b}`,
    ])
  })

  it('counts an entry for a queried digest when one of its subjects carries that (algorithm, value)', async () => {
    const path = await policy(['alice', 'bob', 'carol'], 2)
    const verify = (digest: string) =>
      attest('verify', '--log', log.url, '--policy', path, '--digest', digest, '--json')
    // sha512: alice (artifact) and bob (SRI); carol recorded blake2b only.
    for (const spelling of [`sha512:${sums.sha512}`, `SHA512:${sums.sha512.toUpperCase()}`, sri]) {
      const run = await verify(spelling)
      expectCode(run, 0)
      const answer = run.json() as { digest: string; count: number; parties: { name: string }[] }
      expect(answer.digest).toBe(`sha512:${sums.sha512}`)
      expect(answer.parties.map((p) => p.name)).toEqual(['alice', 'bob'])
    }
    // blake2b: alice and carol; sha256 (bare hex, uppercase): alice alone, below the threshold.
    const blake = await verify(`blake2b:${sums.blake2b}`)
    expectCode(blake, 0)
    expect((blake.json() as { parties: { name: string }[] }).parties.map((p) => p.name)).toEqual([
      'alice',
      'carol',
    ])
    const sha256 = await verify(sums.sha256.toUpperCase())
    expectCode(sha256, 1)
    expect((sha256.json() as { count: number }).count).toBe(1)
  })

  it('lookup finds an entry by each (algorithm, value) it carries', async () => {
    for (const digest of [`sha256:${sums.sha256}`, `sha512:${sums.sha512}`, `blake2b:${sums.blake2b}`]) {
      const response = await fetch(`${log.url}/api/v1/lookup?digest=${digest}`)
      expect(response.status).toBe(200)
      const body = (await response.json()) as { total: number }
      expect(body.total).toBeGreaterThan(0)
    }
  })

  it('a conflict is another digest in an algorithm both subjects name, not a different algorithm', async () => {
    // carol's blake2b-only entry does not conflict with bob's sha512-only one: no algorithm in common.
    const path = await policy(['alice', 'bob', 'carol'], 1)
    const clean = await attest('verify', '--log', log.url, '--policy', path, '--digest', sri, '--json')
    expectCode(clean, 0)
    expect((clean.json() as { conflicts: unknown[] }).conflicts).toEqual([])
    // Now carol logs the same name from the same commit with another sha512 (from other bytes).
    const other = coreutils('sha512sum', join(dir, 'other.tgz'))
    expectCode(await submit('carol', '--subject', `lib-2.0.tgz=sha512:${other}`), 0)
    const run = await attest('verify', '--log', log.url, '--policy', path, '--digest', sri, '--json')
    expectCode(run, 1)
    const answer = run.json() as { ok: boolean; conflicts: { party: string; digest: string }[] }
    expect(answer.ok).toBe(false)
    expect(answer.conflicts).toEqual([
      expect.objectContaining({ party: 'carol', digest: `sha512:${other}`, commit: COMMIT }),
    ])
  })

  it.each([
    ['sha1 SRI', `sha1-${Buffer.alloc(20).toString('base64')}`],
    ['md5', `md5:${'a'.repeat(32)}`],
    ['a short sha512', `sha512:${'a'.repeat(100)}`],
    ['garbage', 'not-a-digest'],
  ])('verify --digest refuses %s with exit 2, writing nothing', async (_label, digest) => {
    const path = await policy(['alice'], 1)
    const run = await attest('verify', '--log', log.url, '--policy', path, '--digest', digest, '--json')
    expectCode(run, 2)
    expect((run.json() as { error: { message: string } }).error.message).toContain(digest)
  })

  it.each([
    ['an SRI sha1 subject', `x=sha1-${Buffer.alloc(20).toString('base64')}`],
    ['a subject without a digest', 'x='],
    ['a subject without a name', `=sha256:${'a'.repeat(64)}`],
    ['an unknown --digest-algs', undefined],
  ])('submit refuses %s with exit 2', async (_label, subject) => {
    const args =
      subject === undefined
        ? ['--artifact', 'lib-2.0.tgz', '--digest-algs', 'sha256,md5']
        : ['--subject', subject]
    const run = await submit('alice', ...args)
    expectCode(run, 2)
  })
})
