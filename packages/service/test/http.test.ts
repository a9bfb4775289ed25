// The HTTP edges against a real server on 127.0.0.1: bounded body reads, listen errors, graceful close.
import { createServer, request, type Server } from 'node:http'
import { connect } from 'node:net'
import { afterEach, describe, expect, test } from 'vitest'
import { closeServer, listen, readBody } from '../src/index.js'

class TooLarge extends Error {}
class Aborted extends Error {}

let server: Server | undefined

afterEach(async () => {
  if (server?.listening) await closeServer(server, 1000)
  server = undefined
})

/** A server answering `<status> <outcome>` for each body it reads with a limit of 16 bytes. */
async function bodyServer(outcomes: string[]): Promise<number> {
  server = createServer((req, res) => {
    readBody(req, 16, { tooLarge: () => new TooLarge(), aborted: () => new Aborted() }).then(
      (body) => {
        outcomes.push(`body ${body.toString()}`)
        res.end('ok')
      },
      (err: unknown) => {
        outcomes.push(
          err instanceof TooLarge ? 'too large' : err instanceof Aborted ? 'aborted' : String(err),
        )
        res.setHeader('Connection', 'close')
        res.statusCode = 413
        res.end()
      },
    )
  })
  await listen(server, 0, '127.0.0.1')
  return (server.address() as { port: number }).port
}

function post(port: number, body: string, chunked = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/' }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    if (!chunked) req.setHeader('Content-Length', Buffer.byteLength(body))
    // Several writes: the body arrives in more than one chunk when chunked.
    for (const part of body.match(/.{1,5}/gs) ?? []) req.write(part)
    req.end()
  })
}

describe('readBody', () => {
  test('reads a body up to the limit, in one chunk or many', async () => {
    const outcomes: string[] = []
    const port = await bodyServer(outcomes)
    expect(await post(port, '0123456789abcdef')).toBe(200)
    expect(await post(port, 'hello, world', true)).toBe(200)
    expect(outcomes).toEqual(['body 0123456789abcdef', 'body hello, world'])
  })

  test('refuses a body over the limit: by Content-Length before reading, or while streaming', async () => {
    const outcomes: string[] = []
    const port = await bodyServer(outcomes)
    expect(await post(port, 'x'.repeat(17))).toBe(413)
    expect(await post(port, 'y'.repeat(40), true)).toBe(413)
    expect(outcomes).toEqual(['too large', 'too large'])
  })

  test('a request cut short is aborted, not a body', async () => {
    const outcomes: string[] = []
    const port = await bodyServer(outcomes)
    const socket = connect(port, '127.0.0.1')
    await new Promise((resolve) => socket.on('connect', resolve))
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234')
    await new Promise((resolve) => setTimeout(resolve, 50))
    socket.destroy()
    for (let i = 0; i < 100 && outcomes.length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10))
    expect(outcomes).toEqual(['aborted'])
  })
})

describe('listen and closeServer', () => {
  test('listen rejects when the port is taken', async () => {
    const port = await bodyServer([])
    const second = createServer()
    await expect(listen(second, port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' })
  })

  test('closeServer closes idle keep-alive connections at once and cuts busy ones after the grace', async () => {
    let slowArrived = () => {}
    const slow = new Promise<void>((resolve) => (slowArrived = resolve))
    server = createServer((req, res) => {
      if (req.url === '/slow') return slowArrived() // never answers
      res.end('ok')
    })
    await listen(server, 0, '127.0.0.1')
    const port = (server.address() as { port: number }).port
    // One idle keep-alive connection, one with a request that never gets an answer.
    const idle = connect(port, '127.0.0.1')
    idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    await new Promise((resolve) => idle.once('data', resolve))
    const busy = connect(port, '127.0.0.1')
    busy.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n')
    await slow
    const order: string[] = []
    let busyAnswered = false
    busy.on('data', () => (busyAnswered = true))
    const idleClosed = new Promise((resolve) => idle.on('close', () => resolve(order.push('idle'))))
    const busyClosed = new Promise((resolve) => busy.on('close', () => resolve(order.push('busy'))))
    const closing = closeServer(server, 300, 20)
    // The idle connection goes at once; the close is still held by the busy one.
    await idleClosed
    expect(order).toEqual(['idle'])
    await closing
    await busyClosed
    expect(server.listening).toBe(false)
    // The grace cut the busy connection: it never got an answer.
    expect(order).toEqual(['idle', 'busy'])
    expect(busyAnswered).toBe(false)
  })
})
