// POST /api/v1/lookup: many digests and commits in one round trip, every entry proven against ONE tree
// (docs/design/batch-lookup.md). Built on the store's single lookup, so every backend serves it as is.
import { parseCanonicalDigest } from '@ledger/attestation'
import type { Hash } from '@ledger/tlog'
import { LogServerError } from './errors.js'
import type { LogReader } from './log-reader.js'
import type { TreeHead } from './log-tree.js'
import type { LogStore, LookupKind, LookupResult } from './store.js'

/** Most digests and commits one batch names. */
export const MAX_BATCH_KEYS = 1000
/** Most `keyids` filters one batch takes (as the single lookup). */
export const MAX_BATCH_KEY_IDS = 100
/** Default and largest number of matches one page answers (as the single lookup's limit). */
export const MAX_BATCH_LIMIT = 1000
/** Largest request body: 1,000 sha512 digests and 100 key ids fit with room to spare. */
export const MAX_BATCH_BODY = 256 * 1024

const COMMIT_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/
const KEY_ID_RE = /^[0-9a-f]{64}$/
const CURSOR_RE = /^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,15})$/
const FIELDS = new Set(['digests', 'commits', 'keyids', 'limit', 'cursor', 'size', 'have', 'maxTotal'])
/** Store lookups in flight at once for one page. */
const LOOKAHEAD = 32
/** Most indexes a batch may say it has. */
export const MAX_BATCH_HAVE = 20_000

/** A validated batch. `keys` are the digests then the commits, in request order. */
export interface BatchRequest {
  keys: { kind: LookupKind; value: string }[]
  keyIds: string[]
  limit: number
  /** Where this page starts: the position in `keys` and the first index of that key's matches. */
  start: { key: number; from: bigint }
  /** The tree to answer about; undefined: the served checkpoint's. */
  size: bigint | undefined
  /** Entries the client already holds, proven against the tree of `size`: listed, not sent again. */
  have: Set<number>
  /**
   * A key with more matches than this (a digest flooded by throwaway keys) is answered with its total
   * alone, marked `skipped`, for the client to ask again filtered by its keys. Undefined: no limit.
   */
  maxTotal: number | undefined
}

function malformed(message: string): LogServerError {
  return new LogServerError('MALFORMED_REQUEST', message)
}

/**
 * A POST body that must be one JSON object with only the `fields` named; returns it. Throws LogServerError
 * MALFORMED_REQUEST (not JSON, not an object, an unknown field).
 */
export function parseJsonObjectBody(body: Uint8Array, fields: ReadonlySet<string>): Record<string, unknown> {
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'))
  } catch {
    throw malformed('the body is not JSON')
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw malformed('the body is not a JSON object')
  const obj = json as Record<string, unknown>
  for (const field of Object.keys(obj)) if (!fields.has(field)) throw malformed(`unknown field ${field}`)
  return obj
}

function stringList(value: unknown, field: string): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    throw malformed(`${field} is not an array of strings`)
  return value as string[]
}

function safeInteger(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    throw malformed(`${field} is not an integer in ${min}..${max}`)
  return value
}

/**
 * Validates an untrusted batch body (bytes). Throws LogServerError MALFORMED_REQUEST naming the field: not
 * JSON, an unknown field, no keys or more than MAX_BATCH_KEYS, a repeated or non-canonical digest or
 * commit (`<alg>:<lowercase hex>`, 40 or 64 lowercase hex), too many or malformed key ids, a limit outside
 * 1..MAX_BATCH_LIMIT, a cursor that is not `<key>.<index>` within the batch, `have` (indexes the client
 * holds) without `size`, too long, or naming an index outside that tree, a maxTotal that is no count.
 */
export function parseBatchRequest(body: Uint8Array): BatchRequest {
  const obj = parseJsonObjectBody(body, FIELDS)
  const digests = stringList(obj['digests'], 'digests')
  const commits = stringList(obj['commits'], 'commits')
  const count = digests.length + commits.length
  if (count === 0) throw malformed('give at least one digest or commit')
  if (count > MAX_BATCH_KEYS) throw malformed(`more than ${MAX_BATCH_KEYS} digests and commits`)
  const keys: BatchRequest['keys'] = []
  const seen = new Set<string>()
  digests.forEach((digest, i) => {
    if (parseCanonicalDigest(digest) === undefined)
      throw malformed(`digests[${i}] is not <alg>:<lowercase hex> with alg sha256, sha384, sha512 or blake2b`)
    if (seen.has(digest)) throw malformed(`digests[${i}] is repeated`)
    seen.add(digest)
    keys.push({ kind: 'digest', value: digest })
  })
  commits.forEach((commit, i) => {
    if (!COMMIT_RE.test(commit)) throw malformed(`commits[${i}] is not 40 or 64 lowercase hex`)
    if (seen.has(commit)) throw malformed(`commits[${i}] is repeated`)
    seen.add(commit)
    keys.push({ kind: 'commit', value: commit })
  })
  const keyIds = stringList(obj['keyids'], 'keyids')
  if (keyIds.length > MAX_BATCH_KEY_IDS) throw malformed(`more than ${MAX_BATCH_KEY_IDS} keyids`)
  keyIds.forEach((keyId, i) => {
    if (!KEY_ID_RE.test(keyId)) throw malformed(`keyids[${i}] is not 64 lowercase hex`)
  })
  const limit =
    obj['limit'] === undefined ? MAX_BATCH_LIMIT : safeInteger(obj['limit'], 'limit', 1, MAX_BATCH_LIMIT)
  let start = { key: 0, from: 0n }
  if (obj['cursor'] !== undefined) {
    const match = typeof obj['cursor'] === 'string' ? CURSOR_RE.exec(obj['cursor']) : null
    if (
      match === null ||
      Number(match[1]) >= keys.length ||
      BigInt(match[2]!) > BigInt(Number.MAX_SAFE_INTEGER)
    )
      throw malformed('cursor is not a cursor of this batch')
    start = { key: Number(match[1]), from: BigInt(match[2]!) }
  }
  const size =
    obj['size'] === undefined
      ? undefined
      : BigInt(safeInteger(obj['size'], 'size', 1, Number.MAX_SAFE_INTEGER))
  const haveList = obj['have'] === undefined ? [] : obj['have']
  if (!Array.isArray(haveList)) throw malformed('have is not an array of indexes')
  if (haveList.length > 0 && size === undefined)
    throw malformed('have needs size: the tree those entries are proven in')
  if (haveList.length > MAX_BATCH_HAVE) throw malformed(`more than ${MAX_BATCH_HAVE} indexes in have`)
  const have = new Set<number>()
  haveList.forEach((index: unknown, i) => {
    have.add(safeInteger(index, `have[${i}]`, 0, Number(size ?? 0n) - 1))
  })
  const maxTotal =
    obj['maxTotal'] === undefined
      ? undefined
      : safeInteger(obj['maxTotal'], 'maxTotal', 0, Number.MAX_SAFE_INTEGER)
  return { keys, keyIds, limit, start, size, have, maxTotal }
}

/** One key's part of a page. */
interface KeyResult {
  digest?: string
  commit?: string
  total: number
  indexes: number[]
  /** Its total is above the request's maxTotal: no matches sent. */
  skipped?: true
}

export interface BatchContext {
  store: LogStore
  reader: LogReader
  /** The checkpoint readers are served: a batch without `size` answers about its tree. */
  served: () => TreeHead
  /** The newest committed head: a batch with `size` may ask about any tree up to it. */
  committed: () => TreeHead
}

const b64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')

/**
 * Answers one page of a batch. Keys are answered in order from the cursor: each with its `total` (every
 * match in the tree, whatever the key filter) and the indexes of its matches on this page; a page holds at
 * most `limit` matches, and `nextCursor` says where the next one starts. Every entry a page names is sent
 * once in `entries` (ascending), with its inclusion proof to the tree of `treeSize`. Without `size`, that
 * tree is the served checkpoint's, sent as `checkpoint`; with `size` (a later page, or a second batch
 * proven against the same checkpoint), no checkpoint is sent: the client holds it, and the entries it
 * lists in `have` (already proven against that tree) are listed under their keys but not sent again.
 */
export async function answerBatch(
  ctx: BatchContext,
  request: BatchRequest,
): Promise<Record<string, unknown>> {
  let head: TreeHead | undefined
  let size: bigint
  if (request.size === undefined) {
    head = ctx.served()
    size = head.size
  } else {
    const committed = ctx.committed().size
    if (request.size > committed)
      throw new LogServerError('SIZE_OUT_OF_RANGE', `size ${request.size} is above the log's ${committed}`)
    size = request.size
  }
  const results: KeyResult[] = []
  const indexes = new Map<bigint, string>()
  let budget = request.limit
  let nextCursor: string | undefined
  // The store's lookups run LOOKAHEAD keys ahead, each asked for the whole remaining budget; their answers
  // are taken in key order, and one that no longer fits is cut where the budget ends (its cursor points
  // there). A lockfile's keys mostly have a few matches each, so the page fills in key order either way.
  const pending: Promise<LookupResult>[] = []
  const ask = (key: number, from: bigint, limit: number) => {
    const { kind, value } = request.keys[key]!
    return ctx.store.lookup({ kind, value, keyIds: request.keyIds, from, limit, size })
  }
  let asked = request.start.key
  const askAhead = () => {
    while (asked < request.keys.length && asked < key + LOOKAHEAD) {
      pending.push(ask(asked, asked === request.start.key ? request.start.from : 0n, budget))
      asked++
    }
  }
  let key = request.start.key
  for (; key < request.keys.length; key++) {
    if (budget === 0) {
      nextCursor = `${key}.0`
      break
    }
    askAhead()
    const result = await pending.shift()!
    const { kind, value } = request.keys[key]!
    if (request.maxTotal !== undefined && result.total > request.maxTotal) {
      results.push({ [kind]: value, total: result.total, indexes: [], skipped: true })
      continue
    }
    const matches = result.matches.length > budget ? result.matches.slice(0, budget) : result.matches
    budget -= matches.length
    results.push({ [kind]: value, total: result.total, indexes: matches.map((m) => Number(m.index)) })
    for (const match of matches) indexes.set(match.index, match.keyId)
    if (matches.length < result.matches.length) {
      nextCursor = `${key}.${result.matches[matches.length]!.index}`
      break
    }
    if (result.next !== undefined) {
      nextCursor = `${key}.${result.next}`
      break
    }
  }
  // Lookups asked ahead and not used: let them finish (their answers are dropped), never unhandled.
  for (const extra of pending) extra.catch(() => undefined)
  const sorted = [...indexes.keys()]
    .filter((index) => !request.have.has(Number(index)))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const entries = await Promise.all(
    sorted.map(async (index) => {
      const [leaf, proof]: [Uint8Array, Hash[]] = await Promise.all([
        ctx.reader.leaf(index),
        ctx.reader.inclusionProof(index, size),
      ])
      return { index: Number(index), keyId: indexes.get(index)!, leaf: b64(leaf), proof: proof.map(b64) }
    }),
  )
  return {
    ...(head !== undefined && { checkpoint: head.checkpoint }),
    treeSize: Number(size),
    results,
    entries,
    ...(nextCursor !== undefined && { nextCursor }),
  }
}
