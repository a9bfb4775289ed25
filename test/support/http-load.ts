// A minimal HTTP/1.1 load generator over raw keep-alive sockets (in the manner of wrk): each connection
// sends one request, reads the answer by its Content-Length, and sends the next. node:http's client costs
// several times more per request than a small log server answer, so with it a benchmark would measure the
// client, and on a 2-core machine take the server's CPU; this one spends a few microseconds per request.
import { connect, type Socket } from 'node:net'

export interface LoadResult {
  requests: number
  seconds: number
  /** Answers by status code. */
  statuses: Map<number, number>
  /** Body bytes received. */
  bytes: number
  /** Per-request latency in milliseconds, sorted. */
  latencies: number[]
  /** The first few answers that were not `expect`, as `<status> <start of body>`, with their counts. */
  failures: Map<string, number>
}

/** One request: a GET of `path`, or a POST of a JSON `body` to it. */
export interface LoadRequest {
  path: string
  body?: string | Buffer
}

const HEADER_END = Buffer.from('\r\n\r\n')
const MAX_FAILURE_KINDS = 20

/**
 * Runs `connections` keep-alive connections to `baseUrl`, each sending `next()` in turn until it returns
 * undefined or `seconds` (if given) have passed. An answer whose status is not `expect` is counted in
 * `failures` with the start of its body. Throws if a connection fails or an answer is not HTTP/1.1 with a
 * Content-Length.
 */
export async function requestLoad(
  baseUrl: string,
  next: () => LoadRequest | undefined,
  connections: number,
  options: { seconds?: number; expect?: number } = {},
): Promise<LoadResult> {
  const target = new URL(baseUrl)
  const host = target.hostname
  const port = Number(target.port)
  const expected = options.expect ?? 200
  const statuses = new Map<number, number>()
  const failures = new Map<string, number>()
  const latencies: number[] = []
  let requests = 0
  let bytes = 0
  const start = performance.now()
  const deadline = options.seconds === undefined ? Infinity : start + options.seconds * 1000

  function runConnection(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket: Socket = connect({ host, port, noDelay: true })
      let buffer: Buffer = Buffer.alloc(0)
      let sentAt = 0
      let bodyLength = -1
      let headerLength = 0
      let status = 0
      const send = () => {
        const request = performance.now() >= deadline ? undefined : next()
        if (request === undefined) {
          socket.end()
          resolve()
          return
        }
        sentAt = performance.now()
        if (request.body === undefined) {
          socket.write(`GET ${request.path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`)
        } else {
          socket.write(
            `POST ${request.path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
              `Content-Length: ${Buffer.byteLength(request.body)}\r\n\r\n${request.body.toString()}`,
          )
        }
      }
      socket.on('connect', send)
      socket.on('error', reject)
      socket.on('data', (chunk: Buffer) => {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
        for (;;) {
          if (bodyLength < 0) {
            const end = buffer.indexOf(HEADER_END)
            if (end < 0) return
            const head = buffer.subarray(0, end).toString('latin1')
            const match = /^HTTP\/1\.1 (\d{3})/.exec(head)
            const length = /\r\ncontent-length: *(\d+)/i.exec(head)
            if (!match || !length) {
              socket.destroy()
              reject(new Error(`unexpected answer: ${head.slice(0, 200)}`))
              return
            }
            status = Number(match[1])
            bodyLength = Number(length[1])
            headerLength = end + HEADER_END.length
          }
          if (buffer.length < headerLength + bodyLength) return
          if (status !== expected) {
            const key = `${status} ${buffer.subarray(headerLength, headerLength + Math.min(bodyLength, 120)).toString('utf8')}`
            if (failures.has(key) || failures.size < MAX_FAILURE_KINDS)
              failures.set(key, (failures.get(key) ?? 0) + 1)
          }
          buffer = buffer.subarray(headerLength + bodyLength)
          latencies.push(performance.now() - sentAt)
          statuses.set(status, (statuses.get(status) ?? 0) + 1)
          bytes += bodyLength
          requests++
          bodyLength = -1
          send()
          if (buffer.length === 0) return
        }
      })
    })
  }

  await Promise.all(Array.from({ length: connections }, runConnection))
  latencies.sort((a, b) => a - b)
  return { requests, seconds: (performance.now() - start) / 1000, statuses, bytes, latencies, failures }
}

/** GETs `nextPath()` over `connections` connections for `seconds`. */
export function getLoad(
  baseUrl: string,
  nextPath: () => string,
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  return requestLoad(baseUrl, () => ({ path: nextPath() }), connections, { seconds })
}
