import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  bytesEqual,
  decodeEntryBundle,
  hashLeaf,
  openCheckpoint,
  parseTlogPolicy,
  parseVerifierKey,
  proveConsistency,
  TILE_WIDTH,
  tileHashReader,
  TlogError,
  verifyCheckpointWithPolicy,
  verifyConsistency,
  type Checkpoint,
  type EntryBundleId,
  type SubtreeHashReader,
  type SubtreeId,
} from '@ledger/tlog'
import type { Alert, AlertBody, AlertSink, CheckpointEvidence, LookupQuery } from './alerts.js'
import { createAlertSink } from './alerts.js'
import type { MonitorConfig } from './config.js'
import { describeError, isBadTile, MonitorError } from './errors.js'
import { LogFetcher } from './fetcher.js'
import { IndexAudit } from './index-audit.js'
import { Progress, type ProgressStream } from './progress.js'
import {
  LevelMonitorStore,
  recordOf,
  subjectKey,
  type MonitorState,
  type MonitorStore,
  type SubjectRecord,
} from './state-store.js'
import { VerifyPool } from './verify-pool.js'
import { digestsDiffer, parseCanonicalDigest, type SubjectDigests } from '@ledger/attestation'

/** A subject's digests from their stored spelling (`alg:hex` joined by commas). */
function digestSet(text: string): SubjectDigests {
  const out: SubjectDigests = {}
  for (const part of text.split(',')) {
    const digest = parseCanonicalDigest(part)
    if (digest !== undefined) out[digest.algorithm] = digest.hex
  }
  return out
}

/** The monitor's I/O: alerts on stdout, progress and warnings on stderr, the network, randomness. */
export interface MonitorIo {
  stdout: { write(text: string): unknown }
  stderr: ProgressStream
  /** Default: the global fetch. */
  fetch?: typeof fetch
  /** Default: Math.random (which digests a pass samples). */
  random?: () => number
  /** Opens the monitor's store at a path in its data folder. Default: LevelMonitorStore (LevelDB). */
  openStore?: (location: string) => Promise<MonitorStore>
}

/** What one pass did. */
export interface PassResult {
  alerts: Alert[]
  /** Size of the trusted checkpoint after the pass. */
  size: bigint
  /** Entries indexed after the pass. */
  indexed: bigint
}

/** Entries verified and written per batch: 16 entry bundles. */
const CHUNK_ENTRIES = 16 * TILE_WIDTH
/** Catch-ups at least this long show progress. */
const PROGRESS_THRESHOLD = BigInt(CHUNK_ENTRIES)
/** Distinct digests remembered per (commit, subject name): enough to show a conflict, bounded under floods. */
const MAX_DIGESTS_PER_SUBJECT = 16
/** Pages of one lookup the audit follows at most (1000 entries a page). */
const MAX_LOOKUP_PAGES = 1000

type CheckpointVerifier = (note: Uint8Array) => Checkpoint

function evidence(size: bigint, root: Uint8Array, checkpoint: string): CheckpointEvidence {
  return { size: size.toString(), root: Buffer.from(root).toString('base64'), checkpoint }
}

/**
 * Follows one log through its checkpoints and tiles only (DESIGN §9): every checkpoint's signature (and
 * witness quorum, with a policy) and its consistency with the last one verified, proved from the NEW
 * tree's tiles, each authenticated (tileHashReader); every entry re-verified (worker threads); its own
 * digest and commit index, from which it audits the log's lookups. Misbehaviour becomes alerts; the
 * monitor never adopts a checkpoint it could not verify. State is in LevelDB: the position advances
 * only after what it covers is written (synced), so after a crash a pass redoes at most one batch and
 * may repeat that batch's alerts (at least once, never lost).
 */
export class Monitor {
  private state: MonitorState | undefined
  private readonly sink: AlertSink
  private readonly fetcher: LogFetcher
  private readonly random: () => number
  private indexAudit: IndexAudit | undefined

  private constructor(
    private readonly config: MonitorConfig,
    private readonly io: MonitorIo,
    private readonly store: MonitorStore,
    private readonly pool: VerifyPool,
    private readonly verifyCheckpoint: CheckpointVerifier,
    private readonly verifyLogSignature: CheckpointVerifier,
    private readonly logKeys: string[],
  ) {
    this.sink = createAlertSink(io, config.webhook)
    this.fetcher = new LogFetcher(config.logUrl, config.fetchConcurrency, io.fetch)
    this.random = io.random ?? Math.random
  }

  /**
   * Opens the monitor's state in `config.dataDir` and reads the log key or policy. Throws MonitorError
   * INVALID_CONFIG (a key or policy that does not parse), DATA_MISMATCH (the state follows another log,
   * or the database is in use).
   */
  static async open(config: MonitorConfig, io: MonitorIo): Promise<Monitor> {
    const { verify, verifyLogOnly, logKeys, index } = await loadTrust(config)
    let store: MonitorStore
    try {
      store = await (io.openStore ?? LevelMonitorStore.open)(join(config.dataDir, 'db'))
    } catch (cause) {
      const detail = (cause as { cause?: Error }).cause?.message ?? (cause as Error).message
      throw new MonitorError('DATA_MISMATCH', `cannot open the database in ${config.dataDir}: ${detail}`, {
        cause,
      })
    }
    const state = await store.readState()
    if (state !== undefined && !state.logKeys.some((key) => logKeys.includes(key))) {
      await store.close()
      throw new MonitorError('DATA_MISMATCH', `${config.dataDir} follows ${state.origin} with another key`)
    }
    const monitor = new Monitor(
      config,
      io,
      store,
      new VerifyPool(config.workers),
      verify,
      verifyLogOnly,
      logKeys,
    )
    monitor.state = state
    try {
      monitor.indexAudit = await IndexAudit.open({
        indexKey: config.indexKey ?? index?.vkey,
        ...(index !== undefined && config.indexKey === undefined && { verify: index.verify }),
        store,
        log: monitor.fetcher,
        index: new LogFetcher(
          `${config.logUrl.replace(/\/+$/, '')}/index`,
          config.fetchConcurrency,
          io.fetch,
        ),
        fetchLeaves,
        warn: (message) => io.stderr.write(`${message}\n`),
      })
    } catch (err) {
      await monitor.close()
      throw err
    }
    return monitor
  }

  /** The position (undefined before the first checkpoint). */
  get position(): MonitorState | undefined {
    return this.state
  }

  async close(): Promise<void> {
    await this.pool.close()
    await this.store.close()
  }

  /**
   * One pass: fetch the checkpoint, verify it and its consistency, index the new entries, audit lookups.
   * Returns the alerts it raised (also emitted to stdout and the webhook). Throws MonitorError
   * LOG_UNREACHABLE when the log does not answer; the state is then unchanged past the last written batch.
   */
  async pass(): Promise<PassResult> {
    const alerts: Alert[] = []
    const emit = async (body: AlertBody) => {
      // Before the first verified checkpoint, the origin is the log key's name.
      const origin = this.state?.origin ?? this.logKeys[0]!.slice(0, this.logKeys[0]!.indexOf('+'))
      const alert = { time: new Date().toISOString(), origin, ...body } as Alert
      alerts.push(alert)
      await this.sink.emit(alert)
    }
    const done = (): PassResult => ({
      alerts,
      size: this.state?.size ?? 0n,
      indexed: this.state?.indexed ?? 0n,
    })

    const bytes = await this.fetcher.checkpoint()
    const text = new TextDecoder().decode(bytes)
    let checkpoint: Checkpoint
    try {
      checkpoint = this.verifyCheckpoint(bytes)
    } catch (err) {
      await emit({ type: 'bad-checkpoint', source: 'checkpoint', ...describeError(err), checkpoint: text })
      return done()
    }
    let reader: SubtreeHashReader | undefined
    const state = this.state
    if (state === undefined) {
      this.state = {
        origin: checkpoint.origin,
        logKeys: this.logKeys,
        size: checkpoint.size,
        root: checkpoint.root,
        checkpoint: text,
        indexed: 0n,
      }
      await this.store.writeState(this.state)
    } else if (checkpoint.origin !== state.origin) {
      await emit({
        type: 'bad-checkpoint',
        source: 'checkpoint',
        code: 'ORIGIN_MISMATCH',
        message: `origin ${checkpoint.origin}`,
        checkpoint: text,
      })
      return done()
    } else if (checkpoint.size < state.size) {
      await emit({
        type: 'inconsistent-checkpoint',
        kind: 'rollback',
        trusted: evidence(state.size, state.root, state.checkpoint),
        received: evidence(checkpoint.size, checkpoint.root, text),
      })
      return done()
    } else if (checkpoint.size === state.size) {
      if (!bytesEqual(checkpoint.root, state.root)) {
        await emit({
          type: 'inconsistent-checkpoint',
          kind: 'fork',
          trusted: evidence(state.size, state.root, state.checkpoint),
          received: evidence(checkpoint.size, checkpoint.root, text),
        })
        return done()
      }
    } else {
      reader = tileHashReader(checkpoint.size, checkpoint.root, (tiles) => this.fetcher.tiles(tiles))
      try {
        const proof = await proveConsistency(state.size, checkpoint.size, reader)
        verifyConsistency(state.size, checkpoint.size, proof, state.root, checkpoint.root)
      } catch (err) {
        if (err instanceof TlogError && err.code === 'PROOF_MISMATCH') {
          await emit({
            type: 'inconsistent-checkpoint',
            kind: 'fork',
            code: err.code,
            trusted: evidence(state.size, state.root, state.checkpoint),
            received: evidence(checkpoint.size, checkpoint.root, text),
          })
          return done()
        }
        if (isBadTile(err)) {
          await emit({ type: 'bad-tile', ...describeError(err), size: checkpoint.size.toString() })
          return done()
        }
        throw err
      }
      this.state = { ...state, size: checkpoint.size, root: checkpoint.root, checkpoint: text }
      await this.store.writeState(this.state)
    }

    const current = this.state!
    const newDigests: string[] = []
    if (current.indexed < current.size) {
      reader ??= tileHashReader(current.size, current.root, (tiles) => this.fetcher.tiles(tiles))
      try {
        await this.index(reader, emit, newDigests)
      } catch (err) {
        if (!isBadTile(err)) throw err
        await emit({ type: 'bad-tile', ...describeError(err), size: current.size.toString() })
        return done()
      }
    }
    // The verifiable index, against the log as verified so far (its leaves beyond wait for a later pass).
    if (this.indexAudit !== undefined) {
      reader ??= tileHashReader(current.size, current.root, (tiles) => this.fetcher.tiles(tiles))
      await this.indexAudit.pass(this.state!, reader, emit)
    }
    await this.audit(emit, newDigests)
    return done()
  }

  /** Re-verifies and indexes entries [indexed, size), chunk by chunk, fetching the next while verifying. */
  private async index(
    reader: SubtreeHashReader,
    emit: (body: AlertBody) => Promise<void>,
    newDigests: string[],
  ): Promise<void> {
    const state = this.state!
    const size = state.size
    const progress =
      size - state.indexed >= PROGRESS_THRESHOLD
        ? new Progress(this.io.stderr, state.indexed, size)
        : undefined
    const chunkEnd = (from: bigint) => {
      const aligned = (from / BigInt(CHUNK_ENTRIES) + 1n) * BigInt(CHUNK_ENTRIES)
      return aligned < size ? aligned : size
    }
    // Chunk k+1 is fetched, authenticated AND queued for verification before chunk k is indexed, so the
    // verify workers never wait for the main thread's indexing and writing.
    const startChunk = (from: bigint) => {
      const verified = this.fetchLeaves(reader, from, chunkEnd(from), size).then((leaves) =>
        this.pool.verify(leaves),
      )
      // Awaited in its round; until then a failure must not count as unhandled.
      verified.catch(() => undefined)
      return verified
    }
    let from = state.indexed
    let next = startChunk(from)
    while (from < size) {
      const to = chunkEnd(from)
      const outcomes = await next
      if (to < size) next = startChunk(to)
      const records = outcomes.map(recordOf)
      const pairs: [string, string][] = []
      for (const o of outcomes)
        if (o.ok) for (const c of o.commits) for (const [name] of o.subjects) pairs.push([c, name])
      const subjects = await this.store.readSubjects(pairs)
      const changed = new Map<string, SubjectRecord>()
      for (const [i, outcome] of outcomes.entries()) {
        const index = Number(from) + i
        if (!outcome.ok) {
          await emit({ type: 'bad-entry', index, code: outcome.code, message: outcome.message })
          continue
        }
        if (outcome.digests.length > 0) newDigests.push(outcome.digests[0]!)
        for (const commit of outcome.commits) {
          for (const [name, digest] of outcome.subjects) {
            const key = subjectKey(commit, name)
            const seen = subjects.get(key) ?? []
            if (seen.some((s) => s.digest === digest)) continue
            // A conflict is a difference in an algorithm both digest sets name (DESIGN §8).
            if (seen.some((s) => digestsDiffer(digestSet(s.digest), digestSet(digest)) !== undefined)) {
              await emit({
                type: 'conflicting-attestations',
                commit,
                subject: name,
                entries: [...seen, { digest, index, keyId: outcome.keyId }],
              })
            }
            if (seen.length < MAX_DIGESTS_PER_SUBJECT) {
              const updated = [...seen, { digest, index, keyId: outcome.keyId }]
              subjects.set(key, updated)
              changed.set(key, updated)
            }
          }
        }
        await this.watch(emit, index, outcome.keyId, outcome.digests, outcome.commits)
      }
      this.state = { ...this.state!, indexed: to }
      await this.store.writeIndexBatch(this.state, { from, records, subjects: changed, indexed: to })
      progress?.update(to)
      from = to
    }
    progress?.finish(from)
  }

  private async watch(
    emit: (body: AlertBody) => Promise<void>,
    index: number,
    keyId: string,
    digests: string[],
    commits: string[],
  ): Promise<void> {
    const base = { type: 'watched-entry' as const, index, keyId, digests, commits }
    for (const d of digests)
      if (this.config.watchDigests.includes(d)) await emit({ ...base, match: 'digest', value: d })
    for (const c of commits)
      if (this.config.watchCommits.includes(c)) await emit({ ...base, match: 'commit', value: c })
    if (this.config.watchKeys.includes(keyId)) await emit({ ...base, match: 'key', value: keyId })
  }

  private fetchLeaves(
    reader: SubtreeHashReader,
    from: bigint,
    to: bigint,
    size: bigint,
  ): Promise<Uint8Array[]> {
    return fetchLeaves(this.fetcher, reader, from, to, size)
  }

  /**
   * Compares the log's lookup answers with the monitor's index, for every watched digest and commit and a
   * sample of digests (from this pass's new entries and from the whole log): every entry indexed below
   * the lookup's signed size must be listed (else omitted-entry), and every listed one must be indexed
   * under the query (else lookup-mismatch).
   */
  private async audit(emit: (body: AlertBody) => Promise<void>, newDigests: string[]): Promise<void> {
    const state = this.state!
    const queries: LookupQuery[] = [
      ...this.config.watchDigests.map((digest) => ({ digest })),
      ...this.config.watchCommits.map((commit) => ({ commit })),
    ]
    const sampled = new Set<string>(this.config.watchDigests)
    const take = (digest: string) => {
      if (sampled.has(digest)) return
      sampled.add(digest)
      queries.push({ digest })
    }
    for (let i = 0; i < this.config.sample && newDigests.length > 0; i++) {
      take(newDigests[Math.floor(this.random() * newDigests.length)]!)
    }
    for (let i = 0; i < this.config.sample && state.indexed > 0n; i++) {
      const index = BigInt(Math.floor(this.random() * Number(state.indexed)))
      const record = await this.store.readEntry(index)
      if (record !== undefined && !('bad' in record) && record.digests.length > 0) take(record.digests[0]!)
    }
    for (const query of queries) await this.auditQuery(emit, query)
  }

  private async auditQuery(emit: (body: AlertBody) => Promise<void>, query: LookupQuery): Promise<void> {
    const state = this.state!
    const listed = new Set<number>()
    let lookupSize: bigint | undefined
    let cursor: string | undefined
    for (let page = 0; page < MAX_LOOKUP_PAGES; page++) {
      const answer = await this.fetcher.lookup(query, cursor)
      const body = answer.body as
        { checkpoint?: unknown; entries?: unknown; nextCursor?: unknown } | undefined
      if (answer.status !== 200 || typeof body?.checkpoint !== 'string' || !Array.isArray(body.entries)) {
        await emit({
          type: 'lookup-failed',
          query,
          message: `status ${answer.status}, or not a lookup answer`,
        })
        return
      }
      if (lookupSize === undefined) {
        let checkpoint: Checkpoint
        try {
          // The log's signature binds the answer to the log; the witness quorum is for the head it follows.
          checkpoint = this.verifyLogSignature(new TextEncoder().encode(body.checkpoint))
        } catch (err) {
          await emit({
            type: 'bad-checkpoint',
            source: 'lookup',
            ...describeError(err),
            checkpoint: body.checkpoint,
          })
          return
        }
        if (checkpoint.size === state.size && !bytesEqual(checkpoint.root, state.root)) {
          await emit({
            type: 'inconsistent-checkpoint',
            kind: 'fork',
            trusted: evidence(state.size, state.root, state.checkpoint),
            received: evidence(checkpoint.size, checkpoint.root, body.checkpoint),
          })
          return
        }
        lookupSize = checkpoint.size
      }
      for (const entry of body.entries as { index?: unknown }[]) {
        if (typeof entry?.index === 'number' && Number.isSafeInteger(entry.index)) listed.add(entry.index)
      }
      if (typeof body.nextCursor !== 'string') break
      cursor = body.nextCursor
    }
    const below = lookupSize! < state.indexed ? lookupSize! : state.indexed
    const ours = await this.store.matches(query, below)
    for (const [index, keyId] of ours) {
      if (!listed.has(index)) {
        await emit({ type: 'omitted-entry', query, index, keyId, lookupSize: lookupSize!.toString() })
      }
    }
    for (const index of [...listed].sort((a, b) => a - b)) {
      if (BigInt(index) >= below || ours.has(index)) continue
      const record = await this.store.readEntry(BigInt(index))
      // An entry that failed re-verification already raised bad-entry; the log may index it anyway.
      if (record !== undefined && 'bad' in record) continue
      await emit({ type: 'lookup-mismatch', query, index, lookupSize: lookupSize!.toString() })
    }
  }
}

/**
 * Reads the log key, key file or policy of `config`: `verify` checks a checkpoint the monitor may adopt
 * (log signature, and the policy's witness quorum), `verifyLogOnly` only the log's signature (for the
 * checkpoints of lookup answers). Throws MonitorError INVALID_CONFIG.
 */
async function loadTrust(config: MonitorConfig): Promise<{
  verify: CheckpointVerifier
  verifyLogOnly: CheckpointVerifier
  logKeys: string[]
  /** A policy that lists the log's index (`<origin>/index`) too: its key, and the policy's quorum for it. */
  index?: { vkey: string; verify: CheckpointVerifier }
}> {
  const read = async (path: string) => {
    try {
      return await readFile(path)
    } catch (cause) {
      throw new MonitorError('INVALID_CONFIG', `cannot read ${path}`, { cause })
    }
  }
  try {
    if (config.policyFile !== undefined) {
      const parsed = parseTlogPolicy(await read(config.policyFile))
      // The index's output log, when the policy lists it beside its log: verified with the policy's witness
      // quorum like the log, and kept out of the log's own keys.
      const indexLog = parsed.logs.find((l) =>
        parsed.logs.some((other) => l.verifier.name === `${other.verifier.name}/index`),
      )
      const policy = { ...parsed, logs: parsed.logs.filter((l) => l !== indexLog) }
      const index =
        indexLog === undefined
          ? undefined
          : {
              vkey: indexLog.vkey,
              verify: (note: Uint8Array) =>
                verifyCheckpointWithPolicy({ ...parsed, logs: [indexLog] }, note).checkpoint,
            }
      if (policy.logs.length === 0)
        throw new MonitorError('INVALID_CONFIG', `${config.policyFile} lists no log`)
      const verifyLogOnly = (note: Uint8Array) => {
        const origin = new TextDecoder().decode(note).split('\n', 1)[0]
        const log = policy.logs.find((l) => l.verifier.name === origin) ?? policy.logs[0]!
        return openCheckpoint(note, log.verifier).checkpoint
      }
      return {
        verify: (note) => verifyCheckpointWithPolicy(policy, note).checkpoint,
        verifyLogOnly,
        logKeys: policy.logs.map((log) => log.vkey),
        ...(index !== undefined && { index }),
      }
    }
    const vkey =
      config.logKey ??
      new TextDecoder()
        .decode(await read(config.logKeyFile!))
        .split('\n', 1)[0]!
        .trim()
    const verifier = parseVerifierKey(vkey)
    const verify = (note: Uint8Array) => openCheckpoint(note, verifier).checkpoint
    return { verify, verifyLogOnly: verify, logKeys: [vkey] }
  } catch (err) {
    if (err instanceof MonitorError) throw err
    throw new MonitorError(
      'INVALID_CONFIG',
      `the log key or policy does not parse: ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
}

/**
 * The leaves [from, to) of the tree of `size`: their hashes from authenticated tiles, their bytes from
 * the entry bundles, each checked against its hash. Throws TlogError TILE_MISMATCH (a bundle entry that
 * is not the tree's leaf), MALFORMED_ENTRY_BUNDLE, MALFORMED_TILE, MonitorError BAD_ANSWER/LOG_UNREACHABLE.
 */
export async function fetchLeaves(
  fetcher: LogFetcher,
  reader: SubtreeHashReader,
  from: bigint,
  to: bigint,
  size: bigint,
): Promise<Uint8Array[]> {
  const ids: SubtreeId[] = []
  for (let i = from; i < to; i++) ids.push({ level: 0, index: i })
  const first = from / BigInt(TILE_WIDTH)
  const last = (to - 1n) / BigInt(TILE_WIDTH)
  const bundles: EntryBundleId[] = []
  for (let n = first; n <= last; n++) {
    const available = size - n * BigInt(TILE_WIDTH)
    bundles.push({ index: n, width: available >= BigInt(TILE_WIDTH) ? TILE_WIDTH : Number(available) })
  }
  const [hashes, bundleBytes] = await Promise.all([reader(ids), fetcher.entryBundles(bundles)])
  const leaves: Uint8Array[] = []
  bundles.forEach((bundle, b) => {
    const entries = decodeEntryBundle(bundleBytes[b]!, bundle.width)
    entries.forEach((leaf, k) => {
      const index = bundle.index * BigInt(TILE_WIDTH) + BigInt(k)
      if (index < from || index >= to) return
      if (!bytesEqual(hashLeaf(leaf), hashes[Number(index - from)]!)) {
        throw new TlogError('TILE_MISMATCH', `entry ${index} of its bundle is not the tree's leaf ${index}`)
      }
      leaves.push(leaf)
    })
  })
  return leaves
}
