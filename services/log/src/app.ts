import type { IndexService } from './index-service.js'
import express from 'express'
import { parseCanonicalDigest } from '@ledger/attestation'
import type { NextFunction, Request, Response } from 'express'
import type { Hash } from '@ledger/tlog'
import { readBody } from '@ledger/service'
import { answerBatch, MAX_BATCH_BODY, parseBatchRequest } from './batch-lookup.js'
import { LogServerError } from './errors.js'
import { INDEX_KEY_RE, MAX_INDEX_BATCH_BODY, parseIndexBatchRequest } from './index-batch.js'
import { sendError } from './http.js'
import type { LogKey } from './log-key.js'
import type { LogReader } from './log-reader.js'
import type { TreeHead } from './log-tree.js'
import type { LookupCache } from './lookup-cache.js'
import type { LogStore } from './store.js'

/*
 * The JSON API (DESIGN §6). Indexes and sizes are JSON numbers: the log refuses to grow past 2^53-1
 * entries (sequencer.ts MAX_LOG_SIZE), so every one of them is exact in a double. Proof hashes and
 * leaves are standard base64. Errors are {"error": {"code", "message"}} with the status of errors.ts.
 */

/** Default and largest page size of GET /api/v1/lookup. */
export const DEFAULT_LOOKUP_LIMIT = 100
export const MAX_LOOKUP_LIMIT = 1000
/** Most `keyid=` filters one lookup takes. */
export const MAX_LOOKUP_KEY_IDS = 100

const DECIMAL_RE = /^(?:0|[1-9][0-9]{0,15})$/
const COMMIT_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/
const KEY_ID_RE = /^[0-9a-f]{64}$/

const b64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
const b64s = (hashes: readonly Hash[]) => hashes.map(b64)

/** `text` as a JSON string literal, with every character past ASCII escaped (\uXXXX). */
function asciiJsonString(text: string): string {
  return JSON.stringify(text).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

function malformed(message: string): LogServerError {
  return new LogServerError('MALFORMED_REQUEST', message)
}

/** A canonical decimal number no larger than 2^53-1. */
function parseNumber(text: string, what: string): bigint {
  if (!DECIMAL_RE.test(text) || BigInt(text) > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw malformed(`${what} is not a canonical decimal number up to 2^53-1`)
  }
  return BigInt(text)
}

/** The one value of query parameter `name` (undefined when absent); repeated parameters are refused. */
function single(req: Request, name: string): string | undefined {
  const value: unknown = req.query[name]
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw malformed(`query parameter ${name} must be given once`)
  return value
}

function required(req: Request, name: string): string {
  const value = single(req, name)
  if (value === undefined) throw malformed(`query parameter ${name} is required`)
  return value
}

/** Every value of a repeatable query parameter. */
function all(req: Request, name: string): string[] {
  const value: unknown = req.query[name]
  if (value === undefined) return []
  if (typeof value === 'string') return [value]
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[]
  throw malformed(`query parameter ${name} is malformed`)
}

function rejectUnknown(req: Request, known: readonly string[]): void {
  for (const name of Object.keys(req.query)) {
    if (!known.includes(name)) throw malformed(`unknown query parameter ${name}`)
  }
}

export interface AppContext {
  key: LogKey
  /** The newest committed head: proofs between explicit sizes go up to it. */
  head: () => TreeHead
  /**
   * The checkpoint readers are served (the witnessed one when there are witnesses): GET /api/v1/log,
   * entries and lookups answer about its tree. Proofs between explicit sizes go up to the committed head.
   */
  served: () => TreeHead
  store: LogStore
  reader: LogReader
  trustedRoot: Record<string, unknown>
  /** The verifiable index, when it runs (--index). */
  index?: IndexService
  /** Where GET /api/v1/lookup answers are kept for http.ts's fast path (none: every lookup computed). */
  lookups?: LookupCache
}

/**
 * The Express application: the JSON API, and the 404 and error answers for everything the fast paths of
 * http.ts do not take. ETags and X-Powered-By are off: answers are small and computed, and the header
 * costs more than it saves.
 */
export function createApp(ctx: AppContext): express.Express {
  const app = express()
  app.set('etag', false)
  app.disable('x-powered-by')
  app.set('query parser', 'simple')

  const { head: committed, reader, served } = ctx

  app.get('/api/v1/log', (req, res) => {
    rejectUnknown(req, [])
    res.set('Cache-Control', 'no-cache')
    res.json({
      origin: ctx.key.origin,
      verifierKey: ctx.key.verifierKey,
      size: Number(served().size),
      trustedRoot: ctx.trustedRoot,
      ...(ctx.index !== undefined && {
        index: {
          origin: ctx.index.origin,
          verifierKey: ctx.index.verifierKey,
          size: Number(ctx.index.head().size),
          trailing: Number(ctx.index.trailing()),
        },
      }),
    })
  })

  // The verifiable index: one key's complete list, proven (docs/design/verifiable-index.md).
  app.get('/api/v1/index/lookup', async (req, res) => {
    rejectUnknown(req, ['key'])
    if (ctx.index === undefined) throw new LogServerError('NOT_FOUND', 'this log runs no verifiable index')
    const key = required(req, 'key')
    if (!INDEX_KEY_RE.test(key)) {
      throw malformed('key must be subject:<alg>:<hex>, commit:<hex> or key:<key id>, lowercase')
    }
    res.set('Cache-Control', 'no-cache')
    res.json(await ctx.index.lookup(key))
  })

  // Many keys, one output leaf (index-batch.ts).
  app.post('/api/v1/index/lookup', async (req, res) => {
    rejectUnknown(req, [])
    const index = ctx.index
    const refuse = (err: unknown): never => {
      res.setHeader('Connection', 'close')
      req.resume()
      throw err
    }
    if (index === undefined) refuse(new LogServerError('NOT_FOUND', 'this log runs no verifiable index'))
    if ((req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase() !== 'application/json')
      refuse(new LogServerError('UNSUPPORTED_MEDIA_TYPE', 'the body must be application/json'))
    const body = await readBody(req, MAX_INDEX_BATCH_BODY, {
      tooLarge: () =>
        new LogServerError('PAYLOAD_TOO_LARGE', `the body is over ${MAX_INDEX_BATCH_BODY} bytes`),
      aborted: () => malformed('the request was aborted'),
    }).catch((err: unknown) => refuse(err))
    const answer = await index!.lookupBatch(parseIndexBatchRequest(body))
    res.set('Cache-Control', 'no-store')
    res.json(answer)
  })

  app.get('/api/v1/entries/:index', async (req, res) => {
    rejectUnknown(req, [])
    const index = parseNumber(String(req.params.index), 'index')
    const head = served()
    if (index >= head.size)
      throw new LogServerError('NOT_FOUND', `no entry ${index} in a log of ${head.size}`)
    const [leaf, proof] = await Promise.all([reader.leaf(index), reader.inclusionProof(index, head.size)])
    res.set('Cache-Control', 'no-cache')
    res.json({
      index: Number(index),
      leaf: b64(leaf),
      treeSize: Number(head.size),
      proof: b64s(proof),
      checkpoint: head.checkpoint,
    })
  })

  app.get('/api/v1/proof/inclusion', async (req, res) => {
    rejectUnknown(req, ['index', 'size'])
    const index = parseNumber(required(req, 'index'), 'index')
    const size = parseNumber(required(req, 'size'), 'size')
    const current = committed().size
    if (size > current)
      throw new LogServerError('SIZE_OUT_OF_RANGE', `size ${size} is above the log's ${current}`)
    if (index >= size)
      throw new LogServerError('SIZE_OUT_OF_RANGE', `index ${index} is not below size ${size}`)
    const proof = await reader.inclusionProof(index, size)
    res.json({ index: Number(index), treeSize: Number(size), proof: b64s(proof) })
  })

  app.get('/api/v1/proof/consistency', async (req, res) => {
    rejectUnknown(req, ['from', 'to'])
    const from = parseNumber(required(req, 'from'), 'from')
    const to = parseNumber(required(req, 'to'), 'to')
    const current = committed().size
    if (to > current)
      throw new LogServerError('SIZE_OUT_OF_RANGE', `size ${to} is above the log's ${current}`)
    if (from > to) throw new LogServerError('SIZE_OUT_OF_RANGE', `from ${from} is above to ${to}`)
    const proof = await reader.consistencyProof(from, to)
    res.json({ from: Number(from), to: Number(to), proof: b64s(proof) })
  })

  app.get('/api/v1/lookup', async (req, res) => {
    rejectUnknown(req, ['digest', 'commit', 'keyid', 'limit', 'cursor'])
    const digest = single(req, 'digest')
    const commit = single(req, 'commit')
    if ((digest === undefined) === (commit === undefined))
      throw malformed('give exactly one of digest and commit')
    if (digest !== undefined && parseCanonicalDigest(digest) === undefined)
      throw malformed('digest is not <alg>:<lowercase hex> with alg sha256, sha384, sha512 or blake2b')
    if (commit !== undefined && !COMMIT_RE.test(commit))
      throw malformed('commit is not 40 or 64 lowercase hex')
    const keyIds = all(req, 'keyid')
    if (keyIds.length > MAX_LOOKUP_KEY_IDS) throw malformed(`more than ${MAX_LOOKUP_KEY_IDS} keyid filters`)
    for (const keyId of keyIds) if (!KEY_ID_RE.test(keyId)) throw malformed('keyid is not 64 lowercase hex')
    const limitText = single(req, 'limit')
    const limit = limitText === undefined ? DEFAULT_LOOKUP_LIMIT : Number(parseNumber(limitText, 'limit'))
    if (limit < 1 || limit > MAX_LOOKUP_LIMIT) throw malformed(`limit is not in 1..${MAX_LOOKUP_LIMIT}`)
    const cursorText = single(req, 'cursor')
    const from = cursorText === undefined ? 0n : parseNumber(cursorText, 'cursor')

    // The served checkpoint's tree: matches beyond it (committed since) are left for a later lookup.
    const head = served()
    const size = head.size
    const result = await ctx.store.lookup({
      kind: digest !== undefined ? 'digest' : 'commit',
      value: (digest ?? commit)!,
      keyIds,
      from,
      limit,
      size,
    })
    const entries = await Promise.all(
      result.matches.map(async (match) => {
        const [leaf, proof] = await Promise.all([
          reader.leaf(match.index),
          reader.inclusionProof(match.index, size),
        ])
        return { index: Number(match.index), keyId: match.keyId, leaf: b64(leaf), proof: b64s(proof) }
      }),
    )
    const body = Buffer.from(
      JSON.stringify({
        checkpoint: head.checkpoint,
        treeSize: Number(size),
        total: result.total,
        entries,
        ...(result.next !== undefined ? { nextCursor: result.next.toString() } : {}),
      }),
    )
    ctx.lookups?.set(req.originalUrl, head, body)
    res.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-cache',
      'Content-Length': body.length,
    })
    res.end(body)
  })

  // Many digests and commits, one checkpoint (batch-lookup.ts).
  app.post('/api/v1/lookup', async (req, res) => {
    rejectUnknown(req, [])
    if ((req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase() !== 'application/json') {
      res.setHeader('Connection', 'close')
      req.resume()
      throw new LogServerError('UNSUPPORTED_MEDIA_TYPE', 'the body must be application/json')
    }
    const body = await readBody(req, MAX_BATCH_BODY, {
      tooLarge: () => new LogServerError('PAYLOAD_TOO_LARGE', `the body is over ${MAX_BATCH_BODY} bytes`),
      aborted: () => malformed('the request was aborted'),
    }).catch((err: unknown) => {
      // An unread (or oversized) body: answer, then close the connection rather than read it.
      res.setHeader('Connection', 'close')
      req.resume()
      throw err
    })
    const { checkpoint, ...rest } = await answerBatch(
      { store: ctx.store, reader, served, committed },
      parseBatchRequest(body),
    )
    // Pure ASCII: a checkpoint's signature lines start with an em dash, and that one character would make
    // the client decode the whole page (megabytes) as a two-byte string, at several times the cost; here
    // it is sent as \u2014, the same JSON string. The rest (base64, hex, numbers) is ASCII already.
    const text =
      checkpoint === undefined
        ? JSON.stringify(rest)
        : `{"checkpoint":${asciiJsonString(String(checkpoint))},${JSON.stringify(rest).slice(1)}`
    const answer = Buffer.from(text)
    res.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Length': answer.length,
    })
    res.end(answer)
  })

  app.use((_req: Request, res: Response) => {
    sendError(res, new LogServerError('NOT_FOUND', 'no such route'))
  })

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    sendError(res, err)
  })

  return app
}
