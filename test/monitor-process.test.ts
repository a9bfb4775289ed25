// The monitor run exactly as the README and `attest monitor --help` say: the built entry points as child
// processes, with the default options (verify workers: one per CPU), against a real log. Each run must
// audit the log and print its summary; an exit code never says "clean" when nothing was checked.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningLog } from '@ledger/log-server'
import { removeDir, startLog, tempDir } from './e2e-support.js'
import { newRebuilder, signSubmissionsFast, submitAll } from './support/load.js'

const MONITOR_MAIN = fileURLToPath(new URL('../services/monitor/dist/main.js', import.meta.url))
const ATTEST_BIN = fileURLToPath(new URL('../packages/cli/bin/attest.js', import.meta.url))
const ENTRIES = 300

interface Child {
  exited: Promise<number | null>
  stderr(): string
  stdout(): string
  /** Resolves once stderr matches `pattern`; rejects if the process exits first. */
  waitForStderr(pattern: RegExp): Promise<void>
  kill(signal: NodeJS.Signals): void
}

function run(script: string, args: readonly string[]): Child {
  if (!existsSync(script)) throw new Error(`${script} is missing: build first with \`npx tsc -b\``)
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  const waiters: { pattern: RegExp; resolve: () => void }[] = []
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')))
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8')
    for (const w of waiters.splice(0)) {
      if (w.pattern.test(err)) w.resolve()
      else waiters.push(w)
    }
  })
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  return {
    exited,
    stderr: () => err,
    stdout: () => out,
    waitForStderr: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(err)) return resolve()
        waiters.push({ pattern, resolve })
        void exited.then((code) => reject(new Error(`exited ${code} before ${pattern}: ${err}`)))
      }),
    kill: (signal) => child.kill(signal),
  }
}

describe('the monitor as a user runs it (default workers)', () => {
  let dir: string
  let log: RunningLog

  beforeAll(async () => {
    dir = await tempDir('monitor-process-')
    log = await startLog(join(dir, 'log'), 'monitor-process.example/log')
    const results = await submitAll(log.url, signSubmissionsFast(newRebuilder(), 'mp', 0, ENTRIES))
    expect(results.every((r) => r.status === 201)).toBe(true)
  })

  afterAll(async () => {
    await log?.close()
    await removeDir(dir)
  })

  const summary = new RegExp(`at size ${ENTRIES}, ${ENTRIES} entries verified, 0 alert`)

  it('npm run start:monitor -- ... --once audits every entry and exits 0', async () => {
    const child = run(MONITOR_MAIN, [
      '--log',
      log.url,
      '--log-key',
      log.verifierKey,
      '--data',
      join(dir, 'once'),
      '--once',
    ])
    const code = await child.exited
    expect(child.stderr()).toMatch(summary)
    expect(code).toBe(0)
  })

  it('attest monitor ... --once audits every entry and exits 0', async () => {
    const child = run(ATTEST_BIN, [
      'monitor',
      '--log',
      log.url,
      '--log-key',
      log.verifierKey,
      '--data',
      join(dir, 'attest'),
      '--once',
    ])
    const code = await child.exited
    expect(child.stderr()).toMatch(summary)
    expect(code).toBe(0)
  })

  it('npm run start:monitor -- ... (README step 3) follows the log until SIGTERM', async () => {
    const child = run(MONITOR_MAIN, [
      '--log',
      log.url,
      '--log-key',
      log.verifierKey,
      '--data',
      join(dir, 'follow'),
    ])
    await child.waitForStderr(summary)
    child.kill('SIGTERM')
    expect(await child.exited).toBe(0)
    expect(child.stdout()).toBe('')
  })
})
