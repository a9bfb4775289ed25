// `attest monitor` runs the same monitor as the service, in-process, with attest's exit codes.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningLog } from '@ledger/log-server'
import { cli, removeDir, startLog, tempDir } from './e2e-support.js'
import { newRebuilder, rebuildStatement, signSubmissionsFast, submitAll } from './support/load.js'

describe('attest monitor', () => {
  let dir: string
  let log: RunningLog
  let attest: ReturnType<typeof cli>

  beforeAll(async () => {
    dir = await tempDir('attest-monitor-')
    log = await startLog(join(dir, 'log'), 'monitor-cli.example/log')
    const results = await submitAll(log.url, signSubmissionsFast(newRebuilder(), 'mon', 0, 5))
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201, 201])
    attest = cli(dir)
  })

  afterAll(async () => {
    await log?.close()
    await removeDir(dir)
  })

  it('audits the whole log once and exits 0 with no alert', async () => {
    const run = await attest(
      'monitor',
      '--log',
      log.url,
      '--log-key',
      log.verifierKey,
      '--data',
      join(dir, 'm1'),
      '--once',
    )
    expect(run.stderr).toMatch(/5 entries verified, 0 alert/)
    expect(run.stdout).toBe('')
    expect(run.code).toBe(0)
  })

  it('exits 1 with one JSON alert line for a watched digest', async () => {
    const digest = `sha256:${rebuildStatement('mon', 3).subject[0]!.digest.sha256}`
    const run = await attest(
      'monitor',
      '--log',
      log.url,
      '--log-key',
      log.verifierKey,
      '--data',
      join(dir, 'm2'),
      '--once',
      '--watch-digest',
      digest,
    )
    const alerts = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; index?: number })
    expect(alerts.map((a) => a.type)).toEqual(['watched-entry'])
    expect(run.code).toBe(1)
  })

  it('exits 2 on a usage error and 4 when the log cannot be reached', async () => {
    expect((await attest('monitor', '--log', log.url)).code).toBe(2)
    const dead = await attest(
      'monitor',
      '--log',
      'http://127.0.0.1:1',
      '--log-key',
      log.verifierKey,
      '--data',
      join(dir, 'm3'),
      '--once',
    )
    expect(dead.code).toBe(4)
  })
})
