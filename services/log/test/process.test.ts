// `npm start` as a child process (the built dist/main.js): flags, the machine-readable listening line,
// SIGTERM finishing the queued work, exit codes of refused starts.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { startLogServer } from '../src/server.js'
import { hex, post, signed, statement, tempDir, testConfig, verifyWholeLog } from './helpers.js'

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url))

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

async function listening(r: Run): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const match = /^listening (http:\/\/127\.0\.0\.1:\d+)$/m.exec(r.stdout())
    if (match) return match[1]!
    if (r.child.exitCode !== null) throw new Error(`server exited: ${r.stderr()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error('server did not print its listening line')
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
      '5000',
      '--verify-workers',
      '1',
    ])
    const url = await listening(server)
    expect(server.stdout()).toMatch(/^origin process\.test\/log$/m)
    const verifierKey = /^verifier key (\S+)$/m.exec(server.stdout())![1]!
    const bodies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => signed(statement([hex(i)], hex(i, 40)))),
    )
    const answers = Promise.all(bodies.map((b) => post(url, b.body)))
    // Give the submissions time to be verified and queued: the batch would wait 5 s for company.
    await new Promise((resolve) => setTimeout(resolve, 700))
    const signalled = Date.now()
    server.child.kill('SIGTERM')
    const statuses = (await answers).map((a) => a.status)
    expect(statuses).toEqual(Array(20).fill(201))
    expect(await server.exit).toBe(0)
    // It did not wait for the batch timer: shutdown flushes the queue.
    expect(Date.now() - signalled).toBeLessThan(4000)
    expect(server.stdout()).toContain('stopped')

    // A different origin on the same data is refused with a clear error and a non-zero exit.
    const refused = run(['--data', dir.path, '--port', '0', '--origin', 'other.test/log'])
    expect(await refused.exit).toBe(1)
    expect(refused.stderr()).toMatch(/^error: .*other\.test\/log/m)

    const log = await startLogServer(testConfig(dir.path, { origin: 'process.test/log' }))
    try {
      expect(log.verifierKey).toBe(verifierKey)
      expect((await verifyWholeLog(log.url, log.verifierKey)).size).toBe(20n)
    } finally {
      await log.close()
    }
  })
})
