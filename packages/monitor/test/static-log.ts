// A log made directly with @ledger/tlog and @ledger/attestation (no log server), served read-only by a
// tiny node:http server: C2SP checkpoint, hash tiles (any width up to the stored one), entry bundles and
// the JSON lookup. The monitor benchmark uses it for a 100k-entry log that would take minutes to submit,
// and the tests for logs no honest server would produce (a signed tree holding a bad entry).
import { sign } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  buildStatement,
  canonicalJSON,
  dssePAE,
  encodeLogEntry,
  generateKeyPair,
  IN_TOTO_PAYLOAD_TYPE,
  privateKeyFromPEM,
  type PrivateKeyInfo,
} from '@ledger/attestation'
import {
  encodeCheckpoint,
  encodeEntryBundle,
  generateNoteKey,
  hashChildren,
  hashLeaf,
  parseSignerKey,
  parseTilePath,
  rootFromLeafHashes,
  signNote,
  TILE_HEIGHT,
  TILE_WIDTH,
  verifierKeyOf,
  type Hash,
} from '@ledger/tlog'

export interface StaticLogEntry {
  leaf: Uint8Array
  keyId: string
  digests: string[]
  commits: string[]
}

export interface StaticLog {
  origin: string
  verifierKey: string
  entries: StaticLogEntry[]
  /** hashes[level][i]: the complete subtree hashes at each level (level 0: leaf hashes). */
  hashes: Hash[][]
  checkpoint: string
}

export interface EntrySpec {
  /** Subject digests, as 64 hex. */
  digests: string[]
  commit: string
  /** Which signing key (index into the log's keys). */
  key?: number
  /** Corrupt the signature (a leaf the log should never have accepted). */
  badSignature?: boolean
  /** Subject names (default artifact-<i>.tgz). */
  names?: string[]
}

export const hex = (n: number, length = 64) => n.toString(16).padStart(length, '0')

/** The default entry i: one artifact (its own name and digest) from one of 100 commits, one of 4 keys. */
export function defaultEntry(i: number): EntrySpec {
  return { digests: [hex(i + 1)], commit: hex((i % 100) + 1, 40), key: i % 4, names: [`pkg-${i}.tgz`] }
}

/** Signing keys for static logs (ECDSA P-256, as the CLI makes by default). */
export function makeKeys(count: number): PrivateKeyInfo[] {
  return Array.from({ length: count }, () => privateKeyFromPEM(generateKeyPair().privateKeyPem))
}

/** A leaf as a rebuilder would have it logged (DESIGN §4), signed with `key`. */
export function makeEntry(spec: EntrySpec, key: PrivateKeyInfo): StaticLogEntry {
  const statement = buildStatement({
    artifacts: spec.digests.map((sha256, i) => ({ name: spec.names?.[i] ?? `artifact-${i}.tgz`, sha256 })),
    source: { uri: 'git+https://github.com/example/project', commit: spec.commit },
    builderId: 'https://rebuilder.example/static',
  })
  const payload = new TextEncoder().encode(canonicalJSON(statement))
  const signature = sign('sha256', dssePAE(IN_TOTO_PAYLOAD_TYPE, payload), {
    key: key.keyObject,
    dsaEncoding: 'der',
  })
  if (spec.badSignature) signature[signature.length - 1]! ^= 1
  return {
    leaf: encodeLogEntry({
      payload,
      signature,
      spkiDer: key.publicKey.spkiDer,
      keyDetails: key.publicKey.keyDetails,
    }),
    keyId: key.publicKey.keyId,
    digests: spec.digests.map((d) => `sha256:${d}`),
    commits: [spec.commit],
  }
}

/** Builds the tree, tiles and signed checkpoint of `entries` under a fresh (or given) log key. */
export function buildStaticLog(
  entries: StaticLogEntry[],
  origin = 'static.example/log',
  signerKey = generateNoteKey(origin).signerKey,
): StaticLog & { signerKey: string } {
  const hashes: Hash[][] = [entries.map((e) => hashLeaf(e.leaf))]
  while (hashes[hashes.length - 1]!.length > 1) {
    const below = hashes[hashes.length - 1]!
    const level: Hash[] = []
    for (let i = 0; i + 1 < below.length; i += 2) level.push(hashChildren(below[i]!, below[i + 1]!))
    hashes.push(level)
  }
  const root = rootFromLeafHashes(hashes[0]!)
  const body = encodeCheckpoint({ origin, size: BigInt(entries.length), root, extensions: [] })
  const checkpoint = signNote(body, [parseSignerKey(signerKey)])
  return { origin, verifierKey: verifierKeyOf(signerKey), entries, hashes, checkpoint, signerKey }
}

/**
 * Serves `log` on 127.0.0.1 (port 0). `hooks.tile` may rewrite a tile or bundle body (tests); `hooks.index`
 * is an output log served under /index/ (checkpoint and tiles), advertised by GET /api/v1/log.
 */
export async function serveStaticLog(
  log: StaticLog,
  hooks: { tile?: (path: string, body: Uint8Array) => Uint8Array; index?: StaticLog } = {},
): Promise<{ url: string; close: () => Promise<void>; requests: string[] }> {
  const requests: string[] = []
  const byDigest = new Map<string, number[]>()
  const byCommit = new Map<string, number[]>()
  log.entries.forEach((e, i) => {
    for (const d of e.digests) byDigest.set(d, [...(byDigest.get(d) ?? []), i])
    for (const c of e.commits) byCommit.set(c, [...(byCommit.get(c) ?? []), i])
  })
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    requests.push(url.pathname)
    const send = (status: number, body: Uint8Array | string, type = 'application/octet-stream') => {
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) })
      res.end(body)
    }
    let served = log
    let path = url.pathname
    if (hooks.index !== undefined && path.startsWith('/index/')) {
      served = hooks.index
      path = path.slice('/index'.length)
    }
    if (path === '/checkpoint') return send(200, served.checkpoint, 'text/plain; charset=utf-8')
    if (path === '/api/v1/log') {
      const index = hooks.index && { origin: hooks.index.origin, verifierKey: hooks.index.verifierKey }
      const body = { origin: log.origin, verifierKey: log.verifierKey, size: log.entries.length, index }
      return send(200, JSON.stringify(body), 'application/json')
    }
    if (url.pathname === '/api/v1/lookup') {
      const digest = url.searchParams.get('digest')
      const commit = url.searchParams.get('commit')
      const all = (digest ? byDigest.get(digest) : byCommit.get(commit ?? '')) ?? []
      const limit = Number(url.searchParams.get('limit') ?? '100')
      const from = Number(url.searchParams.get('cursor') ?? '0')
      const page = all.filter((i) => i >= from).slice(0, limit)
      const rest = all.filter((i) => i > (page[page.length - 1] ?? Infinity))
      const body = {
        checkpoint: log.checkpoint,
        treeSize: log.entries.length,
        total: all.length,
        entries: page.map((index) => ({
          index,
          keyId: log.entries[index]!.keyId,
          leaf: Buffer.from(log.entries[index]!.leaf).toString('base64'),
          proof: [],
        })),
        ...(rest.length > 0 ? { nextCursor: String(rest[0]) } : {}),
      }
      return send(200, JSON.stringify(body), 'application/json')
    }
    if (path.startsWith('/tile/')) {
      let parsed
      try {
        parsed = parseTilePath(path.slice(1))
      } catch {
        return send(404, 'not found\n')
      }
      let body: Uint8Array | undefined
      if (parsed.kind === 'hash') {
        const { level, index, width } = parsed.tile
        const row = served.hashes[level * TILE_HEIGHT] ?? []
        const start = Number(index) * TILE_WIDTH
        if (row.length >= start + width) body = Buffer.concat(row.slice(start, start + width))
      } else {
        const { index, width } = parsed.bundle
        const start = Number(index) * TILE_WIDTH
        if (served.entries.length >= start + width) {
          body = encodeEntryBundle(served.entries.slice(start, start + width).map((e) => e.leaf))
        }
      }
      if (body === undefined) return send(404, 'not found\n')
      return send(200, hooks.tile ? hooks.tile(path.slice(1), body) : body)
    }
    send(404, 'not found\n')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
