// Acceptance (issue #5): four parties, one with two keys, attest the same artifact; a key outside the policy
// attests it too; one party rebuilt the same commit into another hash. `attest verify` counts parties, lists
// the unknown key, reports the conflict, and its exit codes follow the documented rules. Real server, real
// keys (made by `attest keygen`), real files.
import { createHash } from 'node:crypto'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RunningLog } from '@ledger/log-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, removeDir, startLog, tempDir, type CliRun } from './e2e-support.js'

const COMMIT = '1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c'
const REPO = 'git+https://github.com/example/app'

let dir: string
let log: RunningLog
let attest: ReturnType<typeof cli>
let goodHash: string
let badHash: string
const keyIds: Record<string, string> = {}

function expectCode(run: CliRun, code: number) {
  if (run.code !== code)
    throw new Error(`exit ${run.code}, expected ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`)
}

beforeAll(async () => {
  dir = await tempDir()
  log = await startLog(join(dir, 'log-data'))
  attest = cli(dir)
  // The artifact as most rebuilders produced it, and the one dave got from the same commit.
  await writeFile(join(dir, 'app.tar.gz'), 'the reproducible bytes\n')
  await writeFile(join(dir, 'dave-app.tar.gz'), 'bytes with a timestamp in them\n')
  goodHash = createHash('sha256').update('the reproducible bytes\n').digest('hex')
  badHash = createHash('sha256').update('bytes with a timestamp in them\n').digest('hex')

  for (const name of ['alice', 'bob1', 'bob2', 'carol', 'dave', 'mallory']) {
    const run = await attest(
      'keygen',
      '--out',
      name,
      '--json',
      ...(name === 'bob2' ? ['--type', 'ed25519'] : []),
    )
    expectCode(run, 0)
    keyIds[name] = (run.json() as { keyId: string }).keyId
  }
  const submit = async (name: string, artifact: string[]) => {
    const run = await attest(
      'submit',
      '--log',
      log.url,
      '--key',
      `${name}.key`,
      ...artifact,
      '--repo',
      REPO,
      '--commit',
      COMMIT,
      '--log-key',
      log.verifierKey,
      '--receipt',
      `${name}.receipt.json`,
      '--json',
    )
    expectCode(run, 0)
    return run.json() as { index: number; created: boolean }
  }
  for (const name of ['alice', 'bob1', 'bob2', 'carol', 'mallory'])
    await submit(name, ['--artifact', 'app.tar.gz'])
  await submit('dave', ['--subject', `app.tar.gz=sha256:${badHash}`])

  const pub = async (name: string) => readFile(join(dir, `${name}.pub`), 'utf8')
  const parties = [
    { name: 'alice', keys: [await pub('alice')] },
    { name: 'bob', keys: [keyIds['bob1'], await pub('bob2')] },
    { name: 'carol', keys: [keyIds['carol']] },
    { name: 'dave', keys: [keyIds['dave']] },
  ]
  const policy = (p: typeof parties) =>
    JSON.stringify(
      { log: { origin: log.origin, verifierKey: log.verifierKey }, parties: p, threshold: 2 },
      null,
      2,
    )
  await writeFile(join(dir, 'policy.json'), policy(parties))
  await writeFile(join(dir, 'policy-no-dave.json'), policy(parties.filter((p) => p.name !== 'dave')))
})

afterAll(async () => {
  await log?.close()
  await removeDir(dir)
})

describe('attest verify (acceptance)', () => {
  it('counts parties not keys, lists the unknown key, reports the conflict, and exits 1', async () => {
    const run = await attest(
      'verify',
      '--log',
      log.url,
      '--policy',
      'policy.json',
      '--digest',
      `sha256:${goodHash}`,
      '--threshold',
      '3',
      '--json',
    )
    expectCode(run, 1)
    const answer = run.json() as {
      count: number
      threshold: number
      ok: boolean
      parties: { name: string; keyids: string[]; entries: number[] }[]
      conflicts: { party: string; keyid: string; subject: string; digest: string; commit: string }[]
      unknown: { count: number; keyids: string[]; notFetched: number }
      checkpoint: string
    }
    expect(answer.count).toBe(3)
    expect(answer.threshold).toBe(3)
    expect(answer.ok).toBe(false)
    expect(answer.parties.map((p) => p.name)).toEqual(['alice', 'bob', 'carol'])
    expect(answer.parties[1]!.keyids).toEqual([keyIds['bob1'], keyIds['bob2']].sort())
    expect(answer.parties[1]!.entries).toHaveLength(2)
    expect(answer.unknown).toEqual({ count: 1, keyids: [keyIds['mallory']], notFetched: 0 })
    expect(answer.conflicts).toEqual([
      expect.objectContaining({
        party: 'dave',
        keyid: keyIds['dave'],
        subject: 'app.tar.gz',
        digest: `sha256:${badHash}`,
        commit: COMMIT,
      }),
    ])
    expect(answer.checkpoint.startsWith(`${log.origin}\n6\n`)).toBe(true)
  })

  it('prints a readable answer naming the conflict and the unknown key', async () => {
    const run = await attest(
      'verify',
      '--log',
      log.url,
      '--policy',
      'policy.json',
      '--artifact',
      'app.tar.gz',
      '--threshold',
      '3',
    )
    expectCode(run, 1)
    expect(run.stdout).toContain('reproduced by 3 of the 3 parties required: NOT OK (conflict)')
    expect(run.stdout).toContain('CONFLICTS')
    expect(run.stdout).toContain('dave')
    expect(run.stdout).toContain(keyIds['mallory'])
  })

  it('exits 0 when the threshold is met and no trusted party conflicts', async () => {
    const run = await attest(
      'verify',
      '--log',
      log.url,
      '--policy',
      'policy-no-dave.json',
      '--artifact',
      'app.tar.gz',
      '--threshold',
      '3',
    )
    expectCode(run, 0)
    expect(run.stdout).toContain(': OK')
  })

  it('exits 1 when the threshold is not met', async () => {
    const run = await attest(
      'verify',
      '--log',
      log.url,
      '--policy',
      'policy-no-dave.json',
      '--digest',
      `sha256:${goodHash}`,
      '--threshold',
      '4',
      '--json',
    )
    expectCode(run, 1)
    expect((run.json() as { count: number; ok: boolean }).count).toBe(3)
  })

  it('counts only rebuilds from the given commit', async () => {
    const other = 'ab'.repeat(20)
    const run = await attest(
      'verify',
      '--log',
      log.url,
      '--policy',
      'policy-no-dave.json',
      '--digest',
      `sha256:${goodHash}`,
      '--commit',
      other,
      '--json',
    )
    expectCode(run, 1)
    expect((run.json() as { count: number }).count).toBe(0)
  })

  it('exits 2 on usage and input errors', async () => {
    expectCode(await attest('verify', '--log', log.url, '--digest', `sha256:${goodHash}`), 2) // no --policy
    expectCode(
      await attest('verify', '--log', log.url, '--policy', 'policy.json', '--digest', 'sha256:1234'),
      2,
    )
    expectCode(
      await attest('verify', '--log', log.url, '--policy', 'missing.json', '--digest', `sha256:${goodHash}`),
      2,
    )
    await writeFile(join(dir, 'broken-policy.json'), '{"log": {}}')
    expectCode(
      await attest(
        'verify',
        '--log',
        log.url,
        '--policy',
        'broken-policy.json',
        '--digest',
        `sha256:${goodHash}`,
      ),
      2,
    )
    expectCode(
      await attest('verify', '--log', log.url, '--policy', 'policy.json', '--artifact', 'no-such-file'),
      2,
    )
    expectCode(await attest('frobnicate'), 2)
  })

  it('exits 4 when the log cannot be reached', async () => {
    const run = await attest(
      'verify',
      '--log',
      'http://127.0.0.1:9',
      '--policy',
      'policy.json',
      '--digest',
      `sha256:${goodHash}`,
      '--timeout',
      '2',
    )
    expectCode(run, 4)
  })

  it('keygen refused to overwrite, and wrote a private key only its owner can read', async () => {
    expectCode(await attest('keygen', '--out', 'alice'), 2)
    expect((await stat(join(dir, 'alice.key'))).mode & 0o777).toBe(0o600)
  })

  it('resubmitting the same statement returns the same index', async () => {
    const run = await attest(
      'submit',
      '--log',
      log.url,
      '--key',
      'alice.key',
      '--artifact',
      'app.tar.gz',
      '--repo',
      REPO,
      '--commit',
      COMMIT,
      '--log-key',
      log.verifierKey,
      '--receipt',
      'again.json',
      '--json',
    )
    expectCode(run, 0)
    const first = JSON.parse(await readFile(join(dir, 'alice.receipt.json'), 'utf8')) as {
      verificationMaterial: { tlogEntries: { logIndex: string }[] }
    }
    const again = run.json() as { index: number; created: boolean }
    expect(again.created).toBe(false)
    expect(String(again.index)).toBe(first.verificationMaterial.tlogEntries[0]!.logIndex)
  })
})
