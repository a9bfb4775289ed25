import { mkdir, readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { ADD_CHECKPOINT_PATH, encodeTlogSize, parseTlogPolicy, TLOG_SIZE_CONTENT_TYPE } from '@ledger/tlog'
import { DEFAULT_WITNESS_NAME, type WitnessConfig } from './config.js'
import { STATUS_BY_CODE, WitnessError } from './errors.js'
import { writeFileDurably } from '@ledger/durable-file'
import {
  closeServer,
  createLimitedServer,
  discardBody,
  createRegistry,
  httpDurationHistogram,
  listen,
  observeRequests,
  readBody,
  sendHealth,
  sendMetrics,
  type Logger,
} from '@ledger/service'
import { Counter, Histogram } from 'prom-client'
import { LevelWitnessStore } from './level-store.js'
import type { KnownLog, WitnessStore } from './store.js'
import { knownLogsFromVerifierKeys, systemClock, Witness, type Clock } from './witness.js'
import { WITNESS_KEY_FILE, loadOrCreateWitnessKey, type WitnessKey } from './witness-key.js'

/** A witness running in this process. */
export interface RunningWitness {
  /** Base URL, e.g. `http://127.0.0.1:41234`: the submission prefix (POST <url>/add-checkpoint). */
  url: string
  port: number
  /** The witness key's name. */
  name: string
  /** C2SP cosignature/v1 verifier key string (type 0x04) of the witness key. */
  verifierKey: string
  /** True when this start generated the key (a new witness). */
  created: boolean
  /** The logs it cosigns. */
  logs: KnownLog[]
  /** The decision procedure, for tests and tools in this process. */
  witness: Witness
  /** Stops listening, lets requests in progress finish, closes the database. Idempotent. */
  close(): Promise<void>
}

/** Test and embedding hooks of startWitness. */
export interface StartWitnessOptions {
  /** The cosignature clock (POSIX seconds). Default: the system clock. */
  clock?: Clock
  /** Opens the store at `location` (default LevelWitnessStore.open). */
  openStore?: (location: string) => Promise<WitnessStore>
  /** The JSON request log (main.ts: pino on stdout at --log-level); none: no request log. */
  logger?: Logger
}

const PREFIX = 'ledger_witness_'

/** The witness's route templates (metric labels and log lines never carry a raw path). */
function witnessRoute(_method: string, path: string): string {
  return path === ADD_CHECKPOINT_PATH || ['/healthz', '/readyz', '/metrics'].includes(path)
    ? path
    : 'unmatched'
}

/** The witness's metrics: cosignature requests by answer status, and how long they took. */
class WitnessMetrics {
  readonly registry = createRegistry()
  readonly http = httpDurationHistogram(this.registry, PREFIX)
  readonly requests = new Counter({
    name: `${PREFIX}add_checkpoint_total`,
    help: 'add-checkpoint requests by answer status (200 cosigned, 409 conflict, 4xx refused)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  })
  readonly seconds = new Histogram({
    name: `${PREFIX}add_checkpoint_duration_seconds`,
    help: 'add-checkpoint requests, request to answer (seconds)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  })
}

const CLOSE_GRACE_MS = 5_000

/**
 * Opens (or creates) the witness in `config.dataDir` and serves C2SP tlog-witness on `config.host`:
 * `config.port`: POST /add-checkpoint, and GET /healthz (alive), GET /readyz (the store answers) and GET
 * /metrics (Prometheus) for operators. On a first start it generates
 * the key (`witness.key`, mode 0600) named `config.name`. The known logs come from `config.logsFile`
 * (stored, replacing the previous list) or, without it, from the list an earlier start stored.
 * Throws WitnessError INVALID_CONFIG (bad name, logs file, no logs) or DATA_MISMATCH (the data directory
 * belongs to another key, is locked by another process, or has a key but no state and
 * `config.newIdentity` is false); nothing is left running then.
 */
export async function startWitness(
  config: WitnessConfig,
  options: StartWitnessOptions = {},
): Promise<RunningWitness> {
  await mkdir(config.dataDir, { recursive: true })
  let store: WitnessStore
  try {
    store = await (options.openStore ?? LevelWitnessStore.open)(join(config.dataDir, 'db'))
  } catch (cause) {
    const detail = (cause as { cause?: Error }).cause?.message ?? (cause as Error).message
    throw new WitnessError('DATA_MISMATCH', `cannot open the database in ${config.dataDir}: ${detail}`, {
      cause,
    })
  }
  try {
    const meta = await store.readMeta()
    const recordKey = (key: WitnessKey) =>
      store.writeMeta({ verifierKey: key.verifierKey, createdAt: new Date().toISOString() })
    const { key, created } = await loadOrCreateWitnessKey(
      config.dataDir,
      config.name,
      DEFAULT_WITNESS_NAME,
      meta?.verifierKey,
      recordKey,
    )
    if (meta === undefined && !created) {
      if (!config.newIdentity) {
        // The key may have cosigned checkpoints whose record is gone: with no state it would cosign a
        // fork of them. Only the operator knows whether it is new.
        throw new WitnessError(
          'DATA_MISMATCH',
          `${join(config.dataDir, WITNESS_KEY_FILE)} exists but ${join(config.dataDir, 'db')} holds no witness state: ` +
            'a witness that lost its state would cosign a fork of what it cosigned before. Restore the state ' +
            'from a backup, or move the key away to start as a new witness (a new key); pass --new-identity ' +
            'only if this key has never cosigned anything (docs/design/witness.md)',
        )
      }
      await recordKey(key)
    } else if (meta !== undefined && meta.verifierKey !== key.verifierKey) {
      throw new WitnessError(
        'DATA_MISMATCH',
        `the database belongs to ${meta.verifierKey}, not ${key.verifierKey}`,
      )
    }
    let logs: KnownLog[]
    if (config.logsFile !== undefined) {
      logs = await readLogsFile(config.logsFile)
      await store.writeLogs(logs)
    } else {
      const stored = await store.readLogs()
      if (stored === undefined)
        throw new WitnessError('INVALID_CONFIG', 'no logs configured: pass --logs FILE')
      logs = stored
    }
    if (config.verifierKeyFile !== undefined) {
      await writeFileDurably(config.verifierKeyFile, `${key.verifierKey}\n`, 0o644)
    }
    const witness = new Witness(store, key, logs, options.clock ?? systemClock)
    const metrics = new WitnessMetrics()
    let closingNow = false
    const ops: Ops = {
      metrics,
      ready: async () => {
        if (closingNow) return false
        await store.readLogs()
        return true
      },
    }
    const handler = observeRequests((req, res) => void handle(witness, config.bodyLimit, ops, req, res), {
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
      routeOf: witnessRoute,
      duration: metrics.http,
      done: (route, status, seconds) => {
        if (route !== ADD_CHECKPOINT_PATH) return
        metrics.requests.inc({ status: String(status) })
        metrics.seconds.observe(seconds)
      },
    })
    const server = createLimitedServer(config, handler)
    await listen(server, config.port, config.host)
    const port = (server.address() as AddressInfo).port
    const host = config.host.includes(':') ? `[${config.host}]` : config.host
    let closing: Promise<void> | undefined
    const close = () => {
      closing ??= (async () => {
        closingNow = true
        await closeServer(server, CLOSE_GRACE_MS)
        await store.close()
      })()
      return closing
    }
    return {
      url: `http://${host}:${port}`,
      port,
      name: key.name,
      verifierKey: key.verifierKey,
      created,
      logs,
      witness,
      close,
    }
  } catch (err) {
    await store.close()
    throw err
  }
}

/** Reads the known logs from a tlog-policy file's `log` lines. Throws WitnessError INVALID_CONFIG. */
export async function readLogsFile(path: string): Promise<KnownLog[]> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (cause) {
    throw new WitnessError('INVALID_CONFIG', `cannot read the logs file ${path}`, { cause })
  }
  try {
    const policy = parseTlogPolicy(bytes, { quorumOptional: true })
    return knownLogsFromVerifierKeys(policy.logs.map((log) => log.vkey))
  } catch (cause) {
    if (cause instanceof WitnessError) throw cause
    throw new WitnessError('INVALID_CONFIG', `${path}: ${(cause as Error).message}`, { cause })
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  })
  res.end(body)
}

function sendError(res: ServerResponse, err: unknown): void {
  if (!(err instanceof WitnessError) || STATUS_BY_CODE[err.code] === 500) {
    console.error('witness: internal error:', err)
    send(res, 500, 'text/plain; charset=utf-8', 'internal error\n')
    return
  }
  if (err.code === 'SIZE_CONFLICT' && err.witnessSize !== undefined) {
    // tlog-witness: the body is the size of the latest cosigned checkpoint, as text/x.tlog.size.
    send(res, 409, TLOG_SIZE_CONTENT_TYPE, encodeTlogSize(err.witnessSize))
    return
  }
  send(res, STATUS_BY_CODE[err.code], 'text/plain; charset=utf-8', `${err.message}\n`)
}

/** What the operator endpoints read. */
interface Ops {
  metrics: WitnessMetrics
  /** True when the store answers and the witness is not closing. */
  ready(): Promise<boolean>
}

async function handle(
  witness: Witness,
  bodyLimit: number,
  ops: Ops,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const path = (req.url ?? '').split('?', 1)[0]
    if (path === ADD_CHECKPOINT_PATH) {
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST')
        throw new WitnessError('METHOD_NOT_ALLOWED', 'add-checkpoint takes POST')
      }
      const body = await readBody(req, bodyLimit, {
        tooLarge: () => new WitnessError('PAYLOAD_TOO_LARGE', `the body is over ${bodyLimit} bytes`),
        aborted: () => new WitnessError('MALFORMED_REQUEST', 'the request was aborted'),
      })
      const line = await witness.addCheckpoint(body)
      send(res, 200, 'text/plain; charset=utf-8', line)
      return
    }
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      send(res, 200, 'text/plain; charset=utf-8', 'ok\n')
      return
    }
    if (path === '/readyz' && (req.method === 'GET' || req.method === 'HEAD')) {
      let ready = false
      try {
        ready = await ops.ready()
      } catch {
        ready = false
      }
      sendHealth(res, ready ? 200 : 503, { ready, store: ready ? 'ok' : 'failed' })
      return
    }
    if (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      await sendMetrics(ops.metrics.registry, res)
      return
    }
    throw new WitnessError('NOT_FOUND', 'no such route')
  } catch (err) {
    // An unread (or oversized) body is read and dropped first (up to DISCARD_LIMIT), so that a client still
    // sending it reads the answer instead of a reset; past that limit, answer and close.
    if (!req.complete && !(await discardBody(req))) res.setHeader('Connection', 'close')
    sendError(res, err)
  }
}
