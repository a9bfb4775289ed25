// An in-memory log speaking the JSON and tile API of DESIGN §5-6 through a `fetch` function, built from the
// tlog and attestation primitives (not from the client), with hooks that make it lie: tests check that the
// client catches every lie. No sockets: the client takes the fake's fetch.
import {
  decodeLogEntry,
  encodeLogEntry,
  statementIndexKeys,
  verifyBundleFast,
  verifyLogEntry,
  type DSSEBundleJSON,
} from '@ledger/attestation'
import {
  encodeCheckpoint,
  encodeEntryBundle,
  generateNoteKey,
  hashLeaf,
  parseSignerKey,
  parseTilePath,
  proveConsistency,
  proveInclusion,
  rootFromLeafHashes,
  signNote,
  toBase64,
  readTileData,
  type Hash,
  type NoteSigner,
  type SubtreeHashReader,
  decodeEd25519VerifierKey,
  SIGNATURE_TYPE_ED25519,
  verifierKeyOf,
} from '@ledger/tlog'
import { createHash } from 'node:crypto'

export interface FakeEntry {
  leaf: Uint8Array
  keyId: string
  digests: string[]
  commits: string[]
  payloadHash: string
}

/** What a hook may do to an answer before it is sent: change the JSON, or replace the whole response. */
export type AnswerHook = (path: string, json: unknown) => unknown

export class FakeLog {
  readonly origin: string
  readonly signerKey: string
  readonly verifierKey: string
  readonly signer: NoteSigner
  entries: FakeEntry[] = []
  /** Extra signers whose signatures are added to every checkpoint (witness cosigners, or none). */
  cosigners: NoteSigner[] = []
  /** Rewrites JSON answers (tests make the log lie with it). */
  hook: AnswerHook | undefined
  /** Status codes to answer (with the given headers) before answering normally, one per request. */
  failures: { status: number; headers?: Record<string, string> }[] = []
  /** Every request path, in order. */
  requests: string[] = []
  /** Serve checkpoints for this size instead of the current one (a stale or rolled-back view). */
  servedSize: number | undefined
  /** Page size of lookups when the request names none. */
  defaultLimit = 100

  constructor(origin = 'fake.example/log', signerKey?: string) {
    this.origin = origin
    this.signerKey = signerKey ?? generateNoteKey(origin).signerKey
    this.signer = parseSignerKey(this.signerKey)
    this.verifierKey = verifierKeyOf(this.signerKey)
  }

  get size(): number {
    return this.entries.length
  }

  /** Appends a raw leaf (no checks): tests use it to log anything. */
  appendLeaf(leaf: Uint8Array): number {
    const decoded = decodeLogEntry(leaf)
    let digests: string[] = []
    let commits: string[] = []
    try {
      const keys = statementIndexKeys(verifyLogEntry(leaf).statement)
      digests = keys.digests
      commits = keys.commits
    } catch {
      // A leaf that does not verify is still logged: the fake is a lying log when a test wants one.
    }
    this.entries.push({
      leaf,
      keyId: decoded.keyId,
      digests,
      commits,
      payloadHash: createHash('sha256').update(decoded.payload).digest('hex'),
    })
    return this.entries.length - 1
  }

  /** Appends a signed bundle the way the real log does. Returns [index, created]. */
  appendBundle(bundle: DSSEBundleJSON, publicKeyPEM: string): [number, boolean] {
    const verified = verifyBundleFast(bundle, publicKeyPEM)
    const payloadHash = createHash('sha256').update(verified.payload).digest('hex')
    const existing = this.entries.findIndex(
      (e) => e.keyId === verified.keyId && e.payloadHash === payloadHash,
    )
    if (existing >= 0) return [existing, false]
    const leaf = encodeLogEntry({
      payload: verified.payload,
      signature: verified.signature,
      spkiDer: verified.publicKey.spkiDer,
      keyDetails: verified.publicKey.keyDetails,
    })
    return [this.appendLeaf(leaf), true]
  }

  leafHashes(size = this.size): Hash[] {
    return this.entries.slice(0, size).map((e) => hashLeaf(e.leaf))
  }

  reader(size = this.size): SubtreeHashReader {
    const hashes = this.leafHashes(size)
    return (ids) =>
      ids.map((id) => {
        const start = Number(id.index) * 2 ** id.level
        return rootFromLeafHashes(hashes.slice(start, start + 2 ** id.level))
      })
  }

  root(size = this.size): Hash {
    return rootFromLeafHashes(this.leafHashes(size))
  }

  checkpoint(size = this.servedSize ?? this.size): string {
    const text = encodeCheckpoint({
      origin: this.origin,
      size: BigInt(size),
      root: this.root(size),
      extensions: [],
    })
    return signNote(text, [this.signer, ...this.cosigners])
  }

  async inclusion(index: number, size: number): Promise<string[]> {
    return (await proveInclusion(BigInt(index), BigInt(size), this.reader(size))).map(toBase64)
  }

  async receipt(bundle: DSSEBundleJSON, index: number): Promise<Record<string, unknown>> {
    const size = this.servedSize ?? this.size
    const logId = createHash('sha256').update(logSpki(this.verifierKey)).digest('base64')
    return {
      ...bundle,
      verificationMaterial: {
        ...bundle.verificationMaterial,
        tlogEntries: [
          {
            logIndex: String(index),
            logId: { keyId: logId },
            kindVersion: { kind: 'dsse', version: '0.0.2' },
            integratedTime: '0',
            inclusionProof: {
              logIndex: String(index),
              rootHash: toBase64(this.root(size)),
              treeSize: String(size),
              hashes: await this.inclusion(index, size),
              checkpoint: { envelope: this.checkpoint(size) },
            },
            canonicalizedBody: toBase64(this.entries[index]!.leaf),
          },
        ],
      },
    }
  }

  /** The fetch function the client is given. */
  readonly fetch = async (input: string, init?: RequestInit): Promise<Response> => {
    const url = new URL(input)
    this.requests.push(url.pathname + url.search)
    const failure = this.failures.shift()
    if (failure !== undefined) {
      return new Response(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'try later' } }), {
        status: failure.status,
        headers: failure.headers ?? {},
      })
    }
    try {
      return await this.route(url, init)
    } catch (err) {
      return json(500, { error: { code: 'INTERNAL', message: String(err) } })
    }
  }

  private answer(path: string, value: unknown, status = 200): Response {
    return json(status, this.hook ? this.hook(path, value) : value)
  }

  private async route(url: URL, init?: RequestInit): Promise<Response> {
    const path = url.pathname
    const q = url.searchParams
    const size = this.servedSize ?? this.size
    if (path === '/checkpoint') {
      const note = this.checkpoint(size)
      const hooked = this.hook ? this.hook(path, note) : note
      return new Response(String(hooked), { status: 200 })
    }
    if (path === '/api/v1/log') {
      return this.answer(path, { origin: this.origin, verifierKey: this.verifierKey, size, trustedRoot: {} })
    }
    if (path === '/api/v1/entries' && init?.method === 'POST') {
      const body = JSON.parse(String(init.body)) as { bundle: DSSEBundleJSON; publicKey: string }
      let index: number
      let created: boolean
      try {
        ;[index, created] = this.appendBundle(body.bundle, body.publicKey)
      } catch (err) {
        return json(400, { error: { code: (err as { code?: string }).code ?? 'BAD', message: String(err) } })
      }
      return this.answer(path, await this.receipt(body.bundle, index), created ? 201 : 200)
    }
    const entryMatch = /^\/api\/v1\/entries\/([0-9]+)$/.exec(path)
    if (entryMatch) {
      const index = Number(entryMatch[1])
      if (index >= size) return json(404, { error: { code: 'NOT_FOUND', message: 'no such entry' } })
      return this.answer(path, {
        index,
        leaf: toBase64(this.entries[index]!.leaf),
        treeSize: size,
        proof: await this.inclusion(index, size),
        checkpoint: this.checkpoint(size),
      })
    }
    if (path === '/api/v1/proof/inclusion') {
      const index = Number(q.get('index'))
      const at = Number(q.get('size'))
      return this.answer(path, { index, treeSize: at, proof: await this.inclusion(index, at) })
    }
    if (path === '/api/v1/proof/consistency') {
      const from = BigInt(q.get('from')!)
      const to = BigInt(q.get('to')!)
      if (to > BigInt(this.size) || from > to)
        return json(400, { error: { code: 'BAD_RANGE', message: 'range' } })
      const proof = (await proveConsistency(from, to, this.reader(Number(to)))).map(toBase64)
      return this.answer(path, { from: Number(from), to: Number(to), proof })
    }
    if (path === '/api/v1/lookup') {
      const digest = q.get('digest')
      const commit = q.get('commit')
      const keyIds = q.getAll('keyid')
      const limit = Number(q.get('limit') ?? this.defaultLimit)
      const from = Number(q.get('cursor') ?? '0')
      const matching = this.entries
        .map((e, index) => ({ e, index }))
        .filter(({ index }) => index < size)
        .filter(({ e }) => (digest !== null ? e.digests.includes(digest) : e.commits.includes(commit!)))
      const filtered = matching.filter(({ e }) => keyIds.length === 0 || keyIds.includes(e.keyId))
      const page = filtered.filter(({ index }) => index >= from).slice(0, limit)
      const last = page[page.length - 1]
      const more = last !== undefined && filtered.some(({ index }) => index > last.index)
      return this.answer(path, {
        checkpoint: this.checkpoint(size),
        treeSize: size,
        total: matching.length,
        entries: await Promise.all(
          page.map(async ({ e, index }) => ({
            index,
            keyId: e.keyId,
            leaf: toBase64(e.leaf),
            proof: await this.inclusion(index, size),
          })),
        ),
        ...(more && { nextCursor: String(last.index + 1) }),
      })
    }
    if (path.startsWith('/tile/')) {
      const parsed = parseTilePath(path.slice(1))
      if (parsed.kind === 'hash') {
        return new Response(await readTileData(parsed.tile, this.reader(size)))
      }
      const start = Number(parsed.bundle.index) * 256
      return new Response(
        encodeEntryBundle(this.entries.slice(start, start + parsed.bundle.width).map((e) => e.leaf)),
      )
    }
    return json(404, { error: { code: 'NOT_FOUND', message: path } })
  }
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } })
}

function logSpki(verifierKey: string): Buffer {
  const parts = decodeEd25519VerifierKey(verifierKey, SIGNATURE_TYPE_ED25519)
  return parts.publicKeyObject.export({ format: 'der', type: 'spki' })
}
