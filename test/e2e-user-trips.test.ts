// What a new user tripped on (issue 11, item 5), each as the user met it: `attest` against real logs.
import { existsSync } from 'node:fs'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningLog } from '@ledger/log-server'
import { cli, removeDir, startLog, tempDir } from './e2e-support.js'
import { newRebuilder, rebuildStatement, signSubmissionsFast, submitAll } from './support/load.js'

const ORIGIN = 'trips.example/log'
let dir: string
let log: RunningLog
let attest: ReturnType<typeof cli>

beforeAll(async () => {
  dir = await tempDir('attest-trips-')
  log = await startLog(join(dir, 'log'), ORIGIN)
  const results = await submitAll(log.url, signSubmissionsFast(newRebuilder(), 'trips', 0, 3))
  expect(results.map((r) => r.status)).toEqual([201, 201, 201])
  attest = cli(dir)
})

afterAll(async () => {
  await log?.close()
  await removeDir(dir)
})

interface ErrorJSON {
  error: { code: string; message: string; evidence?: unknown }
  exitCode: number
}

describe('the command line', () => {
  it('attest --version prints the version', async () => {
    const run = await attest('--version')
    expect(run.code).toBe(0)
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
  })

  it('parser errors under --json print the error object on stdout, with a specific code', async () => {
    const unknown = await attest('log', 'info', '--log', log.url, '--bogus', '--json')
    expect(unknown.code).toBe(2)
    expect((unknown.json() as ErrorJSON).error.code).toBe('UNKNOWN_OPTION')
    const missing = await attest('submit', '--log', log.url, '--json')
    expect(missing.code).toBe(2)
    expect((missing.json() as ErrorJSON).error.code).toBe('MISSING_OPTION')
    const digest = await attest('lookup', '--log', log.url, '--digest', 'sha256:xyz', '--json')
    expect((digest.json() as ErrorJSON).error.code).toBe('INVALID_DIGEST')
    const file = await attest(
      'verify',
      '--log',
      log.url,
      '--policy',
      'nope.json',
      '--digest',
      `sha256:${'a'.repeat(64)}`,
      '--json',
    )
    expect((file.json() as ErrorJSON).error.code).toBe('FILE_UNREADABLE')
  })

  it('a wrong log URL path (404) is a refused request: exit 2', async () => {
    const run = await attest('log', 'info', '--log', `${log.url}/wrong/path`, '--json')
    expect(run.code).toBe(2)
    expect((run.json() as ErrorJSON).error.code).toBe('NOT_FOUND')
  })

  it('log info --json gives sizes as numbers, as the API does', async () => {
    const run = await attest('log', 'info', '--log', log.url, '--json')
    expect(run.code).toBe(0)
    expect((run.json() as { size: unknown }).size).toBe(3)
  })

  it('names a misspelled policy key, without stacked error prefixes', async () => {
    await writeFile(
      join(dir, 'typo.json'),
      JSON.stringify({
        log: { origin: ORIGIN, verifierKey: log.verifierKey },
        parties: [{ name: 'a', keys: ['b'.repeat(64)] }],
        treshold: 1,
      }),
    )
    const run = await attest(
      'verify',
      '--log',
      log.url,
      '--policy',
      'typo.json',
      '--digest',
      `sha256:${'a'.repeat(64)}`,
    )
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('unknown key "treshold"')
    expect(run.stderr).not.toContain('SCHEMA_INVALID')
    expect(run.stderr.match(/[A-Z_]{6,}:/g) ?? []).toHaveLength(1)
  })

  it('takes uppercase hex digests and commits, as their lowercase form', async () => {
    const statement = rebuildStatement('trips', 1)
    const hex = statement.subject[0]!.digest.sha256!
    const lower = await attest('lookup', '--log', log.url, '--digest', `sha256:${hex}`, '--json')
    const upper = await attest(
      'lookup',
      '--log',
      log.url,
      '--digest',
      `sha256:${hex.toUpperCase()}`,
      '--json',
    )
    expect(upper.code).toBe(0)
    expect(upper.stdout).toBe(lower.stdout)
  })

  it('ATTEST_LOG, ATTEST_POLICY and ATTEST_STATE are the defaults of --log, --policy and --state', async () => {
    await writeFile(
      join(dir, 'env-policy.json'),
      JSON.stringify({
        log: { origin: ORIGIN, verifierKey: log.verifierKey },
        parties: [{ name: 'a', keys: ['b'.repeat(64)] }],
        threshold: 1,
      }),
    )
    const withEnv = cli(dir, {
      ATTEST_LOG: log.url,
      ATTEST_POLICY: join(dir, 'env-policy.json'),
      ATTEST_STATE: join(dir, 'env-state'),
    })
    const info = await withEnv('log', 'info', '--json')
    expect(info.code).toBe(0)
    // Pinned by the policy (not trusted on first use), and remembered in $ATTEST_STATE.
    expect(info.stderr).not.toContain('first use')
    expect(await readdir(join(dir, 'env-state'))).toHaveLength(1)
    const verify = await withEnv('verify', '--digest', `sha256:${'a'.repeat(64)}`, '--json')
    expect(verify.code).toBe(1)
    const help = await attest('--help')
    for (const name of ['ATTEST_LOG', 'ATTEST_POLICY', 'ATTEST_STATE']) expect(help.stdout).toContain(name)
  })
})

describe('a log that started over', () => {
  it('the rollback names the state file and `attest state forget`, which forgets it on purpose', async () => {
    const origin = 'trips.example/again'
    const first = await startLog(join(dir, 'again-1'), origin)
    await submitAll(first.url, signSubmissionsFast(newRebuilder(), 'again', 0, 3))
    expect((await attest('log', 'info', '--log', first.url, '--log-key', first.verifierKey)).code).toBe(0)
    await first.close()
    // `rm -rf demo` and the walkthrough again: a new log of the same origin (a new key), smaller.
    const second = await startLog(join(dir, 'again-2'), origin)
    try {
      const refused = await attest('log', 'info', '--log', second.url, '--log-key', second.verifierKey)
      expect(refused.code).toBe(3)
      const stateFile = /kept in (\S+);/.exec(refused.stderr)?.[1]
      expect(stateFile).toBeDefined()
      expect(existsSync(stateFile!)).toBe(true)
      expect(refused.stderr).toContain(`attest state forget ${origin}`)

      const forget = await attest('state', 'forget', origin)
      expect(forget.code).toBe(0)
      expect(existsSync(stateFile!)).toBe(false)
      // Kept as evidence, renamed.
      expect((await readdir(join(dir, 'state', 'attest'))).some((f) => f.includes('.forgotten-'))).toBe(true)
      expect((await attest('log', 'info', '--log', second.url, '--log-key', second.verifierKey)).code).toBe(0)
      expect((await attest('state', 'forget', 'nobody.example/log', '--json')).code).toBe(2)
    } finally {
      await second.close()
    }
  })
})
