// A minimal HTTP/1.1 GET load generator over raw keep-alive sockets (in the manner of wrk): each connection
// sends one request, reads the answer by its Content-Length, and sends the next. node:http's client costs
// several times more per request than a small log server answer, so with it a benchmark would measure the
// client; this one spends a few microseconds per request.
import { connect, type Socket } from 'node:net'

export interface GetLoadResult {
  requests: number
  seconds: number
  /** Answers by status code. */
  statuses: Map<number, number>
  /** Body bytes received. */
  bytes: number
  /** Per-request latency in milliseconds, sorted. */
  latencies: number[]
}

const HEADER_END = Buffer.from('\r\n\r\n')

/**
 * Runs `connections` keep-alive connections to `baseUrl` for `seconds`, each asking `nextPath()` in turn.
 * Throws if a connection fails or an answer is not HTTP/1.1 with a Content-Length.
 */
export async function getLoad(
  baseUrl: string,
  nextPath: () => string,
  connections: number,
  seconds: number,
): Promise<GetLoadResult> {
  const target = new URL(baseUrl)
  const host = target.hostname
  const port = Number(target.port)
  const statuses = new Map<number, number>()
  const latencies: number[] = []
  let requests = 0
  let bytes = 0
  const start = performance.now()
  const deadline = start + seconds * 1000

  function runConnection(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket: Socket = connect({ host, port, noDelay: true })
      let buffer: Buffer = Buffer.alloc(0)
      let sentAt = 0
      let bodyLength = -1
      let headerLength = 0
      let status = 0
      const send = () => {
        if (performance.now() >= deadline) {
          socket.end()
          resolve()
          return
        }
        sentAt = performance.now()
        socket.write(`GET ${nextPath()} HTTP/1.1\r\nHost: ${host}\r\n\r\n`)
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
  return { requests, seconds: (performance.now() - start) / 1000, statuses, bytes, latencies }
}
