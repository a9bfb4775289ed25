// The HTTP edges of the services, run as an operator runs them (the built log and witness as child
// processes, limits given as flags): clients that send their headers one byte at a time are answered 408
// and closed; one address gets at most --max-connections-per-client connections; a 10 MB submission is
// answered 413, and the client, still sending, reads that answer (not EPIPE or a reset).
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateNoteKey } from '@ledger/tlog'
import { removeDir, tempDir } from './e2e-support.js'
import { spawnLog, spawnService, WITNESS_MAIN, type LogChild } from './support/log-process.js'

let dir: string
const children: LogChild[] = []

beforeAll(async () => {
  dir = await tempDir('http-edges-')
})

afterAll(async () => {
  for (const child of children) await child.kill9()
  await removeDir(dir)
})

async function start(child: LogChild): Promise<{ host: string; port: number }> {
  children.push(child)
  const url = new URL(await child.listening)
  return { host: url.hostname, port: Number(url.port) }
}

interface Connection {
  socket: Socket
  /** Everything the server sent. */
  received(): string
  /** Resolves when the server closed the connection (or it failed). */
  closed: Promise<void>
}

async function open(to: { host: string; port: number }): Promise<Connection> {
  const socket = connect(to.port, to.host)
  let data = ''
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')))
  socket.on('error', () => undefined)
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return { socket, received: () => data, closed }
}

/** Sends `head` one byte every 200 ms until the server closes the connection. */
function trickle(connection: Connection, head: string): void {
  let at = 0
  const timer = setInterval(() => {
    if (connection.socket.destroyed || at >= head.length) return clearInterval(timer)
    connection.socket.write(head[at++]!)
  }, 200)
  void connection.closed.then(() => clearInterval(timer))
}

/** The status line and body of a raw HTTP answer (the first one). */
function answer(raw: string): { status: number; body: string } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0)
  return { status, body: raw.slice(raw.indexOf('\r\n\r\n') + 4) }
}

/** POSTs `size` bytes with a Content-Length, honouring backpressure; returns what the server answered. */
async function bigPost(to: { host: string; port: number }, path: string, size: number, type: string) {
  const connection = await open(to)
  const head = `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: ${size}\r\n\r\n`
  let writeError: string | undefined
  connection.socket.on('error', (err: NodeJS.ErrnoException) => (writeError ??= err.code ?? err.message))
  connection.socket.write(head)
  const chunk = Buffer.alloc(64 * 1024, 0x7b)
  for (let sent = 0; sent < size && !connection.socket.destroyed; sent += chunk.length) {
    const part = chunk.subarray(0, Math.min(chunk.length, size - sent))
    if (!connection.socket.write(part)) {
      await new Promise<void>((resolve) => {
        connection.socket.once('drain', resolve)
        connection.socket.once('close', resolve)
      })
    }
  }
  // Reads until the answer is complete (or the connection closes).
  await new Promise<void>((resolve) => {
    const check = () => {
      const raw = connection.received()
      const length = /content-length: (\d+)/i.exec(raw)?.[1]
      const start = raw.indexOf('\r\n\r\n')
      if (length !== undefined && start >= 0 && raw.length >= start + 4 + Number(length)) resolve()
    }
    connection.socket.on('data', check)
    void connection.closed.then(resolve)
    check()
  })
  connection.socket.destroy()
  return { ...answer(connection.received()), writeError }
}

describe('the log', () => {
  let log: { host: string; port: number }
  let capped: { host: string; port: number }

  beforeAll(async () => {
    log = await start(
      spawnLog([
        '--data',
        join(dir, 'log'),
        '--port',
        '0',
        '--origin',
        'edges.example/log',
        '--verify-workers',
        '0',
        '--headers-timeout-ms',
        '1000',
      ]),
    )
    capped = await start(
      spawnLog([
        '--data',
        join(dir, 'capped'),
        '--port',
        '0',
        '--origin',
        'edges.example/capped',
        '--verify-workers',
        '0',
        '--max-connections-per-client',
        '4',
        '--request-timeout-ms',
        '600000',
      ]),
    )
  })

  it('answers 408 to clients sending their headers one byte at a time, and closes them', async () => {
    const slow = await Promise.all(Array.from({ length: 10 }, () => open(log)))
    for (const c of slow) trickle(c, 'GET /checkpoint HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200))
    await Promise.all(slow.map((c) => c.closed))
    for (const c of slow) expect(answer(c.received()).status).toBe(408)
    // The log still answers.
    expect((await fetch(`http://${log.host}:${log.port}/checkpoint`)).status).toBe(200)
  })

  it('closes connections past the per-address cap at once, and takes new ones when one goes', async () => {
    // Four connections in the middle of a request (a body half sent): busy, so not closed as idle.
    const busy = await Promise.all(Array.from({ length: 4 }, () => open(capped)))
    for (const c of busy) {
      c.socket.write(
        'POST /api/v1/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
      )
    }
    // A probe on a fifth connection is closed unanswered, until one of the four goes.
    const probe = async () => {
      const c = await open(capped)
      c.socket.write('GET /checkpoint HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
      await c.closed
      return answer(c.received()).status
    }
    expect(await probe()).toBe(0)
    expect(await probe()).toBe(0)
    busy[0]!.socket.destroy()
    // The server learns of the close when it learns of it: probed until a probe gets in.
    for (;;) {
      const status = await probe()
      if (status === 200) break
      expect(status).toBe(0)
    }
    for (const c of busy) c.socket.destroy()
  })

  it('answers a 10 MB submission 413, and the client reads it', async () => {
    const result = await bigPost(log, '/api/v1/entries', 10 * 1024 * 1024, 'application/json')
    expect(result.status).toBe(413)
    expect((JSON.parse(result.body) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE')
  })
})

describe('the witness', () => {
  let witness: { host: string; port: number }

  beforeAll(async () => {
    const logs = join(dir, 'logs.policy')
    await writeFile(logs, `log ${generateNoteKey('edges.example/log').verifierKey}\n`)
    witness = await start(
      spawnService(WITNESS_MAIN, [
        '--data',
        join(dir, 'witness'),
        '--port',
        '0',
        '--logs',
        logs,
        '--headers-timeout-ms',
        '1000',
      ]),
    )
  })

  it('answers 408 to clients sending their headers one byte at a time, and closes them', async () => {
    const slow = await Promise.all(Array.from({ length: 10 }, () => open(witness)))
    for (const c of slow) trickle(c, 'POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200))
    await Promise.all(slow.map((c) => c.closed))
    for (const c of slow) expect(answer(c.received()).status).toBe(408)
  })

  it('answers a 10 MB request 413, and the client reads it', async () => {
    const result = await bigPost(witness, '/add-checkpoint', 10 * 1024 * 1024, 'text/plain')
    expect(result.status).toBe(413)
  })
})
