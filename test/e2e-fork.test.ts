// Acceptance (issue #5): a client that has seen one history of a log refuses another. Two ways to show it
// one: a second log started with the same key on a different history, and a log whose data directory was
// rolled back to an older copy (copied while stopped, more submitted, stopped, copy restored, restarted).
// Either way `attest` exits 3 and names what it caught; the evidence is two checkpoints signed by the log.
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RunningLog } from '@ledger/log-server'
import { openNote, parseCheckpoint, parseVerifierKey } from '@ledger/tlog'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { cli, removeDir, startLog, tempDir, type CliRun } from './e2e-support.js'

const COMMIT = 'c0ffee'.repeat(6) + 'c0ff'
const REPO = 'git+https://github.com/example/app'

let dir: string
let attest: ReturnType<typeof cli>
const running: RunningLog[] = []

function expectCode(run: CliRun, code: number) {
  if (run.code !== code)
    throw new Error(`exit ${run.code}, expected ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`)
}

/** `newIdentity`: the data dir holds a key copied from another log, started on an empty store on purpose. */
async function start(dataDir: string, newIdentity = false): Promise<RunningLog> {
  const log = await startLog(join(dir, dataDir), undefined, 0, { newIdentity })
  running.push(log)
  return log
}

async function stop(log: RunningLog): Promise<void> {
  await log.close()
  running.splice(running.indexOf(log), 1)
}

/**
 * Submits `n` distinct statements with `key` (subjects named after `tag`), as a rebuilder with its own state
 * dir: a rebuilder that has not seen the other history (the installer's state is the default one).
 */
async function submitMany(log: RunningLog, key: string, tag: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const digest = (tag.charCodeAt(0).toString(16).padStart(2, '0') + i.toString(16).padStart(2, '0')).repeat(
      16,
    )
    const run = await attest(
      'submit',
      '--log',
      log.url,
      '--key',
      key,
      '--subject',
      `${tag}-${i}=sha256:${digest}`,
      '--repo',
      REPO,
      '--commit',
      COMMIT,
      '--log-key',
      log.verifierKey,
      '--receipt',
      `receipt-${tag}-${i}.json`,
      '--state',
      `rebuilder-state-${tag}`,
    )
    expectCode(run, 0)
  }
}

/** What an installer runs: the log's checkpoint, checked against the stored one. */
const logInfo = (log: RunningLog, verifierKey = log.verifierKey) =>
  attest('log', 'info', '--log', log.url, '--log-key', verifierKey, '--json')

function evidenceOf(run: CliRun, verifierKey: string) {
  const { error } = run.json() as {
    error: { code: string; evidence: { kind: string; trusted: string; received: string } }
  }
  expect(error.code).toBe('LOG_MISBEHAVING')
  const verifier = parseVerifierKey(verifierKey)
  // Both checkpoints carry the log's valid signature: together they prove the log showed two histories.
  const trusted = parseCheckpoint(openNote(error.evidence.trusted, [verifier]).text)
  const received = parseCheckpoint(openNote(error.evidence.received, [verifier]).text)
  return { kind: error.evidence.kind, trusted, received }
}

beforeEach(async () => {
  dir = await tempDir()
  attest = cli(dir)
  expectCode(await attest('keygen', '--out', 'rebuilder'), 0)
})

afterEach(async () => {
  for (const log of [...running]) await stop(log)
  await removeDir(dir)
})

describe('fork and rollback detection (acceptance)', () => {
  it('a second log with the same key on a different history: exit 3, fork', async () => {
    const first = await start('first')
    await submitMany(first, 'rebuilder.key', 'a', 3)
    expectCode(await logInfo(first), 0)
    await stop(first)

    // Same key and origin, another history.
    await mkdir(join(dir, 'second'))
    await cp(join(dir, 'first', 'log.key'), join(dir, 'second', 'log.key'))
    const second = await start('second', true)
    expect(second.verifierKey).toBe(first.verifierKey)
    await submitMany(second, 'rebuilder.key', 'b', 3)

    const run = await logInfo(second, first.verifierKey)
    expectCode(run, 3)
    expect(run.stderr).toMatch(/fork/)
    const evidence = evidenceOf(run, first.verifierKey)
    expect(evidence.kind).toBe('fork')
    expect(evidence.trusted.size).toBe(evidence.received.size)

    // A rebuilder that saw the first history refuses the second one too: its submission gets logged, but
    // the receipt is refused before it is trusted or saved.
    const submitter = await attest(
      'submit',
      '--log',
      second.url,
      '--key',
      'rebuilder.key',
      '--subject',
      `x=sha256:${'ee'.repeat(32)}`,
      '--repo',
      REPO,
      '--commit',
      COMMIT,
      '--log-key',
      second.verifierKey,
      '--state',
      'rebuilder-state-a',
    )
    expectCode(submitter, 3)

    // And it grows past what the client saw: the consistency proof cannot hold. (The refused submission
    // above was logged by the second log before its receipt was refused: 4 entries, now 6.)
    await submitMany(second, 'rebuilder.key', 'c', 2)
    const later = await logInfo(second, first.verifierKey)
    expectCode(later, 3)
    expect(later.stderr).toMatch(/fork/)
    expect(evidenceOf(later, first.verifierKey).received.size).toBe(6n)
  })

  it('a log whose data dir was rolled back: exit 3, rollback; then fork once it grows again', async () => {
    let log = await start('data')
    await submitMany(log, 'rebuilder.key', 'a', 2)
    await stop(log)
    await cp(join(dir, 'data'), join(dir, 'data-copy'), { recursive: true })

    log = await start('data')
    await submitMany(log, 'rebuilder.key', 'b', 2)
    // An installer sees size 4 and remembers it.
    await writeFile(
      join(dir, 'policy.json'),
      JSON.stringify({
        log: { origin: log.origin, verifierKey: log.verifierKey },
        parties: [{ name: 'rebuilder', keys: [await readFile(join(dir, 'rebuilder.pub'), 'utf8')] }],
        threshold: 1,
      }),
    )
    const digestB = `sha256:${('62' + '00').repeat(16)}`
    expectCode(await attest('verify', '--log', log.url, '--policy', 'policy.json', '--digest', digestB), 0)
    await stop(log)

    await rm(join(dir, 'data'), { recursive: true })
    await cp(join(dir, 'data-copy'), join(dir, 'data'), { recursive: true })
    log = await start('data')

    const rolledBack = await attest(
      'verify',
      '--log',
      log.url,
      '--policy',
      'policy.json',
      '--digest',
      digestB,
      '--json',
    )
    expectCode(rolledBack, 3)
    const evidence = evidenceOf(rolledBack, log.verifierKey)
    expect(evidence.kind).toBe('rollback')
    expect([evidence.trusted.size, evidence.received.size]).toEqual([4n, 2n])
    const human = await attest('verify', '--log', log.url, '--policy', 'policy.json', '--digest', digestB)
    expectCode(human, 3)
    expect(human.stderr).toMatch(/rolled back/)

    // The rolled-back log takes new submissions and grows past 4: another history, so a fork.
    await submitMany(log, 'rebuilder.key', 'c', 3)
    const forked = await attest(
      'verify',
      '--log',
      log.url,
      '--policy',
      'policy.json',
      '--digest',
      digestB,
      '--json',
    )
    expectCode(forked, 3)
    expect(evidenceOf(forked, log.verifierKey).kind).toBe('fork')
  })

  it('a client without state (another state dir) is not fooled into failing: it starts from the log', async () => {
    const log = await start('data')
    await submitMany(log, 'rebuilder.key', 'a', 1)
    const run = await attest(
      'log',
      'info',
      '--log',
      log.url,
      '--log-key',
      log.verifierKey,
      '--state',
      'elsewhere',
    )
    expectCode(run, 0)
    expect(run.stdout).toContain('first checkpoint seen')
  })
})
