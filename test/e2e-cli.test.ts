// The CLI against a real log: trust on first use of the log key (and its refusal of a changed key),
// `attest lookup` and `attest log info`, and the bin run as a child process, as `npx attest` runs it.
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildLogTrustedRoot } from '@ledger/attestation'
import type { RunningLog } from '@ledger/log-server'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { cli, removeDir, startLog, tempDir, type CliRun } from './e2e-support.js'

const COMMIT = 'fe'.repeat(20)
const REPO = 'git+https://github.com/example/app'
const bin = fileURLToPath(new URL('../packages/cli/bin/attest.js', import.meta.url))

let dir: string
let attest: ReturnType<typeof cli>
const running: RunningLog[] = []

function expectCode(run: CliRun, code: number) {
  if (run.code !== code)
    throw new Error(`exit ${run.code}, expected ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`)
}

beforeEach(async () => {
  dir = await tempDir()
  attest = cli(dir)
  expectCode(await attest('keygen', '--out', 'k'), 0)
})

afterEach(async () => {
  for (const log of running.splice(0)) await log.close()
  await removeDir(dir)
})

async function start(data: string): Promise<RunningLog> {
  const log = await startLog(join(dir, data))
  running.push(log)
  return log
}

describe('trust on first use', () => {
  it('pins the key on first use, then refuses another key for the same origin (exit 3)', async () => {
    const first = await start('a')
    const submit = await attest(
      'submit',
      '--log',
      first.url,
      '--key',
      'k.key',
      '--subject',
      `x=sha256:${'11'.repeat(32)}`,
      '--repo',
      REPO,
      '--commit',
      COMMIT,
      '--receipt',
      'r.json',
    )
    expectCode(submit, 0)
    expect(submit.stderr).toContain('on first use')
    expect(submit.stderr).toContain(first.verifierKey)

    const again = await attest('log', 'info', '--log', first.url, '--json')
    expectCode(again, 0)
    expect(again.stderr).toBe('')
    expect(again.json()).toMatchObject({
      keySource: 'pinned',
      verifierKey: first.verifierKey,
      size: 1,
      previousSize: 1,
    })

    // Another log (a fresh key) under the same origin.
    const impostor = await start('b')
    expect(impostor.origin).toBe(first.origin)
    const refused = await attest('log', 'info', '--log', impostor.url, '--json')
    expectCode(refused, 3)
    expect(refused.json()).toMatchObject({
      error: { code: 'LOG_MISBEHAVING', evidence: { kind: 'key-changed' } },
    })
  })

  it('a pinned key that the log does not sign with is exit 3', async () => {
    const log = await start('a')
    const other = await start('b')
    const run = await attest('log', 'info', '--log', log.url, '--log-key', other.verifierKey)
    expectCode(run, 3)
  })
})

describe('lookup and log info', () => {
  it('lists verified entries, with parties when a policy names them', async () => {
    const log = await start('a')
    expectCode(await attest('keygen', '--out', 'j', '--type', 'ed25519'), 0)
    for (const key of ['k', 'j']) {
      const run = await attest(
        'submit',
        '--log',
        log.url,
        '--log-key',
        log.verifierKey,
        '--key',
        `${key}.key`,
        '--subject',
        `app=sha256:${'22'.repeat(32)}`,
        '--repo',
        REPO,
        '--commit',
        COMMIT,
        '--receipt',
        `${key}.json`,
      )
      expectCode(run, 0)
    }
    const keyIdOf = async (name: string) =>
      (
        (
          await attest('receipt', 'verify', `${name}.json`, '--log-key', log.verifierKey, '--json')
        ).json() as { keyId: string }
      ).keyId
    const policy = {
      log: { origin: log.origin, verifierKey: log.verifierKey },
      parties: [{ name: 'kay', keys: [await keyIdOf('k')] }],
      threshold: 1,
    }
    await writeFile(join(dir, 'policy.json'), JSON.stringify(policy))
    const run = await attest(
      'lookup',
      '--log',
      log.url,
      '--policy',
      'policy.json',
      '--commit',
      COMMIT,
      '--json',
    )
    expectCode(run, 0)
    const answer = run.json() as {
      total: number
      entries: { index: string; party: string | null; subjects: unknown[] }[]
    }
    expect(answer.total).toBe(2)
    expect(answer.entries.map((e) => [e.index, e.party])).toEqual([
      [0, 'kay'],
      [1, null],
    ])
    const human = await attest(
      'lookup',
      '--log',
      log.url,
      '--policy',
      'policy.json',
      '--digest',
      `sha256:${'22'.repeat(32)}`,
    )
    expectCode(human, 0)
    expect(human.stdout).toContain('2 verified entries')
    expect(human.stdout).toContain('(unknown)')
    const filtered = await attest(
      'lookup',
      '--log',
      log.url,
      '--log-key',
      log.verifierKey,
      '--commit',
      COMMIT,
      '--keyid',
      await keyIdOf('j'),
      '--json',
    )
    expect((filtered.json() as { entries: unknown[] }).entries).toHaveLength(1)

    const info = await attest('log', 'info', '--log', log.url, '--policy', 'policy.json')
    expectCode(info, 0)
    expect(info.stdout).toContain(`origin     ${log.origin}`)
    expect(info.stdout).toContain('tree size  2')
  })
})

function runBin(args: string[]): Promise<{ status: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      {
        cwd: dir,
        env: { ...process.env, XDG_STATE_HOME: join(dir, 'state') },
        encoding: 'utf8',
        timeout: 30_000,
      },
      (err, stdout) => resolve({ status: err ? Number((err as { code?: number }).code) : 0, stdout }),
    )
  })
}

describe('the trusted root', () => {
  it('the client builds from the log key alone what GET /api/v1/log publishes (but the creation time)', async () => {
    const log = await start('a')
    const published = (
      (await (await fetch(`${log.url}/api/v1/log`)).json()) as { trustedRoot: TrustedRootJSON }
    ).trustedRoot
    const built = buildLogTrustedRoot(log.verifierKey) as unknown as TrustedRootJSON
    const withoutStart = (root: TrustedRootJSON) => {
      const copy = structuredClone(root)
      for (const tlog of copy.tlogs) delete tlog.publicKey.validFor
      return copy
    }
    expect(withoutStart(built)).toEqual(withoutStart(published))
  })
})

interface TrustedRootJSON {
  tlogs: { publicKey: { validFor?: unknown } }[]
}

describe('the bin', () => {
  it('runs as a program and sets its exit code', async () => {
    const log = await start('a')
    // Asynchronously: the log answers from this process's event loop.
    const ok = await runBin(['log', 'info', '--log', log.url, '--log-key', log.verifierKey])
    expect(ok.status).toBe(0)
    expect(ok.stdout).toContain('checkpoint verified')
    expect((await runBin(['verify'])).status).toBe(2)
  })
})
