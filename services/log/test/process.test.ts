// `npm start` as a child process (the built dist/main.js): flags, the machine-readable listening line,
// SIGTERM finishing the queued work, exit codes of refused starts.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { startLogServer } from '../src/server.js'
import { hex, post, signed, statement, tempDir, testConfig, verifyWholeLog, type Json } from './helpers.js'

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url))
/** Submissions queued when SIGTERM comes. */
const QUEUE = 20

let dir: { path: string; remove: () => Promise<void> }
const children: ChildProcess[] = []

beforeEach(async () => {
  dir = await tempDir()
})

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
  await dir.remove()
})

interface Run {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exit: Promise<number | null>
}

function run(args: string[]): Run {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  let err = ''
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')))
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')))
  const exit = once(child, 'exit').then(([code]) => code as number | null)
  return { child, stdout: () => out, stderr: () => err, exit }
}

/** The URL of the `listening` line, once printed (however long it takes); rejects if the server exits. */
async function listening(r: Run): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = /^listening (http:\/\/127\.0\.0\.1:\d+)$/m.exec(r.stdout())
      if (match) {
        r.child.stdout!.off('data', check)
        resolve(match[1]!)
      }
    }
    r.child.stdout!.on('data', check)
    check()
    void r.exit.then(() => reject(new Error(`server exited: ${r.stderr()}`)))
  })
}

describe('main.ts', () => {
  test('--help prints the options and exits 0; a bad flag exits 2', async () => {
    const help = run(['--help'])
    expect(await help.exit).toBe(0)
    expect(help.stdout()).toContain('--data PATH')
    expect(help.stdout()).toContain('--verify-workers N')
    const bad = run(['--port', 'eighty'])
    expect(await bad.exit).toBe(2)
    expect(bad.stderr()).toContain('--port')
  })

  test('SIGTERM commits and answers the queued submissions, then exits 0; restarts keep them', async () => {
    const server = run([
      '--data',
      dir.path,
      '--port',
      '0',
      '--origin',
      'process.test/log',
      '--batch-wait-ms',
      '10000',
      '--verify-workers',
      '1',
      '--queue-limit',
      String(QUEUE),
    ])
    const url = await listening(server)
    expect(server.stdout()).toMatch(/^origin process\.test\/log$/m)
    const verifierKey = /^verifier key (\S+)$/m.exec(server.stdout())![1]!
    // Rounds of QUEUE submissions until one round is all admitted at once (being verified, or queued for
    // the 10 s batch timer) when SIGTERM comes. A probe with the wrong media type tells: while QUEUE are in
    // progress it is refused 503 OVERLOADED (--queue-limit), else admitted and answered 415. A round whose
    // batch timer fired first (a very slow machine) is simply committed; the next round tries again.
    let round = 0
    let answers: Promise<{ status: number; json: Json }[]>
    for (;;) {
      const bodies = await Promise.all(
        Array.from({ length: QUEUE }, (_, i) => signed(statement([hex(round * QUEUE + i)], hex(i, 40)))),
      )
      round++
      answers = Promise.all(bodies.map((b) => post(url, b.body)))
      let settled = false
      void answers.then(() => (settled = true))
      let allQueued = false
      while (!settled) {
        const probe = await post(url, 'probe', 'text/plain')
        if (probe.status === 503) {
          expect((probe.json as { error: { code: string } }).error.code).toBe('OVERLOADED')
          allQueued = true
          break
        }
        expect(probe.status).toBe(415)
      }
      if (allQueued) break
      expect((await answers).map((a) => a.status)).toEqual(Array(QUEUE).fill(201))
    }
    server.child.kill('SIGTERM')
    // Shutdown commits what is queued without waiting for the batch timer, and answers every one of them.
    const statuses = (await answers).map((a) => a.status)
    expect(statuses).toEqual(Array(QUEUE).fill(201))
    expect(await server.exit).toBe(0)
    expect(server.stdout()).toContain('stopped')

    // A different origin on the same data is refused with a clear error and a non-zero exit.
    const refused = run(['--data', dir.path, '--port', '0', '--origin', 'other.test/log'])
    expect(await refused.exit).toBe(1)
    expect(refused.stderr()).toMatch(/^error: .*other\.test\/log/m)

    const log = await startLogServer(testConfig(dir.path, { origin: 'process.test/log' }))
    try {
      expect(log.verifierKey).toBe(verifierKey)
      expect((await verifyWholeLog(log.url, log.verifierKey)).size).toBe(BigInt(round * QUEUE))
    } finally {
      await log.close()
    }
  })
})
