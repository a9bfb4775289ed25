import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { discardBody, readBody as readBoundedBody } from '@ledger/service'
import { HASH_SIZE, TILE_WIDTH, bundlePrefixLength, parseTilePath } from '@ledger/tlog'
import { LogServerError, RETRY_AFTER_SECONDS, toErrorResponse } from './errors.js'
import type { Ingest } from './ingest.js'
import type { TreeHead } from './log-tree.js'
import type { LookupCache } from './lookup-cache.js'
import type { TileCache } from './tile-cache.js'

/** Tiles at a given path never change (full ones, and partial ones `.p/W`, whose W entries are fixed). */
const IMMUTABLE = 'public, max-age=31536000, immutable'

/** Sends the error answer for `err` (errors.ts decides status and body); 503s say when to retry. */
export function sendError(res: ServerResponse, err: unknown): void {
  const { status, body } = toErrorResponse(err)
  if (status === 500) console.error('internal error:', err)
  if (res.headersSent) {
    res.destroy()
    return
  }
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
  }
  if (status === 503) headers['Retry-After'] = RETRY_AFTER_SECONDS
  const text = JSON.stringify(body)
  headers['Content-Length'] = Buffer.byteLength(text)
  res.writeHead(status, headers)
  res.end(text)
}

function sendBytes(res: ServerResponse, type: string, cache: string, body: Uint8Array): void {
  res.writeHead(200, { 'Content-Type': type, 'Cache-Control': cache, 'Content-Length': body.length })
  res.end(body)
}

export interface FastPathContext {
  /** The checkpoint to serve (see RunningLog.servedCheckpoint). */
  served: () => TreeHead
  tiles: TileCache
  ingest: Ingest
  bodyLimit: number
  /** The verifiable index's output log, served under /index/ (when it runs). */
  index?: { head: () => TreeHead; tiles: TileCache }
  /** Lookup answers computed for the served tree (app.ts fills it); a hit is sent from memory. */
  lookups?: LookupCache
  /** Told how each submission ended: CREATED, EXISTING or the error code (metrics); must not throw. */
  onSubmission?: (code: string) => void
}

/**
 * The node:http request handler. The hot paths are answered here, before Express sees the request:
 * GET /checkpoint and GET /tile/... from memory (or one store read), GET /api/v1/lookup answers already
 * computed for the served tree (LookupCache), and POST /api/v1/entries, whose
 * body is read once into a Buffer under the size limit and handed to the verify pool unparsed. Express
 * routing and middleware cost several times what serving a cached tile does; everything else (the JSON
 * API, unknown routes) falls through to the Express `app`.
 */
export function createRequestHandler(ctx: FastPathContext, app: RequestListener): RequestListener {
  return (req, res) => {
    // During shutdown every answer closes its connection, so the server can finish.
    if (ctx.ingest.isClosing) res.setHeader('Connection', 'close')
    const url = req.url ?? ''
    const method = req.method
    if (method === 'GET' || method === 'HEAD') {
      if (url === '/checkpoint') {
        sendBytes(res, 'text/plain; charset=utf-8', 'no-cache', ctx.served().checkpointBytes)
        return
      }
      if (url.startsWith('/tile/')) {
        serveTile(ctx.tiles, url.slice(1), res)
        return
      }
      if (ctx.index !== undefined && url === '/index/checkpoint') {
        sendBytes(res, 'text/plain; charset=utf-8', 'no-cache', ctx.index.head().checkpointBytes)
        return
      }
      if (ctx.index !== undefined && url.startsWith('/index/tile/')) {
        serveTile(ctx.index.tiles, url.slice('/index/'.length), res)
        return
      }
      if (ctx.lookups !== undefined && url.startsWith('/api/v1/lookup?')) {
        const answer = ctx.lookups.get(url, ctx.served())
        if (answer !== undefined) {
          sendBytes(res, 'application/json; charset=utf-8', 'no-cache', answer)
          return
        }
      }
    } else if (method === 'POST' && url === '/api/v1/entries') {
      void submit(ctx, req, res)
      return
    }
    app(req, res)
  }
}

function serveTile(tiles: TileCache, path: string, res: ServerResponse): void {
  let parsed
  try {
    parsed = parseTilePath(path)
  } catch {
    sendError(res, new LogServerError('NOT_FOUND', 'no such tile'))
    return
  }
  if (parsed.kind === 'hash') {
    const { level, index, width } = parsed.tile
    const answer = (data: Uint8Array | undefined) => {
      // A stored tile serves every width up to its own: its first W hashes are the partial tile of width W.
      if (data === undefined || data.length < width * HASH_SIZE) {
        sendError(res, new LogServerError('NOT_FOUND', 'no such tile'))
      } else {
        sendBytes(res, 'application/octet-stream', IMMUTABLE, data.subarray(0, width * HASH_SIZE))
      }
    }
    const cached = tiles.cachedHashTile(level, index)
    if (cached !== undefined && cached.length >= width * HASH_SIZE) answer(cached)
    else tiles.hashTile(level, index, width).then(answer, (err: unknown) => sendError(res, err))
  } else {
    const { index, width } = parsed.bundle
    const answer = (data: Uint8Array | undefined) => {
      const length = data === undefined ? undefined : bundlePrefixLength(data, width)
      if (data === undefined || length === undefined || (width === TILE_WIDTH && length !== data.length)) {
        sendError(res, new LogServerError('NOT_FOUND', 'no such entry bundle'))
      } else {
        sendBytes(res, 'application/octet-stream', IMMUTABLE, data.subarray(0, length))
      }
    }
    const cached = tiles.cachedEntryBundle(index)
    if (cached !== undefined && bundlePrefixLength(cached, width) !== undefined) answer(cached)
    // Not cached, or a cached version older than the one asked for: assembled from the stored leaves.
    else tiles.entryBundle(index, width).then(answer, (err: unknown) => sendError(res, err))
  }
}

/** The media type of a Content-Type header, lowercased, without parameters. */
function mediaType(header: string | undefined): string {
  return (header ?? '').split(';', 1)[0]!.trim().toLowerCase()
}

async function submit(ctx: FastPathContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    ctx.ingest.begin()
  } catch (err) {
    ctx.onSubmission?.(toErrorResponse(err).body.error.code)
    // Refused before reading: the body is read and dropped first (up to DISCARD_LIMIT), so that a client
    // still sending it can read the 503; then the connection is closed (the server sheds load).
    await discardBody(req)
    res.setHeader('Connection', 'close')
    sendError(res, err)
    return
  }
  try {
    if (mediaType(req.headers['content-type']) !== 'application/json') {
      throw new LogServerError('UNSUPPORTED_MEDIA_TYPE', 'the body must be application/json')
    }
    const body = await readBody(req, ctx.bodyLimit)
    const { status, receipt } = await ctx.ingest.submit(body)
    if (ctx.ingest.isClosing) res.setHeader('Connection', 'close')
    // A flat header list: the cheapest form node:http takes (this is the answer to every submission).
    res.writeHead(status, [
      'Content-Type',
      'application/json; charset=utf-8',
      'Cache-Control',
      'no-store',
      'Content-Length',
      String(receipt.length),
    ])
    res.end(receipt)
    ctx.onSubmission?.(status === 201 ? 'CREATED' : 'EXISTING')
  } catch (err) {
    ctx.onSubmission?.(toErrorResponse(err).body.error.code)
    if (ctx.ingest.isClosing) res.setHeader('Connection', 'close')
    if (!req.complete) {
      // An unread (or oversized) body: read and drop it (up to DISCARD_LIMIT) before answering, so that a
      // client still sending it reads the 413 instead of a reset; past that limit, answer and close.
      if (!(await discardBody(req))) res.setHeader('Connection', 'close')
    }
    sendError(res, err)
  } finally {
    ctx.ingest.end()
  }
}

/**
 * Reads a request body into one Buffer, refusing (LogServerError PAYLOAD_TOO_LARGE) as soon as it is
 * known to exceed `limit` bytes: from Content-Length before reading anything, else while streaming.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return readBoundedBody(req, limit, {
    tooLarge: () => new LogServerError('PAYLOAD_TOO_LARGE', `the body is over ${limit} bytes`),
    aborted: () => new LogServerError('MALFORMED_REQUEST', 'the request was aborted'),
  })
}
