// The HTTP edges every service has: limits on slow and greedy clients, a bounded body read, listening, and a
// graceful close.
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http'

/** The limits every service's HTTP server sets (each service exposes them as options). */
export interface HttpLimits {
  /** Longest time a client may take to send a request's headers, ms: a slow sender is answered 408 and closed. */
  headersTimeoutMs: number
  /** Longest time a client may take to send a whole request, headers and body, ms. */
  requestTimeoutMs: number
  /** Most connections open at once from one client address; one more is closed at once, unanswered. */
  maxConnectionsPerClient: number
}

/** Defaults for services with few clients (the witness, the monitor's health endpoint). */
export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnectionsPerClient: 64,
}

/**
 * An HTTP server with `limits` applied: Node's own headers and request timeouts, checked every second at
 * least (Node checks them every 30 s by default, so a slow client could hold a connection that long
 * whatever the timeout), the per-address connection cap, and a 5 s keep-alive.
 */
export function createLimitedServer(limits: HttpLimits, handler: RequestListener): Server {
  const server = createServer(
    {
      keepAliveTimeout: 5_000,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    handler,
  )
  limitConnectionsPerClient(server, limits.maxConnectionsPerClient)
  return server
}

/**
 * Closes, at once and unanswered, every connection beyond `max` open from one remote address: one client
 * cannot take all of a server's connections (or file descriptors).
 */
export function limitConnectionsPerClient(server: Server, max: number): void {
  const open = new Map<string, number>()
  server.on('connection', (socket) => {
    const address = socket.remoteAddress ?? ''
    const count = (open.get(address) ?? 0) + 1
    if (count > max) {
      socket.destroy()
      return
    }
    open.set(address, count)
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1
      if (left === 0) open.delete(address)
      else open.set(address, left)
    })
  })
}

/** The most of a refused body a server reads (and drops) so that its client can read the answer. */
export const DISCARD_LIMIT = 16 * 1024 * 1024

/**
 * Reads and drops the rest of a request body that will not be used (too large, refused), up to `limit`
 * bytes, so that the answer can be read by a client still sending: closing a connection while the client
 * writes resets it, and the client sees EPIPE or ECONNRESET instead of the answer. Resolves true when the
 * body ended within the limit (the connection can go on), false when it did not (over the limit, aborted:
 * answer with `Connection: close`). The server's request timeout bounds how long this takes.
 */
export function discardBody(req: IncomingMessage, limit = DISCARD_LIMIT): Promise<boolean> {
  if (req.complete) return Promise.resolve(true)
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve(false)
  return new Promise((resolve) => {
    let length = 0
    const onData = (chunk: Buffer) => {
      length += chunk.length
      if (length > limit) done(false)
    }
    const onEnd = () => done(true)
    const onFail = () => done(false)
    const done = (ended: boolean) => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onFail)
      req.off('aborted', onFail)
      req.off('close', onClose)
      resolve(ended)
    }
    const onClose = () => done(req.complete)
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onFail)
    req.on('aborted', onFail)
    req.on('close', onClose)
    req.resume()
  })
}

/**
 * Reads a request body into one Buffer, refusing (with `tooLarge()`) as soon as it is known to exceed
 * `limit` bytes: from Content-Length before reading anything, else while streaming. An aborted request
 * rejects with `aborted()`. Listeners are removed whatever happens.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  errors: { tooLarge: () => Error; aborted: () => Error },
): Promise<Buffer> {
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(errors.tooLarge())
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    const onData = (chunk: Buffer) => {
      length += chunk.length
      if (length > limit) {
        cleanup()
        reject(errors.tooLarge())
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length))
    }
    const onError = (err: Error) => {
      cleanup()
      reject(err)
    }
    const onAborted = () => {
      cleanup()
      reject(errors.aborted())
    }
    const cleanup = () => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('aborted', onAborted)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('aborted', onAborted)
  })
}

/** Starts `server` listening; rejects with the listen error (address in use, ...). */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err)
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

/**
 * Stops accepting connections and resolves once every connection is gone: idle keep-alive ones are closed
 * at once and, with `sweepIdleMs`, as they become idle; whatever is still open after `graceMs` is cut.
 */
export async function closeServer(server: Server, graceMs: number, sweepIdleMs?: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  server.closeIdleConnections()
  const sweep =
    sweepIdleMs === undefined ? undefined : setInterval(() => server.closeIdleConnections(), sweepIdleMs)
  const grace = setTimeout(() => server.closeAllConnections(), graceMs)
  await closed
  clearInterval(sweep)
  clearTimeout(grace)
}
