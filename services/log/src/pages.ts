// The log's pages for people (GET /, /ui/digest/<alg>:<hex>, /badge/<alg>:<hex>.svg): what they show is
// read here from the log's parts, rendered by page-render.ts (pure), and sent with headers that forbid
// scripts and external loads, so that even a rendering mistake could not run anything.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { decodeLogEntry, parseCanonicalDigest, parseStatement, statementIndexKeys } from '@ledger/attestation'
import { LogServerError } from './errors.js'
import { sendError } from './http.js'
import type { LogReader } from './log-reader.js'
import type { LogNode } from './node.js'
import {
  renderBadDigest,
  renderBadge,
  renderDigest,
  renderStatus,
  type DigestView,
  type ShownEntry,
} from './page-render.js'
import type { LogStore } from './store.js'
import { witnessState } from './witness-state.js'
import { parseCosignatureVerifierKey } from '@ledger/tlog'

/** Entries shown on `/`. */
const LATEST = 10
/** Matches read for a digest page or badge (the page says when there are more). */
const MAX_SHOWN = 1000
/**
 * Source commits whose entries are searched for conflicts on one digest page (an artifact is normally built
 * from one commit; each costs a lookup and up to MAX_SHOWN leaf reads).
 */
const MAX_COMMITS = 5

const HOST_RE = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/

const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

export interface PagesContext {
  origin: string
  verifierKey: string
  node: LogNode
  store: LogStore
  reader: LogReader
  /** The configured witnesses' cosignature verifier keys, and their quorum. */
  witnesses: readonly string[]
  quorum: number
}

/** Badges sit in READMEs, fetched on every view: caches may keep one for five minutes. */
const BADGE_CACHE = 'public, max-age=300'

function send(res: ServerResponse, status: number, type: string, body: string, cache = 'no-cache'): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': cache,
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  })
  res.end(body)
}

const HTML = 'text/html; charset=utf-8'

/** An entry as shown: undecodable parts (which the log never admits) are shown as such. */
function showLeaf(index: bigint, leaf: Uint8Array): ShownEntry {
  const entry = decodeLogEntry(leaf)
  try {
    const statement = parseStatement(entry.payload)
    const keys = statementIndexKeys(statement)
    const source = statement.predicate.buildDefinition.resolvedDependencies.find(
      (d) => typeof d.digest?.gitCommit === 'string',
    )
    const metadata = statement.predicate.runDetails.metadata
    const time = metadata?.finishedOn ?? metadata?.startedOn
    return {
      index: Number(index),
      keyId: entry.keyId,
      builderId: statement.predicate.runDetails.builder.id,
      repository: source?.uri ?? '',
      commit: keys.commits[0] ?? '',
      time: typeof time === 'string' ? time : undefined,
      subjects: keys.subjects,
    }
  } catch {
    return {
      index: Number(index),
      keyId: entry.keyId,
      builderId: '(undecodable)',
      repository: '',
      commit: '',
      time: undefined,
      subjects: [],
    }
  }
}

/** The log's URL as this reader reached it, when the Host header is a plain host[:port]. */
function logUrl(req: IncomingMessage): string | undefined {
  const host = req.headers.host
  if (host === undefined || !HOST_RE.test(host)) return undefined
  return `${req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http'}://${host}`
}

/**
 * The pages handler: answers the GET requests it knows (returns true), leaves the others (false). Reads
 * go up to the served checkpoint's tree, as the JSON API's do.
 */
export function createPages(
  ctx: PagesContext,
): (req: IncomingMessage, path: string, query: URLSearchParams, res: ServerResponse) => boolean {
  const names = new Map(ctx.witnesses.map((key) => [key, parseCosignatureVerifierKey(key).name]))
  let seen = { size: ctx.node.served().size, at: Date.now() }
  const servedNow = () => {
    const served = ctx.node.served()
    if (served.size !== seen.size) seen = { size: served.size, at: Date.now() }
    return served
  }
  ctx.node.onCommit(() => void servedNow())

  const shown = async (index: bigint) => showLeaf(index, await ctx.reader.leaf(index))

  async function status(res: ServerResponse): Promise<void> {
    const served = servedNow()
    const state = witnessState(served.checkpoint, ctx.verifierKey, ctx.witnesses, ctx.quorum)
    const latest: ShownEntry[] = []
    for (let i = served.size - 1n; i >= 0n && i >= served.size - BigInt(LATEST); i--)
      latest.push(await shown(i))
    send(
      res,
      200,
      HTML,
      renderStatus({
        origin: ctx.origin,
        verifierKey: ctx.verifierKey,
        treeSize: Number(served.size),
        checkpointSeenAt: seen.at,
        now: Date.now(),
        quorum: ctx.quorum,
        witnesses: ctx.witnesses.map((key) => {
          const name = names.get(key)!
          const cosignature = state.cosigned.find((c) => c.name === name)
          return { name, cosignedAt: cosignature?.timestamp }
        }),
        latest,
      }),
    )
  }

  /** Entries naming `digest`, and those conflicting with them, in the served tree. */
  async function digestView(digest: string, req: IncomingMessage): Promise<DigestView> {
    const size = servedNow().size
    const found = await ctx.store.lookup({
      kind: 'digest',
      value: digest,
      keyIds: [],
      from: 0n,
      limit: MAX_SHOWN,
      size,
    })
    const entries = await Promise.all(found.matches.map((m) => shown(m.index)))
    const { algorithm, hex } = parseCanonicalDigest(digest)!
    // Per source commit: the artifact names these entries give the digest.
    const namesByCommit = new Map<string, Set<string>>()
    for (const e of entries) {
      for (const s of e.subjects) {
        if (s.digest[algorithm] !== hex || e.commit === '') continue
        const set = namesByCommit.get(e.commit) ?? new Set<string>()
        set.add(s.name)
        namesByCommit.set(e.commit, set)
      }
    }
    const conflicts: DigestView['conflicts'] = []
    for (const [commit, subjectNames] of [...namesByCommit].slice(0, MAX_COMMITS)) {
      const same = await ctx.store.lookup({
        kind: 'commit',
        value: commit,
        keyIds: [],
        from: 0n,
        limit: MAX_SHOWN,
        size,
      })
      for (const match of same.matches) {
        const other = await shown(match.index)
        for (const s of other.subjects) {
          // A conflict: the same name from the same commit, another value in an algorithm both name.
          const theirs = s.digest[algorithm]
          if (subjectNames.has(s.name) && theirs !== undefined && theirs !== hex) {
            conflicts.push({ entry: other, name: s.name, otherDigest: `${algorithm}:${theirs}` })
          }
        }
      }
    }
    return {
      origin: ctx.origin,
      verifierKey: ctx.verifierKey,
      logUrl: logUrl(req),
      digest,
      treeSize: Number(size),
      entries,
      total: found.total,
      conflicts,
    }
  }

  /** A digest from a path segment or the search box, or the reason it is refused. */
  function checkDigest(text: string): { digest: string } | { refused: string } {
    const digest = text.trim().toLowerCase()
    if (parseCanonicalDigest(digest) !== undefined) return { digest }
    return { refused: 'A digest is <algorithm>:<hex>, the algorithm one of sha256, sha384, sha512, blake2b.' }
  }

  const fail = (res: ServerResponse) => (err: unknown) => sendError(res, err)

  /**
   * A refused request: a page for browsers (which ask for text/html), the API's JSON error for anything
   * else (400 MALFORMED_REQUEST either way).
   */
  const refuse = (req: IncomingMessage, res: ServerResponse, message: string) => {
    if ((req.headers.accept ?? '').includes('text/html')) send(res, 400, HTML, renderBadDigest(message))
    else sendError(res, new LogServerError('MALFORMED_REQUEST', message))
  }

  /** The query parameters a page takes; any other is refused, as the JSON API does. */
  const unknownParameter = (query: URLSearchParams, known: readonly string[]) =>
    [...query.keys()].find((name) => !known.includes(name))

  return (req, path, query, res) => {
    const isPage = path === '/' || path.startsWith('/ui/digest') || path.startsWith('/badge/')
    if (!isPage) return false
    const unknown = unknownParameter(query, path === '/ui/digest' ? ['digest'] : [])
    if (unknown !== undefined) {
      refuse(req, res, `unknown query parameter ${unknown}`)
      return true
    }
    if (path === '/ui/digest' && query.getAll('digest').length > 1) {
      refuse(req, res, 'query parameter digest must be given once')
      return true
    }
    if (path === '/') {
      status(res).catch(fail(res))
      return true
    }
    if (path === '/ui/digest') {
      // The search box: to the digest's own page, whose address can be shared.
      const checked = checkDigest(query.get('digest') ?? '')
      if ('refused' in checked) refuse(req, res, checked.refused)
      else {
        res.writeHead(303, { Location: `/ui/digest/${checked.digest}`, 'Content-Length': 0 })
        res.end()
      }
      return true
    }
    if (path.startsWith('/ui/digest/')) {
      let text: string
      try {
        text = decodeURIComponent(path.slice('/ui/digest/'.length))
      } catch {
        text = ''
      }
      const checked = checkDigest(text)
      if ('refused' in checked) refuse(req, res, checked.refused)
      else
        digestView(checked.digest, req)
          .then((view) => send(res, 200, HTML, renderDigest(view)))
          .catch(fail(res))
      return true
    }
    if (path.startsWith('/badge/') && path.endsWith('.svg')) {
      let text: string
      try {
        text = decodeURIComponent(path.slice('/badge/'.length, -'.svg'.length))
      } catch {
        text = ''
      }
      const checked = checkDigest(text)
      if ('refused' in checked) sendError(res, new LogServerError('MALFORMED_REQUEST', checked.refused))
      else
        digestView(checked.digest, req)
          .then((view) => {
            const keys = new Set(view.entries.map((e) => e.keyId)).size
            send(
              res,
              200,
              'image/svg+xml; charset=utf-8',
              renderBadge(keys, view.conflicts.length),
              BADGE_CACHE,
            )
          })
          .catch(fail(res))
      return true
    }
    return false
  }
}
