// The HTTP edges every service has: a bounded body read, listening, and a graceful close.
import type { IncomingMessage, Server } from 'node:http'

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
