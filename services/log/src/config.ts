import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import {
  DEFAULT_HTTP_LIMITS,
  LOG_LEVELS,
  isLogLevel,
  optionsHelp,
  parseOptions,
  type LogLevel,
  type OptionSpec,
} from '@ledger/service'
import { parseCosignatureVerifierKey } from '@ledger/tlog'
import { LogServerError } from './errors.js'
import type { WitnessEndpoint } from './witnessing.js'

/**
 * Everything the log server can be told. This file is the only reader of `process.argv` and
 * `process.env`; every option has a flag, an environment variable and a default, listed in OPTIONS.
 */
export interface LogConfig {
  /** Directory holding `log.key` and, with the LevelDB store, the database (`db/`). Created when missing. */
  dataDir: string
  /**
   * Where the log is stored: `leveldb` (the embedded default, in `<dataDir>/db`, one process) or a
   * PostgreSQL URL (`postgres://user@host:port/db`): then several processes may serve one log, one of them
   * sequencing at a time.
   */
  store: string
  /** With PostgreSQL: longest wait of a submission queued for the sequencing process before 503, ms. */
  pendingWaitMs: number
  /** Address to listen on. */
  host: string
  /** TCP port; 0 lets the OS pick one (the chosen port is printed and returned by startLogServer). */
  port: number
  /**
   * The log's origin (checkpoint first line and note key name). Undefined: take it from an existing
   * `log.key`, or use DEFAULT_ORIGIN on the first start. Given and different from the key's: refused.
   */
  origin: string | undefined
  /** Largest number of entries integrated in one batch (one LevelDB write, one checkpoint). */
  batchSize: number
  /**
   * Longest time, in milliseconds, the first submission ready for a batch waits for company when no
   * commit is in flight. 0 (the default) commits at once: group commit batches anyway, since whatever
   * arrives while one batch commits goes into the next.
   */
  batchWaitMs: number
  /**
   * Batches committing at once (1 to 4). With 2, the next batch is integrated and handed to the store
   * while the one before commits: PostgreSQL then writes its rows while the one before syncs; LevelDB
   * still writes one batch at a time. Undefined, the default: 2 on PostgreSQL (measured: about 40% more
   * entries/s than 1, docs/design/postgres.md), 1 on LevelDB (commitsInFlightFor).
   */
  commitsInFlight: number | undefined
  /** Largest accepted POST body, in bytes; checked before any parsing. */
  bodyLimit: number
  /**
   * Most submissions admitted at once (verifying, queued or committing); beyond it POST answers 503.
   * The default is about one second of work at the ingest rate of a small machine, which bounds the
   * queueing delay of those admitted.
   */
  queueLimit: number
  /** Signature-verification worker threads; 0 verifies on the main thread. */
  verifyWorkers: number
  /** File of admitted key ids (lowercase hex SHA-256 of SPKI DER, one per line, `#` comments); undefined = open. */
  allowlistFile: string | undefined
  /** Memory budget of the tile and entry-bundle cache, in bytes. */
  cacheBytes: number
  /**
   * C2SP tlog-witness witnesses asked to cosign each checkpoint (`--witness URL=VERIFIERKEY`, repeatable).
   * With any, GET /checkpoint, lookups and entries serve the newest checkpoint cosigned by the quorum.
   */
  witnesses: WitnessEndpoint[]
  /**
   * One more witness whose verifier key is read from a file at start (`--witness-url` with
   * `--witness-key-file`): for deployments where the witness publishes its key in a file, as
   * docker-compose.yml does. Both or neither.
   */
  witnessUrl: string | undefined
  witnessKeyFile: string | undefined
  /** How many distinct witnesses make a checkpoint served; undefined = all of them. */
  witnessQuorum: number | undefined
  /** Longest one exchange with a witness may take, in milliseconds; a slower witness is skipped for it. */
  witnessTimeoutMs: number
  /**
   * Freshness: when nothing newer came for this many seconds since the served checkpoint was cosigned,
   * the witnesses are asked to cosign it again (a new time), so that clients with a maximum checkpoint age
   * keep accepting an idle log. 0: never.
   */
  witnessRefreshS: number
  /**
   * How long a new entry's receipt may wait for a witnessed checkpoint that covers it, in milliseconds.
   * 0 (the default): receipts carry the log-signed checkpoint at once, and a client that requires
   * cosignatures gets them with a lookup. After the wait the receipt carries the log-signed checkpoint.
   */
  receiptWitnessWaitMs: number
  /**
   * Run the verifiable index (docs/design/verifiable-index.md): the output log `<origin>/index` under
   * /index/ and GET /api/v1/index/lookup. LevelDB only, for now.
   */
  index: boolean
  /** Level of the JSON request and event log on stdout (pino): fatal..trace, or silent. */
  logLevel: LogLevel
  /**
   * The operator's word that `log.key` is a new identity that has signed nothing yet (a key made before
   * the first start). Without it, a key file with a store that holds no log (LevelDB or PostgreSQL) is
   * refused: a log that lost its store but kept its key would sign a second history. Ignored once the
   * store holds the log.
   */
  newIdentity: boolean
  /** Longest time a client may take to send a request's headers, ms (then 408 and closed). */
  headersTimeoutMs: number
  /** Longest time a client may take to send a whole request, ms. */
  requestTimeoutMs: number
  /**
   * Most connections open at once from one client address; more are closed at once. Higher than the
   * witness's: many rebuilders may share one address (a NAT, a CI farm), each with a connection pool.
   */
  maxConnectionsPerClient: number
}

/** The origin used on a first start without `--origin`. */
export const DEFAULT_ORIGIN = 'localhost/ledger'

/**
 * When no commit is in flight, the first entry ready waits this long for company. Under load a commit is
 * nearly always in flight and batches form behind it; in the gaps between, a batch of one or two would
 * cost a whole fsync and checkpoint. Measured with 64 clients on 2 cores (`npm run bench -- log`, six
 * runs each): 1 ms gave about 3% more than 0 and as much as 2; an idle log answers 1 ms later.
 */
export const DEFAULT_BATCH_WAIT_MS = 1

/** Batches committing at once on PostgreSQL unless configured (LevelDB writes one at a time: 1). */
export const DEFAULT_POSTGRES_COMMITS_IN_FLIGHT = 2

/** The batches the sequencer keeps committing at once: as configured, else the store's default. */
export function commitsInFlightFor(config: Pick<LogConfig, 'commitsInFlight' | 'store'>): number {
  return config.commitsInFlight ?? (config.store === 'leveldb' ? 1 : DEFAULT_POSTGRES_COMMITS_IN_FLIGHT)
}

/** Defaults, resolved against the machine where they depend on it. */
export function defaultConfig(): LogConfig {
  return {
    dataDir: resolve('data'),
    store: 'leveldb',
    pendingWaitMs: 30_000,
    host: '127.0.0.1',
    port: 8080,
    origin: undefined,
    batchSize: 1000,
    batchWaitMs: DEFAULT_BATCH_WAIT_MS,
    commitsInFlight: undefined,
    bodyLimit: 256 * 1024,
    queueLimit: 5_000,
    // One core stays with the main thread (HTTP, hashing, LevelDB); the others verify signatures.
    verifyWorkers: Math.max(1, availableParallelism() - 1),
    allowlistFile: undefined,
    cacheBytes: 64 * 1024 * 1024,
    witnesses: [],
    witnessUrl: undefined,
    witnessKeyFile: undefined,
    witnessQuorum: undefined,
    witnessTimeoutMs: 2000,
    witnessRefreshS: 300,
    receiptWitnessWaitMs: 0,
    index: false,
    logLevel: 'info',
    newIdentity: false,
    headersTimeoutMs: DEFAULT_HTTP_LIMITS.headersTimeoutMs,
    requestTimeoutMs: DEFAULT_HTTP_LIMITS.requestTimeoutMs,
    maxConnectionsPerClient: 1024,
  }
}

const OPTIONS: readonly (OptionSpec & { key: keyof LogConfig })[] = [
  {
    flag: 'index',
    env: 'LEDGER_INDEX',
    key: 'index',
    kind: 'bool',
    help: 'run the verifiable index: the output log under /index/ (cosigned by the --witness list) and /api/v1/index/lookup (LevelDB only)',
  },
  { flag: 'data', env: 'LEDGER_DATA', key: 'dataDir', kind: 'path', help: 'data directory (default ./data)' },
  {
    flag: 'store',
    env: 'LEDGER_STORE',
    key: 'store',
    kind: 'string',
    arg: ' leveldb|postgres://...',
    help: 'where the log is stored: leveldb (in the data directory) or a PostgreSQL URL (default leveldb)',
  },
  {
    flag: 'pending-wait-ms',
    env: 'LEDGER_PENDING_WAIT_MS',
    key: 'pendingWaitMs',
    kind: 'int',
    min: 100,
    max: 600_000,
    help: 'PostgreSQL: longest wait for the sequencing process before a submission gets 503, ms (default 30000)',
  },
  {
    flag: 'host',
    env: 'LEDGER_HOST',
    key: 'host',
    kind: 'string',
    help: 'listen address (default 127.0.0.1)',
  },
  {
    flag: 'port',
    env: 'LEDGER_PORT',
    key: 'port',
    kind: 'int',
    min: 0,
    max: 65535,
    help: 'listen port, 0 = any free port (default 8080)',
  },
  {
    flag: 'origin',
    env: 'LEDGER_ORIGIN',
    key: 'origin',
    kind: 'string',
    help: `log origin / note key name (default: from log.key, else ${DEFAULT_ORIGIN})`,
  },
  {
    flag: 'batch-size',
    env: 'LEDGER_BATCH_SIZE',
    key: 'batchSize',
    kind: 'int',
    min: 1,
    max: 100_000,
    help: 'most entries per committed batch (default 1000)',
  },
  {
    flag: 'batch-wait-ms',
    env: 'LEDGER_BATCH_WAIT_MS',
    key: 'batchWaitMs',
    kind: 'int',
    min: 0,
    max: 10_000,
    help: `longest wait for company before a batch commits when none is committing, ms (default ${DEFAULT_BATCH_WAIT_MS})`,
  },
  {
    flag: 'commits-in-flight',
    env: 'LEDGER_COMMITS_IN_FLIGHT',
    key: 'commitsInFlight',
    kind: 'int',
    min: 1,
    max: 4,
    help: `batches committing at once; more than 1 overlaps them on PostgreSQL (default ${DEFAULT_POSTGRES_COMMITS_IN_FLIGHT} on PostgreSQL, 1 on LevelDB)`,
  },
  {
    flag: 'body-limit',
    env: 'LEDGER_BODY_LIMIT',
    key: 'bodyLimit',
    kind: 'int',
    min: 1024,
    max: 64 * 1024 * 1024,
    help: 'largest POST body in bytes (default 262144)',
  },
  {
    flag: 'queue-limit',
    env: 'LEDGER_QUEUE_LIMIT',
    key: 'queueLimit',
    kind: 'int',
    min: 1,
    max: 10_000_000,
    help: 'most submissions in progress before 503 (default 5000)',
  },
  {
    flag: 'verify-workers',
    env: 'LEDGER_VERIFY_WORKERS',
    key: 'verifyWorkers',
    kind: 'int',
    min: 0,
    max: 256,
    help: 'signature verification threads, 0 = main thread (default: CPUs - 1, at least 1)',
  },
  {
    flag: 'allowlist',
    env: 'LEDGER_ALLOWLIST',
    key: 'allowlistFile',
    kind: 'path',
    help: 'admit only the key ids listed in this file (default: open admission)',
  },
  {
    flag: 'cache-mb',
    env: 'LEDGER_CACHE_MB',
    key: 'cacheBytes',
    kind: 'int',
    min: 1,
    max: 1 << 20,
    help: 'tile cache size in MiB (default 64)',
  },
  {
    flag: 'witness',
    env: 'LEDGER_WITNESSES',
    key: 'witnesses',
    kind: 'list',
    separator: 'whitespace',
    arg: ' URL=VKEY',
    help:
      'a witness to ask for cosignatures: its tlog-witness URL (without `=`), `=`, its verifier key; ' +
      'repeatable (env: space-separated) (default: none)',
  },
  {
    flag: 'witness-url',
    env: 'LEDGER_WITNESS_URL',
    key: 'witnessUrl',
    kind: 'string',
    help: 'one more witness, with --witness-key-file: its tlog-witness URL (default: none)',
  },
  {
    flag: 'witness-key-file',
    env: 'LEDGER_WITNESS_KEY_FILE',
    key: 'witnessKeyFile',
    kind: 'path',
    help: "that witness's verifier key, read from this file at start (default: none)",
  },
  {
    flag: 'witness-quorum',
    env: 'LEDGER_WITNESS_QUORUM',
    key: 'witnessQuorum',
    kind: 'int',
    min: 1,
    max: 1000,
    help: 'cosigning witnesses that make a checkpoint served (default: all of them)',
  },
  {
    flag: 'witness-timeout-ms',
    env: 'LEDGER_WITNESS_TIMEOUT_MS',
    key: 'witnessTimeoutMs',
    kind: 'int',
    min: 1,
    max: 600_000,
    help: 'longest exchange with one witness, ms (default 2000)',
  },
  {
    flag: 'witness-refresh-s',
    env: 'LEDGER_WITNESS_REFRESH_S',
    key: 'witnessRefreshS',
    kind: 'int',
    min: 0,
    max: 86_400,
    help: 'ask the witnesses to cosign the served checkpoint again after this many idle seconds, 0 never (default 300)',
  },
  {
    flag: 'receipt-witness-wait-ms',
    env: 'LEDGER_RECEIPT_WITNESS_WAIT_MS',
    key: 'receiptWitnessWaitMs',
    kind: 'int',
    min: 0,
    max: 60_000,
    help: 'longest wait for a cosigned checkpoint before a receipt is sent, ms (default 0: none)',
  },
  {
    flag: 'log-level',
    env: 'LEDGER_LOG_LEVEL',
    key: 'logLevel',
    kind: 'string',
    arg: ' LEVEL',
    help: `JSON request log level on stdout: ${LOG_LEVELS.join(', ')} (default info)`,
  },
  {
    flag: 'new-identity',
    env: 'LEDGER_NEW_IDENTITY',
    key: 'newIdentity',
    kind: 'bool',
    help: 'log.key (and index.key) have signed nothing yet: start on a store that holds no log (refused otherwise)',
  },
  {
    flag: 'headers-timeout-ms',
    env: 'LEDGER_HEADERS_TIMEOUT_MS',
    key: 'headersTimeoutMs',
    kind: 'int',
    min: 100,
    max: 600_000,
    help: `longest time to send a request's headers, ms; then 408 and closed (default ${DEFAULT_HTTP_LIMITS.headersTimeoutMs})`,
  },
  {
    flag: 'request-timeout-ms',
    env: 'LEDGER_REQUEST_TIMEOUT_MS',
    key: 'requestTimeoutMs',
    kind: 'int',
    min: 100,
    max: 3_600_000,
    help: `longest time to send a whole request, ms (default ${DEFAULT_HTTP_LIMITS.requestTimeoutMs})`,
  },
  {
    flag: 'max-connections-per-client',
    env: 'LEDGER_MAX_CONNECTIONS_PER_CLIENT',
    key: 'maxConnectionsPerClient',
    kind: 'int',
    min: 1,
    max: 1_000_000,
    help: 'most connections open at once from one address; more are closed (default 1024)',
  },
]

/**
 * Parses `URL=VERIFIERKEY`: the URL is everything before the first `=` (an http(s) URL without `=`), the
 * key the rest (a C2SP cosignature/v1 verifier key). Throws LogServerError INVALID_CONFIG.
 */
export function parseWitnessSpec(text: string, source = '--witness'): WitnessEndpoint {
  const at = text.indexOf('=')
  if (at <= 0) throw new LogServerError('INVALID_CONFIG', `${source}: not URL=VERIFIERKEY: ${text}`)
  return witnessEndpoint(text.slice(0, at), text.slice(at + 1), source)
}

/** Throws LogServerError INVALID_CONFIG unless `url` is an http(s) URL. */
function checkWitnessUrl(url: string, source: string): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new LogServerError('INVALID_CONFIG', `${source}: not a URL: ${url}`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new LogServerError('INVALID_CONFIG', `${source}: not an http(s) URL: ${url}`)
  }
}

/**
 * A witness endpoint from its URL (http or https) and its cosignature/v1 verifier key string, both
 * checked. Throws LogServerError INVALID_CONFIG naming `source`.
 */
export function witnessEndpoint(url: string, verifierKey: string, source: string): WitnessEndpoint {
  checkWitnessUrl(url, source)
  try {
    parseCosignatureVerifierKey(verifierKey)
  } catch (cause) {
    throw new LogServerError('INVALID_CONFIG', `${source}: not a cosignature verifier key: ${verifierKey}`, {
      cause,
    })
  }
  return { url, verifierKey }
}

/** What the command line asks for: run with a configuration, or print the help text. */
export type ConfigRequest = { kind: 'run'; config: LogConfig } | { kind: 'help'; text: string }

/** The `--help` text. */
export function helpText(): string {
  return optionsHelp(['Usage: npm start -- [options]', '', 'Runs the transparency log server.'], OPTIONS, 29)
}

/**
 * Builds the configuration from flags (which win) and environment variables over the defaults.
 * Pure: tests pass their own `args` and `env`. Throws LogServerError INVALID_CONFIG on an unknown flag or a bad value.
 */
export function parseConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ConfigRequest {
  const parsed = parseOptions(OPTIONS, args, env, (message) => new LogServerError('INVALID_CONFIG', message))
  if (parsed.help) return { kind: 'help', text: helpText() }
  const config = defaultConfig()
  const target = config as unknown as Record<string, unknown>
  for (const [key, { value, source }] of parsed.given) {
    if (key === 'witnesses') {
      const specs = (value as string[]).map((text) => parseWitnessSpec(text, source))
      if (specs.length > 0) config.witnesses = specs
    } else if (key === 'cacheBytes') {
      config.cacheBytes = (value as number) * 1024 * 1024
    } else {
      target[key] = value
    }
  }
  if (!isLogLevel(config.logLevel)) {
    throw new LogServerError('INVALID_CONFIG', `--log-level must be one of ${LOG_LEVELS.join(', ')}`)
  }
  if (config.store !== 'leveldb' && !/^postgres(?:ql)?:\/\//.test(config.store)) {
    throw new LogServerError(
      'INVALID_CONFIG',
      `--store must be leveldb or a postgres:// URL, not ${JSON.stringify(redactUrl(config.store))}`,
    )
  }
  if (config.index && config.store !== 'leveldb') {
    throw new LogServerError('INVALID_CONFIG', '--index runs on the LevelDB store only, for now')
  }
  const keys = new Set(config.witnesses.map((w) => w.verifierKey))
  if (keys.size !== config.witnesses.length) {
    throw new LogServerError('INVALID_CONFIG', 'the same witness key is given twice')
  }
  if ((config.witnessUrl === undefined) !== (config.witnessKeyFile === undefined)) {
    throw new LogServerError('INVALID_CONFIG', '--witness-url and --witness-key-file go together')
  }
  // The key file is read at start (server.ts); the URL can be checked now.
  if (config.witnessUrl !== undefined) checkWitnessUrl(config.witnessUrl, '--witness-url')
  const count = config.witnesses.length + (config.witnessUrl === undefined ? 0 : 1)
  if (config.witnessQuorum !== undefined && config.witnessQuorum > count) {
    throw new LogServerError(
      'INVALID_CONFIG',
      `--witness-quorum ${config.witnessQuorum} is more than the ${count} witnesses given`,
    )
  }
  return { kind: 'run', config }
}

/** Reads this process's command line and environment (the only place that does). */
export function loadConfig(): ConfigRequest {
  return parseConfig(process.argv.slice(2), process.env)
}

/** A store URL as it may be printed: without its password. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*):[^@/]*@/i, '$1:***@')
}
