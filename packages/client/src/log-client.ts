// LedgerClient: one log, every answer verified before it is returned (DESIGN §5, §6).
import { parseCanonicalDigest } from '@ledger/attestation/digest.js'
import type { StatementIndexKeys } from '@ledger/attestation/statement.js'
import type { RebuildStatement } from '@ledger/attestation/types.js'
import { toBase64 } from '@ledger/tlog/bytes.js'
import { hashLeaf, type Hash } from '@ledger/tlog/hash.js'
import {
  InclusionMemo,
  proveConsistency,
  verifyConsistency,
  type SubtreeHashReader,
} from '@ledger/tlog/merkle.js'
import {
  entryBundlePath,
  tileHashReader,
  tilePath,
  TILE_WIDTH,
  verifyEntryBundle,
  type TileId,
} from '@ledger/tlog/tiles.js'
import { CheckpointTracker, type VerifiedCheckpoint } from './checkpoint-tracker.js'
import { verifyEntryLeaf, type VerifiedLeaf } from './entry.js'
import type { IndexProven } from './index-verify.js'
import type { LeafWorker } from './leaf-worker.js'
import { ClientError, describe, misbehaving } from './errors.js'
import { HttpTransport, type HttpOptions } from './http.js'
import { parseLogTrust, type LogTrust, type TrustPolicy, type WitnessTrust } from './policy.js'
import type { SigstoreBundleJSON, VerifiedReceipt } from './receipt.js'
import { MemoryStateStore, type StateStore } from './state.js'
import {
  asArray,
  asObject,
  getIndex,
  getOptionalString,
  getString,
  query,
  toBytes,
  toHashes,
  toIndex,
  type JSONObject,
} from './wire.js'

/** How to reach and trust one log. */
export interface LedgerClientOptions extends HttpOptions {
  /** Base URL of the log (`http://127.0.0.1:8080`). */
  url: string
  /** The log's origin and note verifier key: pinned, never taken from the log's own answers. */
  log: LogTrust
  /** Witness cosignatures every checkpoint needs. Default: none. */
  witnesses?: WitnessTrust
  /** Where the last verified checkpoint is kept. Default: in memory (nothing survives the process). */
  state?: StateStore
  /**
   * The log's verifiable index (origin `<log origin>/index`), pinned: lookups and counts then go through
   * it and are complete (docs/design/verifiable-index.md). Default: none (lookups are not complete).
   */
  index?: LogTrust
}

/** Most keys one index batch takes (POST /api/v1/index/lookup). */
export const INDEX_BATCH_MAX_KEYS = 1000

/**
 * An index lookup, verified end to end: each key's complete list of entries in the log's first
 * `inputSize` entries, and the log checkpoint that tree was proven consistent with.
 */
export interface IndexLookup {
  complete: true
  /** The log's checkpoint (accepted through the tracker) the index leaf's input tree is consistent with. */
  checkpoint: VerifiedCheckpoint
  /** The output log's checkpoint (accepted through the index tracker). */
  indexCheckpoint: VerifiedCheckpoint
  /** The output log's size, and the log entries the answer is complete for. */
  indexSize: bigint
  inputSize: bigint
  /** Each key (in request order): every entry filed under it, ascending. */
  results: Map<string, VerifiedEntry[]>
}

/** An entry that passed verification: its leaf decodes, its DSSE signature verifies, it is in the tree. */
export interface VerifiedEntry {
  index: bigint
  /** Lowercase hex SHA-256 of the SPKI DER of the key that signed it. */
  keyId: string
  /** The leaf bytes (canonical JSON of DESIGN §4). */
  leaf: Uint8Array
  statement: RebuildStatement
  /** The subject digests, commits and subjects the statement names. */
  keys: StatementIndexKeys
}

/** What GET /api/v1/log says (unauthenticated by itself: compare `verifierKey` with the pinned key). */
export interface LogInfo {
  origin: string
  verifierKey: string
  size: bigint
  trustedRoot: unknown
}

/** One query of the lookup endpoint. Exactly one of `digest` (`<alg>:<hex>`) or `commit` (lowercase hex). */
export interface LookupQuery {
  digest?: string
  commit?: string
  /** Only entries by these key ids. Default: all. */
  keyIds?: readonly string[]
  limit?: number
  cursor?: string
}

/** One verified page of a lookup. */
export interface LookupPage {
  /**
   * True when the answer came through the pinned verifiable index: `entries` are all the entries naming
   * the digest or commit (by the filtered keys) in the log's first `indexedSize` entries, proven so.
   * False: every entry sent is verified, but nothing proves that none was left out.
   */
  complete: boolean
  /** With `complete`: the output log's size and the log entries the answer is complete for. */
  indexSize?: bigint
  indexedSize?: bigint
  checkpoint: VerifiedCheckpoint
  /** The number of entries matching the digest or commit, whatever the key id filter (the log's claim). */
  total: number
  entries: VerifiedEntry[]
  nextCursor: string | undefined
}

/** A submission accepted and logged, its receipt verified. */
export interface SubmitResult extends VerifiedReceipt {
  /** True when the log answered 201 (a new entry), false for 200 (this key had logged this statement). */
  created: boolean
  /** The receipt as the log sent it: a Sigstore bundle with the tlog entry filled in. */
  receipt: SigstoreBundleJSON
}

const COMMIT_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/
const KEY_ID_RE = /^[0-9a-f]{64}$/

/**
 * A client of one log. Every answer is verified before it is returned: checkpoints by the pinned log key
 * (and witness quorum) and against the last checkpoint this client (or its state store) accepted; entries
 * by their inclusion proof to a verified checkpoint, their leaf encoding and their DSSE signature.
 * Methods throw ClientError: LOG_MISBEHAVING (with evidence) when an answer fails verification, NETWORK,
 * NOT_FOUND, REJECTED for what the log refused, STATE_IO. Safe for concurrent calls.
 */
export class LedgerClient {
  readonly http: HttpTransport
  readonly log: LogTrust
  readonly witnesses: WitnessTrust
  readonly tracker: CheckpointTracker
  /** The pinned verifiable index, and the tracker of its output log's checkpoints. */
  readonly index: LogTrust | undefined
  readonly indexTracker: CheckpointTracker | undefined

  constructor(opts: LedgerClientOptions) {
    this.http = new HttpTransport(opts.url, opts)
    this.log = opts.log
    this.witnesses = opts.witnesses ?? { keys: [], verifiers: [], quorum: 0 }
    this.tracker = new CheckpointTracker(
      this.log,
      this.witnesses,
      opts.state ?? new MemoryStateStore(),
      (from, to) => this.consistencyProof(from, to),
    )
    this.index = opts.index
    if (opts.index !== undefined) {
      if (opts.index.origin !== `${this.log.origin}/index`) {
        throw new ClientError(
          'INVALID_ARGUMENT',
          `the index key is named ${opts.index.origin}, not ${this.log.origin}/index`,
        )
      }
      // The output log is cosigned by the log's witnesses (the same list and quorum); an older output
      // checkpoint is always a rollback (verifiable-index.md §7).
      this.indexTracker = new CheckpointTracker(
        opts.index,
        this.witnesses,
        opts.state ?? new MemoryStateStore(),
        (from, to, root) => this.indexConsistencyProof(from, to, root),
        { olderIsRollback: true },
      )
    }
  }

  /** A client for the log a trust policy names. */
  static fromPolicy(
    url: string,
    policy: TrustPolicy,
    opts: HttpOptions & { state?: StateStore } = {},
  ): LedgerClient {
    return new LedgerClient({
      ...opts,
      url,
      log: policy.log,
      witnesses: policy.witnesses,
      ...(policy.index !== undefined && { index: policy.index }),
    })
  }

  /**
   * GET /api/v1/log without any pinned key: what a log says about itself. Nothing in it is verified; it is
   * the trust-on-first-use step of a client that has no key yet (see the CLI docs). Throws ClientError.
   */
  static async discover(url: string, opts: HttpOptions = {}): Promise<LogInfo> {
    return parseLogInfo(await new HttpTransport(url, opts).getJSON('/api/v1/log'))
  }

  /**
   * GET /api/v1/log, checked against the pinned key: a log that now names another key or origin is
   * LOG_MISBEHAVING (key-changed).
   */
  async info(): Promise<LogInfo> {
    const info = parseLogInfo(await this.http.getJSON('/api/v1/log'))
    if (info.origin !== this.log.origin || info.verifierKey !== this.log.verifierKey) {
      throw misbehaving(
        'key-changed',
        `the log now presents origin ${JSON.stringify(info.origin)} with key ${JSON.stringify(info.verifierKey)}, not the pinned ${this.log.verifierKey}`,
      )
    }
    return info
  }

  /** GET /checkpoint, verified and made the latest trusted checkpoint (see CheckpointTracker.accept). */
  async checkpoint(): Promise<VerifiedCheckpoint> {
    return this.tracker.accept(await this.http.getText('/checkpoint'))
  }

  /** The latest checkpoint this client trusts (from its state), without asking the log; undefined if none. */
  async trustedCheckpoint(): Promise<VerifiedCheckpoint | undefined> {
    return this.tracker.trusted()
  }

  /**
   * A reader of subtree hashes of the tree of a verified checkpoint, over the log's hash tiles (GET
   * /tile/<L>/<N>[.p/<W>]). Untrusted tiles are authenticated against the checkpoint's root before any
   * hash is returned (tlog's tileHashReader); a tile that does not is LOG_MISBEHAVING (bad-proof).
   */
  tileReader(checkpoint: VerifiedCheckpoint): SubtreeHashReader {
    const { size, root } = checkpoint.checkpoint
    const inner = tileHashReader(size, root, (tiles: readonly TileId[]) =>
      Promise.all(tiles.map((tile) => this.http.getBytes(`/${tilePath(tile)}`))),
    )
    return async (ids) => {
      try {
        return await inner(ids)
      } catch (cause) {
        if (cause instanceof ClientError) throw cause
        throw misbehaving(
          'bad-proof',
          `tiles of ${this.log.origin} at size ${size}: ${describe(cause)}`,
          {
            received: checkpoint.note,
          },
          cause,
        )
      }
    }
  }

  /**
   * The leaves `start` .. `end`-1 of the tree of a verified checkpoint, from the log's entry bundles (GET
   * /tile/entries/...), each checked against its leaf hash in the authenticated level-0 tiles. The leaves
   * are only proven to be in the log: decode them with verifyEntryLeaf. Throws ClientError INVALID_ARGUMENT
   * for a range outside the tree, LOG_MISBEHAVING for bundles or tiles that do not authenticate.
   */
  async entries(
    start: bigint,
    end: bigint,
    checkpoint: VerifiedCheckpoint,
    reader = this.tileReader(checkpoint),
  ) {
    const size = checkpoint.checkpoint.size
    if (start < 0n || end < start || end > size) {
      throw new ClientError('INVALID_ARGUMENT', `entries ${start}..${end} are not within the tree of ${size}`)
    }
    const width = BigInt(TILE_WIDTH)
    const leaves: Uint8Array[] = []
    for (let bundle = start / width; bundle * width < end; bundle++) {
      const first = bundle * width
      const count = Number(size - first < width ? size - first : width)
      const ids = Array.from({ length: count }, (_, i) => ({ level: 0, index: first + BigInt(i) }))
      const [bytes, hashes] = await Promise.all([
        this.http.getBytes(`/${entryBundlePath({ index: bundle, width: count })}`),
        reader(ids),
      ])
      const levelZero = new Uint8Array(count * 32)
      hashes.forEach((hash, i) => levelZero.set(hash, i * 32))
      let bundleLeaves: Uint8Array[]
      try {
        bundleLeaves = verifyEntryBundle(bytes, levelZero)
      } catch (cause) {
        throw misbehaving(
          'bad-proof',
          `entry bundle ${bundle}: ${describe(cause)}`,
          { received: checkpoint.note },
          cause,
        )
      }
      const from = start > first ? Number(start - first) : 0
      const to = end < first + width ? Number(end - first) : count
      leaves.push(...bundleLeaves.slice(from, to))
    }
    return leaves
  }

  /**
   * The consistency proof between two trees of the index's output log, computed from its tiles (GET
   * /index/tile/...), each authenticated against `newRoot` before it is used. Throws ClientError
   * LOG_MISBEHAVING (bad-proof) for tiles that do not authenticate.
   */
  async indexConsistencyProof(oldSize: bigint, newSize: bigint, newRoot: Hash): Promise<Hash[]> {
    const read = tileHashReader(newSize, newRoot, (tiles: readonly TileId[]) =>
      Promise.all(tiles.map((tile) => this.http.getBytes(`/index/${tilePath(tile)}`))),
    )
    try {
      return await proveConsistency(oldSize, newSize, read)
    } catch (cause) {
      if (cause instanceof ClientError) throw cause
      throw misbehaving('bad-proof', `index tiles at size ${newSize}: ${describe(cause)}`, {}, cause)
    }
  }

  /**
   * POST /api/v1/index/lookup through the pinned index, verified end to end (docs/design/verifiable-index.md
   * §5): the output checkpoint's signature, and its consistency with the output checkpoint this client
   * stored (same size, other root: fork; smaller: rollback; both with the two signed checkpoints as
   * evidence); the leaf (the newest) and its inclusion; each key's map proof; every entry's inclusion in
   * the log tree the leaf names, its signature, and that MapFn files it under its keys; then that this log
   * tree is consistent with the log's checkpoint (accepted through the tracker), by a consistency proof
   * from the log in whichever direction. Throws ClientError INVALID_ARGUMENT (no index pinned, no keys or
   * more than INDEX_BATCH_MAX_KEYS), LOG_MISBEHAVING, REJECTED (ANSWER_TOO_LARGE: ask fewer keys),
   * NETWORK, STATE_IO.
   */
  async lookupIndex(
    keys: readonly string[],
    verifiedLeaves?: Map<string, VerifiedLeaf>,
  ): Promise<IndexLookup> {
    const index = this.index
    const indexTracker = this.indexTracker
    if (index === undefined || indexTracker === undefined)
      throw new ClientError('INVALID_ARGUMENT', 'no verifiable index is pinned for this log')
    if (keys.length === 0 || keys.length > INDEX_BATCH_MAX_KEYS)
      throw new ClientError('INVALID_ARGUMENT', `an index batch takes 1 to ${INDEX_BATCH_MAX_KEYS} keys`)
    if (new Set(keys).size !== keys.length)
      throw new ClientError('INVALID_ARGUMENT', 'an index batch names each key once')
    const { json } = await this.http.postJSON('/api/v1/index/lookup', { keys })
    const indexCheckpoint = await indexTracker.accept(
      getString(asObject(json, 'index lookup'), 'checkpoint', 'index lookup'),
    )
    // Loaded here: the index's proofs (and @ledger/vindex) are for lookups through the index only.
    const { verifyIndexBatchAnswer } = await import('./index-verify.js')
    const batch = verifyIndexBatchAnswer(json, keys, index.verifierKey, verifiedLeaves)
    const checkpoint = await this.checkpoint()
    await this.checkIndexedTree(batch, checkpoint)
    const results = new Map<string, VerifiedEntry[]>()
    for (const [key, entries] of batch.results) {
      results.set(
        key,
        entries.map(({ index: at, leaf, verified }) => ({
          index: at,
          leaf,
          keyId: verified.keyId,
          statement: verified.statement,
          keys: verified.keys,
        })),
      )
    }
    return {
      complete: true,
      checkpoint,
      indexCheckpoint,
      indexSize: batch.indexSize,
      inputSize: batch.inputSize,
      results,
    }
  }

  /** The index leaf's log tree `(N, R)` and the log's checkpoint: consistent, either way, or a fork. */
  private async checkIndexedTree(batch: IndexProven, checkpoint: VerifiedCheckpoint): Promise<void> {
    const { size, root } = checkpoint.checkpoint
    const evidence = { trusted: checkpoint.note, received: batch.indexCheckpoint }
    const [oldSize, oldRoot, newSize, newRoot] =
      batch.inputSize <= size
        ? [batch.inputSize, batch.inputRoot, size, root]
        : [size, root, batch.inputSize, batch.inputRoot]
    let proof: Hash[] = []
    if (oldSize !== newSize && oldSize !== 0n) {
      try {
        proof = await this.consistencyProof(oldSize, newSize)
      } catch (cause) {
        if (!(cause instanceof ClientError) || cause.code === 'NETWORK') throw cause
        throw misbehaving(
          'bad-proof',
          `the index names a log tree of ${batch.inputSize} entries that the log does not prove consistent with its checkpoint of ${size} (${describe(cause)})`,
          evidence,
          cause,
        )
      }
    }
    try {
      verifyConsistency(oldSize, newSize, proof, oldRoot, newRoot)
    } catch (cause) {
      throw misbehaving(
        'fork',
        `the index's log tree of ${batch.inputSize} entries and the log's checkpoint of ${size} are not one history (${describe(cause)})`,
        { ...evidence, proof: proof.map(toBase64) },
        cause,
      )
    }
  }

  /**
   * GET /api/v1/proof/consistency?from=&to=: the hashes, NOT verified (a proof is only meaningful with both
   * roots; the checkpoint tracker verifies it). Throws ClientError.
   */
  async consistencyProof(from: bigint, to: bigint): Promise<Hash[]> {
    const json = asObject(
      await this.http.getJSON(`/api/v1/proof/consistency${query({ from, to })}`),
      'consistency proof',
    )
    return toHashes(json['proof'], 'consistency proof')
  }

  /**
   * GET /api/v1/proof/inclusion?index=&size=, verified: the returned hashes prove `leafHash` at `index` in
   * the tree of `checkpoint`. Throws ClientError LOG_MISBEHAVING (bad-proof) when they do not.
   */
  async inclusionProof(index: bigint, leafHash: Hash, checkpoint: VerifiedCheckpoint): Promise<Hash[]> {
    const size = checkpoint.checkpoint.size
    const json = asObject(
      await this.http.getJSON(`/api/v1/proof/inclusion${query({ index, size })}`),
      'inclusion proof',
    )
    const hashes = toHashes(json['proof'], 'inclusion proof')
    checkInclusion(leafHash, index, hashes, checkpoint, `entry ${index}`)
    return hashes
  }

  /**
   * GET /api/v1/entries/<index>: the entry, verified (leaf, signature, inclusion proof to the checkpoint
   * served with it, which is accepted through the tracker). Throws ClientError NOT_FOUND past the tree.
   */
  async entry(index: bigint): Promise<{ entry: VerifiedEntry; checkpoint: VerifiedCheckpoint }> {
    const json = asObject(await this.http.getJSON(`/api/v1/entries/${index}`), 'entry')
    const checkpoint = await this.tracker.accept(getString(json, 'checkpoint', 'entry'))
    checkTreeSize(json, checkpoint, 'entry')
    const item = { ...json, index: json['index'] ?? index.toString() }
    const entry = verifyLookupEntry(item, checkpoint, `entry ${index}`)
    if (entry.index !== index)
      throw misbehaving('bad-entry', `asked for entry ${index}, got entry ${entry.index}`)
    return { entry, checkpoint }
  }

  /**
   * POST /api/v1/entries: submits a signed bundle (no tlog entries) with its signer's SPKI PEM and verifies
   * the receipt before returning it: the log's checkpoint signature and consistency with the stored one,
   * the inclusion proof, the leaf (it must carry this very statement signed by this key), and the bundle
   * through stock @sigstore/verify. Throws ClientError REJECTED (with the log's code) when the log refuses,
   * LOG_MISBEHAVING when the receipt does not verify.
   */
  async submit(bundle: unknown, publicKeyPEM: string): Promise<SubmitResult> {
    const { status, json } = await this.http.postJSON('/api/v1/entries', { bundle, publicKey: publicKeyPEM })
    let verified: VerifiedReceipt
    // Loaded here: receipts (and the Sigstore verifier behind them) are the submitter's, not the gate's.
    const { verifyBundleReceipt } = await import('./receipt.js')
    try {
      verified = verifyBundleReceipt(json, {
        logVerifierKey: this.log.verifierKey,
        // A receipt comes at once, before the witnesses cosign (DESIGN §9): the log's signature is checked
        // here, the witness quorum when an installer counts.
        witnesses: [],
        quorum: 0,
        publicKey: publicKeyPEM,
        expectedEnvelope: asObject(asObject(bundle, 'bundle')['dsseEnvelope'], 'bundle.dsseEnvelope'),
      })
    } catch (cause) {
      if (cause instanceof ClientError && cause.code === 'RECEIPT_INVALID') {
        throw misbehaving('bad-entry', `the log's receipt does not verify: ${cause.message}`, {}, cause)
      }
      throw cause
    }
    const witnessed = this.witnesses.verifiers.length === 0
    const checkpoint = witnessed
      ? await this.tracker.accept(verified.checkpoint.note)
      : await this.tracker.check(verified.checkpoint.note)
    return { ...verified, checkpoint, created: status === 201, receipt: json as SigstoreBundleJSON }
  }

  /**
   * GET /api/v1/lookup: one page of the entries naming a subject digest or a commit, each verified against
   * the page's checkpoint (accepted through the tracker) and checked to match the query (an entry that
   * does not name the digest or commit, or is not by a requested key, is LOG_MISBEHAVING).
   * `verifiedLeaves` (leaf hash hex → verified leaf), when given, is shared by the lookups of one task so
   * that a leaf met twice has its signature checked once; its inclusion proof is checked every time.
   */
  async lookup(q: LookupQuery, verifiedLeaves?: Map<string, VerifiedLeaf>): Promise<LookupPage> {
    if ((q.digest === undefined) === (q.commit === undefined)) {
      throw new ClientError('INVALID_ARGUMENT', 'a lookup takes exactly one of digest or commit')
    }
    if (q.digest !== undefined && parseCanonicalDigest(q.digest) === undefined) {
      throw new ClientError(
        'INVALID_ARGUMENT',
        `digest ${JSON.stringify(q.digest)} is not <alg>:<lowercase hex>`,
      )
    }
    if (q.commit !== undefined && !COMMIT_RE.test(q.commit)) {
      throw new ClientError(
        'INVALID_ARGUMENT',
        `commit ${JSON.stringify(q.commit)} is not 40 or 64 lowercase hex`,
      )
    }
    for (const keyId of q.keyIds ?? []) {
      if (!KEY_ID_RE.test(keyId)) throw new ClientError('INVALID_ARGUMENT', `key id ${keyId} is not 64 hex`)
    }
    if (this.index !== undefined) return this.lookupThroughIndex(q, verifiedLeaves)
    const path = `/api/v1/lookup${query({
      digest: q.digest,
      commit: q.commit,
      keyid: q.keyIds && q.keyIds.length > 0 ? q.keyIds : undefined,
      limit: q.limit,
      cursor: q.cursor,
    })}`
    const json = asObject(await this.http.getJSON(path), 'lookup')
    const checkpoint = await this.tracker.accept(getString(json, 'checkpoint', 'lookup'))
    checkTreeSize(json, checkpoint, 'lookup')
    const totalIndex = getIndex(json, 'total', 'lookup')
    const items = asArray(json['entries'], 'lookup.entries')
    if (totalIndex < BigInt(items.length))
      throw misbehaving('malformed', 'lookup total is below the entries it sent')
    const wantedKeys = q.keyIds && q.keyIds.length > 0 ? new Set(q.keyIds) : undefined
    const entries: VerifiedEntry[] = []
    let previous = -1n
    for (const [i, item] of items.entries()) {
      const entry = verifyLookupEntry(item, checkpoint, `lookup entry ${i}`, verifiedLeaves)
      if (entry.index <= previous)
        throw misbehaving('malformed', 'lookup entries are not in ascending index order')
      previous = entry.index
      if (q.digest !== undefined && !entry.keys.digests.includes(q.digest)) {
        throw misbehaving(
          'bad-entry',
          `lookup for ${q.digest} returned entry ${entry.index}, which does not name it`,
        )
      }
      if (q.commit !== undefined && !entry.keys.commits.includes(q.commit)) {
        throw misbehaving(
          'bad-entry',
          `lookup for commit ${q.commit} returned entry ${entry.index}, from another commit`,
        )
      }
      if (wantedKeys !== undefined && !wantedKeys.has(entry.keyId)) {
        throw misbehaving(
          'bad-entry',
          `lookup filtered by key returned entry ${entry.index} by key ${entry.keyId}`,
        )
      }
      entries.push(entry)
    }
    const nextCursor = getOptionalString(json, 'nextCursor', 'lookup')
    return { complete: false, checkpoint, total: Number(totalIndex), entries, nextCursor }
  }

  /** `lookup` with the index pinned: one page, the complete list (filtered by key id here), proven. */
  private async lookupThroughIndex(
    q: LookupQuery,
    verifiedLeaves?: Map<string, VerifiedLeaf>,
  ): Promise<LookupPage> {
    if (q.cursor !== undefined)
      throw new ClientError('INVALID_ARGUMENT', 'an index lookup is one page: it takes no cursor')
    const key = q.digest !== undefined ? `subject:${q.digest}` : `commit:${q.commit!}`
    const answer = await this.lookupIndex([key], verifiedLeaves)
    const all = answer.results.get(key)!
    const wanted = q.keyIds && q.keyIds.length > 0 ? new Set(q.keyIds) : undefined
    return {
      complete: true,
      indexSize: answer.indexSize,
      indexedSize: answer.inputSize,
      checkpoint: answer.checkpoint,
      total: all.length,
      entries: wanted === undefined ? all : all.filter((e) => wanted.has(e.keyId)),
      nextCursor: undefined,
    }
  }

  /**
   * Every page of a lookup, following `nextCursor` (at most `maxPages`, default 1,000, so a log cannot keep
   * the client paging forever: past that, LOG_MISBEHAVING malformed). Returns the entries
   * of all pages, the largest `total` seen and the latest checkpoint (all pages' checkpoints were accepted
   * by the tracker, so each is consistent with the ones before).
   */
  async lookupAll(
    q: Omit<LookupQuery, 'cursor'>,
    maxPages = 1000,
  ): Promise<{
    checkpoint: VerifiedCheckpoint
    total: number
    entries: VerifiedEntry[]
    /** As LookupPage.complete: through the pinned index, one page, proven complete. */
    complete: boolean
    indexSize?: bigint
    indexedSize?: bigint
  }> {
    const entries: VerifiedEntry[] = []
    const seen = new Set<bigint>()
    let cursor: string | undefined
    let page: LookupPage | undefined
    let total = 0
    for (let n = 0; n < maxPages; n++) {
      page = await this.lookup({ ...q, ...(cursor !== undefined && { cursor }) })
      total = Math.max(total, page.total)
      for (const entry of page.entries) {
        if (seen.has(entry.index))
          throw misbehaving('malformed', `lookup returned entry ${entry.index} twice`)
        seen.add(entry.index)
        entries.push(entry)
      }
      if (page.nextCursor === undefined) {
        return {
          checkpoint: page.checkpoint,
          total,
          entries,
          complete: page.complete,
          ...(page.indexSize !== undefined && { indexSize: page.indexSize }),
          ...(page.indexedSize !== undefined && { indexedSize: page.indexedSize }),
        }
      }
      if (page.nextCursor === cursor || page.entries.length === 0) {
        throw misbehaving('malformed', 'lookup paging does not advance')
      }
      cursor = page.nextCursor
    }
    throw misbehaving('malformed', `lookup still paging after ${maxPages} pages`)
  }
}

/** Parses GET /api/v1/log (untrusted). */
function parseLogInfo(value: unknown): LogInfo {
  const json = asObject(value, 'log info')
  const origin = getString(json, 'origin', 'log info')
  const verifierKey = getString(json, 'verifierKey', 'log info')
  try {
    parseLogTrust(verifierKey, origin)
  } catch (cause) {
    throw misbehaving('malformed', `log info: ${describe(cause)}`, {}, cause)
  }
  return { origin, verifierKey, size: getIndex(json, 'size', 'log info'), trustedRoot: json['trustedRoot'] }
}

/** An answer's `treeSize`, when it has one, must be its checkpoint's size. */
function checkTreeSize(json: JSONObject, checkpoint: VerifiedCheckpoint, what: string): void {
  if (json['treeSize'] === undefined) return
  if (toIndex(json['treeSize'], `${what}.treeSize`) !== checkpoint.checkpoint.size) {
    throw misbehaving('malformed', `${what}: treeSize is not the size of the checkpoint sent with it`)
  }
}

/** Checks an inclusion proof against a verified checkpoint; LOG_MISBEHAVING (bad-proof) when it fails. */
// The nodes proven so far in each checkpoint's tree: a batch proves thousands of entries against one
// checkpoint, and their proofs share most of their upper nodes (InclusionMemo: the same checks, fewer
// hashes). Dropped with the checkpoint.
const memos = new WeakMap<VerifiedCheckpoint, InclusionMemo>()

function checkInclusion(
  leafHash: Hash,
  index: bigint,
  proof: Hash[],
  checkpoint: VerifiedCheckpoint,
  what: string,
) {
  try {
    let memo = memos.get(checkpoint)
    if (memo === undefined) {
      memo = new InclusionMemo(checkpoint.checkpoint.size, checkpoint.checkpoint.root)
      memos.set(checkpoint, memo)
    }
    memo.verify(leafHash, index, proof)
  } catch (cause) {
    throw misbehaving(
      'bad-proof',
      `${what}: inclusion proof does not verify against the checkpoint of size ${checkpoint.checkpoint.size} (${describe(cause)})`,
      { received: checkpoint.note },
      cause,
    )
  }
}

/** The parts of one `{index, keyId, leaf, proof}` item (malformed: LOG_MISBEHAVING). */
interface LookupItem {
  json: JSONObject
  index: bigint
  leaf: Uint8Array
  proof: Hash[]
  leafHash: Hash
}

function parseLookupItem(item: unknown, what: string, decoded?: Map<string, Hash>): LookupItem {
  const json: JSONObject = asObject(item, what)
  const index = toIndex(json['index'], `${what}.index`)
  const leaf = toBytes(json['leaf'], `${what}.leaf`)
  const proof = toHashes(json['proof'], `${what}.proof`, decoded)
  return { json, index, leaf, proof, leafHash: hashLeaf(leaf) }
}

/** The error of a leaf that does not verify, as the entry's. */
function badLeaf(what: string, index: bigint, cause: unknown): ClientError {
  return misbehaving('bad-entry', `${what} (index ${index}): ${describe(cause)}`, {}, cause)
}

/** The entry of a verified leaf, once the key id the log claims is checked. */
function entryOf(item: LookupItem, verified: VerifiedLeaf, what: string): VerifiedEntry {
  const claimed = item.json['keyId']
  if (claimed !== undefined && claimed !== verified.keyId) {
    throw misbehaving(
      'bad-entry',
      `${what} (index ${item.index}): the log says key ${String(claimed)}, the leaf is signed by ${verified.keyId}`,
    )
  }
  return {
    index: item.index,
    leaf: item.leaf,
    keyId: verified.keyId,
    statement: verified.statement,
    keys: verified.keys,
  }
}

const leafCacheKey = (leafHash: Hash) => Buffer.from(leafHash).toString('hex')

/**
 * Verifies one `{index, keyId, leaf, proof}` item of a lookup or entry answer against a verified
 * checkpoint: inclusion proof, leaf decoding, payload hash, DSSE signature by the leaf's key, statement
 * schema, and the key id the log claims. Throws ClientError LOG_MISBEHAVING.
 */
export function verifyLookupEntry(
  item: unknown,
  checkpoint: VerifiedCheckpoint,
  what: string,
  verifiedLeaves?: Map<string, VerifiedLeaf>,
): VerifiedEntry {
  const parsed = parseLookupItem(item, what)
  checkInclusion(parsed.leafHash, parsed.index, parsed.proof, checkpoint, `${what} (index ${parsed.index})`)
  // The same bytes verify the same way: within one caller's batch, each leaf's signature is checked once.
  const cacheKey = leafCacheKey(parsed.leafHash)
  let verified = verifiedLeaves?.get(cacheKey)
  if (verified === undefined) {
    try {
      verified = verifyEntryLeaf(parsed.leaf)
    } catch (cause) {
      throw badLeaf(what, parsed.index, cause)
    }
    verifiedLeaves?.set(cacheKey, verified)
  }
  return entryOf(parsed, verified, what)
}

/** Of the leaves a page needs checked, the share a LeafWorker takes (this thread also reads the page and checks the proofs). */
export const WORKER_SHARE = 0.5
/** Fewer leaves to check than this, and a page is checked here alone: a round trip to the thread costs more. */
export const WORKER_MIN_LEAVES = 64

/**
 * `verifyLookupEntry` of every item of a page, in order, then that their indexes ascend (`notAscending`
 * is thrown otherwise), with the leaf checks shared with `worker` when given: the same checks, the same
 * entries, and the same first error as one thread checking item after item. If the worker fails, this
 * thread checks its share too.
 */
export async function verifyLookupEntries(
  items: readonly unknown[],
  checkpoint: VerifiedCheckpoint,
  what: (i: number) => string,
  opts: {
    verifiedLeaves?: Map<string, VerifiedLeaf>
    worker?: LeafWorker
    notAscending: () => Error
  },
): Promise<VerifiedEntry[]> {
  // 1. Every item's parts, up to the first that is malformed (an error before its leaf is checked).
  let stop: { at: number; afterLeaf: boolean; error: unknown } | undefined
  const parsed: LookupItem[] = []
  const decoded = new Map<string, Hash>()
  for (let i = 0; i < items.length; i++) {
    try {
      parsed.push(parseLookupItem(items[i], what(i), decoded))
    } catch (error) {
      stop = { at: i, afterLeaf: false, error }
      break
    }
  }
  // 2. The leaves to check (not already checked, each once): the worker's share goes out now.
  const cache = opts.verifiedLeaves ?? new Map<string, VerifiedLeaf>()
  const keys = parsed.map((p) => leafCacheKey(p.leafHash))
  const toCheck: number[] = []
  const first = new Set<string>()
  keys.forEach((key, i) => {
    if (!cache.has(key) && !first.has(key)) {
      first.add(key)
      toCheck.push(i)
    }
  })
  const worker = toCheck.length >= WORKER_MIN_LEAVES ? opts.worker : undefined
  const mine = worker === undefined ? toCheck.length : Math.ceil(toCheck.length * (1 - WORKER_SHARE))
  const theirs = toCheck.slice(mine)
  const results = new Map<number, { leaf: VerifiedLeaf } | { error: unknown }>()
  const fromWorker =
    theirs.length > 0 ? worker!.verify(theirs.map((i) => parsed[i]!.leaf)) : Promise.resolve([])
  fromWorker.catch(() => undefined) // awaited below
  // 3. Proofs and order, item by item, up to the first that fails (order is checked after the leaf).
  let previous = -1n
  for (let i = 0; i < parsed.length; i++) {
    const p = parsed[i]!
    try {
      checkInclusion(p.leafHash, p.index, p.proof, checkpoint, `${what(i)} (index ${p.index})`)
    } catch (error) {
      stop = { at: i, afterLeaf: false, error }
      break
    }
    if (p.index <= previous) {
      stop = { at: i, afterLeaf: true, error: opts.notAscending() }
      break
    }
    previous = p.index
  }
  // Items past the first failure are never looked at, as when checked one by one.
  const checked = stop === undefined ? parsed.length : stop.afterLeaf ? stop.at + 1 : stop.at
  const check = (i: number) => {
    try {
      results.set(i, { leaf: verifyEntryLeaf(parsed[i]!.leaf) })
    } catch (error) {
      results.set(i, { error })
    }
  }
  // 4. This thread's share, then the worker's (or, if it failed, this thread checks those too).
  for (const i of toCheck.slice(0, mine)) if (i < checked) check(i)
  try {
    const answered = await fromWorker
    theirs.forEach((i, k) => results.set(i, answered[k]!))
  } catch {
    for (const i of theirs) if (i < checked) check(i)
  }
  // 5. In order: each item's leaf (or the first copy of it), its claimed key id; then what stopped step 1 or 3.
  const out: VerifiedEntry[] = []
  for (let i = 0; i < checked; i++) {
    const p = parsed[i]!
    let verified = cache.get(keys[i]!)
    if (verified === undefined) {
      const result = results.get(i)!
      if ('error' in result) throw badLeaf(what(i), p.index, result.error)
      verified = result.leaf
      cache.set(keys[i]!, verified)
    }
    out.push(entryOf(p, verified, what(i)))
  }
  if (stop !== undefined) throw stop.error
  return out
}
