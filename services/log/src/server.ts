import { buildLogTrustedRoot } from '@ledger/attestation'
import { randomBytes } from 'node:crypto'
import { closeServer, createLimitedServer, listen } from '@ledger/service'
import { parseVerifierKey } from '@ledger/tlog'
import { mkdir, readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { Logger } from '@ledger/service'
import { createApp } from './app.js'
import { commitsInFlightFor, DEFAULT_ORIGIN, redactUrl, witnessEndpoint, type LogConfig } from './config.js'
import { LogServerError } from './errors.js'
import { LookupCache } from './lookup-cache.js'
import { createRequestHandler } from './http.js'
import { openIndexService, type IndexService } from './index-service.js'
import { Ingest, type Admission } from './ingest.js'
import { LevelStore } from './level-store.js'
import { LOG_KEY_FILE, loadOrCreateLogKey, type LogKey } from './log-key.js'
import { LogReader } from './log-reader.js'
import { LogMetrics, withOperations } from './operations.js'
import { createPages } from './pages.js'
import { ClusterNode } from './cluster-node.js'
import { LocalNode, type LogNode } from './node.js'
import { PostgresStore } from './postgres-store.js'
import type { LogBackend, LogMeta } from './store.js'
import { TileCache } from './tile-cache.js'
import { VerifyPool } from './verify-pool.js'
import type { WitnessEndpoint, WitnessingOptions, WitnessPost } from './witnessing.js'

/** A log server running in this process. */
export interface RunningLog {
  /** Base URL it listens on, e.g. `http://127.0.0.1:41234` (the real port when started with port 0). */
  url: string
  port: number
  origin: string
  /** C2SP note verifier key string of the log key. */
  verifierKey: string
  /** True when this start generated the log key (a new log). */
  created: boolean
  /** With --index: the verifiable index's note verifier key (origin `<origin>/index`), for trust policies. */
  indexVerifierKey?: string
  /**
   * The checkpoint served to readers (GET /checkpoint): with witnesses, the newest with the quorum's
   * cosignatures (see Witnessing); without, the newest committed.
   */
  servedCheckpoint(): string
  /**
   * Graceful stop: new submissions answer 503 SHUTTING_DOWN, those in progress are committed and
   * answered (reads are still served meanwhile), then the listener, the verify workers and the database
   * close. Idempotent.
   */
  close(): Promise<void>
}

/** Test and embedding hooks of startLogServer. */
export interface StartOptions {
  /**
   * Opens the store at `location` (default: LevelStore.open). Tests pass fault-injecting wrappers.
   */
  openStore?: (location: string) => Promise<LogBackend>
  /** How witnesses are reached (default: fetch). Tests pass slow or failing transports. */
  witnessPost?: WitnessPost
  /**
   * PostgreSQL: what to do when this process sequenced and lost its lock (default: report and exit 1 at
   * once, so that it never writes beside the process that took over).
   */
  onFatal?: (err: Error) => void
  /** The JSON request log (main.ts: pino on stdout at --log-level); none: no request log. */
  logger?: Logger
}

/** PostgreSQL: how often a process that does not sequence tries to take over, and reads the head, ms. */
const LEASE_RETRY_MS = 500
const POLL_MS = 1000

function defaultOnFatal(err: Error): never {
  console.error(`fatal: ${err.message}; exiting so that another process sequences`)
  process.exit(1)
}

/** How long close() lets open connections finish their answers before cutting them. */
const CLOSE_GRACE_MS = 10_000

/** Reads an allowlist file: one lowercase hex key id per line; blank lines and `#` comments ignored. */
export async function readAllowlist(path: string): Promise<Set<string>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new LogServerError('INVALID_CONFIG', `cannot read the allowlist ${path}`, { cause })
  }
  const keyIds = new Set<string>()
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim()
    if (line === '') return
    if (!/^[0-9a-f]{64}$/.test(line)) {
      throw new LogServerError('INVALID_CONFIG', `${path}:${i + 1}: not a key id (64 lowercase hex)`)
    }
    keyIds.add(line)
  })
  return keyIds
}

/**
 * The configured witnesses: those given with their keys, and the one whose key is in a file
 * (--witness-url/--witness-key-file), read now. Throws LogServerError INVALID_CONFIG.
 */
export async function readWitnesses(config: LogConfig): Promise<WitnessEndpoint[]> {
  if (config.witnessUrl === undefined || config.witnessKeyFile === undefined) return config.witnesses
  let text: string
  try {
    text = await readFile(config.witnessKeyFile, 'utf8')
  } catch (cause) {
    throw new LogServerError('INVALID_CONFIG', `cannot read the witness key file ${config.witnessKeyFile}`, {
      cause,
    })
  }
  const fromFile = witnessEndpoint(config.witnessUrl, text.trim(), config.witnessKeyFile)
  if (config.witnesses.some((w) => w.verifierKey === fromFile.verifierKey)) {
    throw new LogServerError('INVALID_CONFIG', 'the same witness key is given twice')
  }
  return [...config.witnesses, fromFile]
}

/** The store's record of the log, when it records `key`. Throws LogServerError DATA_MISMATCH otherwise. */
function metaOf(meta: LogMeta | undefined, key: LogKey): LogMeta {
  if (meta === undefined || meta.verifierKey !== key.verifierKey || meta.origin !== key.origin) {
    throw new LogServerError(
      'DATA_MISMATCH',
      `the database belongs to ${meta?.verifierKey ?? 'no log'}, but log.key is ${key.verifierKey}`,
    )
  }
  return meta
}

/**
 * Opens (or creates) the log in `config.dataDir` and serves it on `config.host`:`config.port`.
 * On a first start it generates the log key (`log.key`, mode 0600) named `config.origin` (or the
 * default) and commits the empty tree's checkpoint. Later starts resume from the committed state.
 * Throws LogServerError DATA_MISMATCH when the data directory belongs to another key or origin or does
 * not hold together, INVALID_CONFIG for a bad origin or allowlist; nothing is left running then.
 */
export async function startLogServer(config: LogConfig, options: StartOptions = {}): Promise<RunningLog> {
  await mkdir(config.dataDir, { recursive: true })
  const admission: Admission =
    config.allowlistFile === undefined
      ? { kind: 'open' }
      : { kind: 'allowlist', keyIds: await readAllowlist(config.allowlistFile) }
  const witnesses = await readWitnesses(config)
  const postgres = config.store !== 'leveldb'
  let store: LogBackend
  try {
    if (options.openStore !== undefined) store = await options.openStore(join(config.dataDir, 'db'))
    else if (postgres) store = await PostgresStore.open(config.store)
    else store = await LevelStore.open(join(config.dataDir, 'db'))
  } catch (cause) {
    const detail = (cause as { cause?: Error }).cause?.message ?? (cause as Error).message
    const where = postgres ? redactUrl(config.store) : config.dataDir
    throw new LogServerError('DATA_MISMATCH', `cannot open the database in ${where}: ${detail}`, {
      cause,
    })
  }
  let pool: VerifyPool | undefined
  let node: LogNode | undefined
  let index: IndexService | undefined
  try {
    const meta = await store.readMeta()
    // Records a key in the store that holds no log yet. Another process of the same log (PostgreSQL) may
    // have recorded its own first: what the store kept decides (metaOf throws when it is not this key).
    const recordKey = async (key: LogKey): Promise<void> => {
      await store.writeMeta({
        origin: key.origin,
        verifierKey: key.verifierKey,
        createdAt: new Date().toISOString(),
      })
      metaOf(await store.readMeta(), key)
    }
    const { key, created } = await loadOrCreateLogKey(
      config.dataDir,
      config.origin,
      DEFAULT_ORIGIN,
      meta?.verifierKey,
      recordKey,
    )
    if (meta === undefined && !created) {
      if (!config.newIdentity) {
        // The key may have signed checkpoints whose store is gone: on an empty store it would sign a
        // second history. Only the operator knows whether it is new.
        throw new LogServerError(
          'DATA_MISMATCH',
          `${join(config.dataDir, LOG_KEY_FILE)} exists but the store (${postgres ? redactUrl(config.store) : join(config.dataDir, 'db')}) holds no log: ` +
            'a log that lost its store would sign a second history. Restore the store from a backup, or move ' +
            'the key away to start a new log (a new key); pass --new-identity only if this key has never ' +
            'signed anything (docs/design/log-storage.md)',
        )
      }
      await recordKey(key)
    }
    const createdAt = metaOf(meta ?? (await store.readMeta()), key).createdAt
    const metrics = new LogMetrics()
    const tiles = new TileCache(store, config.cacheBytes)
    const reader = new LogReader(tiles)
    const witnessing: WitnessingOptions | undefined =
      witnesses.length === 0
        ? undefined
        : {
            witnesses,
            quorum: config.witnessQuorum ?? witnesses.length,
            timeoutMs: config.witnessTimeoutMs,
            refreshMs: config.witnessRefreshS * 1000,
            logVerifier: parseVerifierKey(key.verifierKey),
            store,
            consistencyProof: (from, to) => reader.consistencyProof(from, to),
            observer: metrics.witnessing,
            ...(options.witnessPost !== undefined ? { post: options.witnessPost } : {}),
          }
    const common = {
      tiles,
      signer: key.signer,
      origin: key.origin,
      sequencer: {
        batchSize: config.batchSize,
        batchWaitMs: config.batchWaitMs,
        commitsInFlight: commitsInFlightFor(config),
        observer: metrics.sequencer,
      },
      ...(witnessing !== undefined && { witnessing }),
    }
    if (store instanceof PostgresStore) {
      node = await ClusterNode.start({
        ...common,

        url: config.store,
        store,
        leaseRetryMs: LEASE_RETRY_MS,
        pollMs: POLL_MS,
        pendingWaitMs: config.pendingWaitMs,
        onFatal: options.onFatal ?? defaultOnFatal,
      })
    } else {
      node = await LocalNode.open({ ...common, store })
    }
    const running = node
    const served = () => running.served()
    pool = new VerifyPool(config.verifyWorkers, {
      marker: `ledger-receipt-${randomBytes(16).toString('hex')}`,
      logIdB64: Buffer.from(key.logId).toString('base64'),
    })
    const ingest = new Ingest(pool, running, reader, key, admission, config.queueLimit, {
      witnessed: witnesses.length > 0,
      waitMs: config.receiptWitnessWaitMs,
    })
    index = config.index
      ? await openIndexService({
          dataDir: config.dataDir,
          origin: key.origin,
          input: store,
          inputReader: reader,
          node: running,
          cacheBytes: Math.floor(config.cacheBytes / 4),
          newIdentity: config.newIdentity,
          // The output log is cosigned by the log's witnesses, with the log's quorum.
          ...(witnessing !== undefined && {
            witnessing: {
              witnesses,
              quorum: witnessing.quorum,
              timeoutMs: witnessing.timeoutMs,
              refreshMs: witnessing.refreshMs ?? 0,
              ...(options.witnessPost !== undefined ? { post: options.witnessPost } : {}),
            },
          }),
        })
      : undefined
    const lookups = new LookupCache()
    const app = createApp({
      lookups,
      key,
      head: () => running.head,
      served,
      store,
      reader,
      trustedRoot: buildLogTrustedRoot(key.verifierKey, createdAt),
      ...(index !== undefined && { index }),
    })
    metrics.attach({ node: running, ingest, pool })
    const handler = createRequestHandler(
      {
        served,
        tiles,
        ingest,
        bodyLimit: config.bodyLimit,
        lookups,
        onSubmission: metrics.submitted,
        ...(index !== undefined && { index }),
      },
      app,
    )
    const operations = {
      metrics,
      node: running,
      ingest,
      store,
      verifierKey: key.verifierKey,
      witnesses: witnesses.map((w) => w.verifierKey),
      quorum: config.witnessQuorum ?? witnesses.length,
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
      pages: createPages({
        origin: key.origin,
        verifierKey: key.verifierKey,
        node: running,
        store,
        reader,
        witnesses: witnesses.map((w) => w.verifierKey),
        quorum: config.witnessQuorum ?? witnesses.length,
      }),
    }
    const server = createLimitedServer(config, withOperations(operations, handler))
    await listen(server, config.port, config.host)
    const port = (server.address() as AddressInfo).port
    const host = config.host.includes(':') ? `[${config.host}]` : config.host
    const stopPool = pool
    let closing: Promise<void> | undefined
    const close = () => {
      closing ??= (async () => {
        // First the submissions: new ones answer 503 (the listener stays open so that clients get an
        // answer they can retry on, not a refused connection), admitted ones are committed and answered.
        await ingest.close()
        await running.drain()
        // Connections whose last answer went out before the shutdown began idle in keep-alive: close them
        // as they become idle; cut whatever is still open after the grace period.
        await closeServer(server, CLOSE_GRACE_MS, 50)
        await running.close()
        await index?.close()
        await stopPool.close()
        await store.close()
      })()
      return closing
    }
    return {
      url: `http://${host}:${port}`,
      port,
      origin: key.origin,
      verifierKey: key.verifierKey,
      created,
      ...(index !== undefined && { indexVerifierKey: index.verifierKey }),
      servedCheckpoint: () => served().checkpoint,
      close,
    }
  } catch (err) {
    await node?.close()
    await index?.close()
    await pool?.close()
    await store.close()
    throw err
  }
}
