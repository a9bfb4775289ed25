import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import {
  LOG_LEVELS,
  isLogLevel,
  optionsHelp,
  parseOptions,
  type LogLevel,
  type OptionSpec,
} from '@ledger/service'
import { MonitorError } from './errors.js'

/**
 * Everything the monitor can be told. This file is the only reader of `process.argv` and `process.env`;
 * every option has a flag, an environment variable and a default, listed in OPTIONS.
 */
export interface MonitorConfig {
  /** Base URL of the log (its C2SP static API and its /api/v1 JSON API). Required. */
  logUrl: string
  /** The log's note verifier key string. One of logKey, logKeyFile, policyFile is required. */
  logKey: string | undefined
  /** A file whose first line is the log's note verifier key (e.g. written by a deployment). */
  logKeyFile: string | undefined
  /** A C2SP tlog-policy file: the log key(s), and the witness quorum every checkpoint must meet. */
  policyFile: string | undefined
  /**
   * The verifier key of the log's verifiable index (`<origin>/index`): its output log is audited. Without
   * it, the key the log advertises in GET /api/v1/log is used (and pinned in the state), if any.
   */
  indexKey: string | undefined
  /** Directory of the monitor's LevelDB state (`db/`). Created when missing. */
  dataDir: string
  /** URL to POST every alert to (JSON), besides the JSON line on stdout. */
  webhook: string | undefined
  /** Subject digests (`<alg>:<hex>`) whose every new entry raises an alert, and audited on every pass. */
  watchDigests: string[]
  /** Source commits (40 or 64 hex) whose every new entry raises an alert, and audited on every pass. */
  watchCommits: string[]
  /** Key ids (64 hex, SHA-256 of SPKI DER) whose every new entry raises an alert. */
  watchKeys: string[]
  /** Audit up to the current checkpoint and exit (0 clean, 1 alerts, 2 usage, 4 log unreachable). */
  once: boolean
  /** Milliseconds between polls of the checkpoint when following. */
  intervalMs: number
  /** Randomly chosen digests whose lookup is audited per pass (besides the watched ones). */
  sample: number
  /** Signature-verification worker threads; 0 verifies on the main thread. */
  workers: number
  /** Most tile and entry-bundle requests in flight at once. */
  fetchConcurrency: number
  /** Port of the GET /healthz endpoint; undefined: no endpoint. */
  healthPort: number | undefined
  /** Address of the GET /healthz endpoint. */
  healthHost: string
  /** Level of the JSON request log of that endpoint, on stderr (stdout carries the alerts). */
  logLevel: LogLevel
}

/** Defaults, resolved against the working directory and the machine where they depend on them. */
export function defaultConfig(): MonitorConfig {
  return {
    logUrl: '',
    logKey: undefined,
    logKeyFile: undefined,
    policyFile: undefined,
    indexKey: undefined,
    dataDir: resolve('monitor-data'),
    webhook: undefined,
    watchDigests: [],
    watchCommits: [],
    watchKeys: [],
    once: false,
    intervalMs: 10_000,
    sample: 16,
    // One per CPU: the main thread (fetching, hashing, writing) takes about a third of the per-entry
    // cost and waits the rest of the time, so leaving it a whole core idles it (test/bench/monitor.bench.ts).
    workers: Math.max(1, availableParallelism()),
    fetchConcurrency: 8,
    healthPort: undefined,
    healthHost: '127.0.0.1',
    logLevel: 'info',
  }
}

// A subject digest as the log indexes it: `<alg>:<lowercase hex>` of sha256, sha384, sha512 or blake2b.
const DIGEST_RE = /^(?:sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128}|blake2b:[0-9a-f]{128})$/
const COMMIT_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/
const KEY_ID_RE = /^[0-9a-f]{64}$/

/** Every option: its flag, its environment variable (lists: comma-separated), its help line. */
export const OPTIONS: readonly (OptionSpec & { key: keyof MonitorConfig })[] = [
  { flag: 'log', env: 'MONITOR_LOG_URL', key: 'logUrl', kind: 'url', help: 'base URL of the log (required)' },
  {
    flag: 'log-key',
    env: 'MONITOR_LOG_KEY',
    key: 'logKey',
    kind: 'string',
    help: "the log's note verifier key",
  },
  {
    flag: 'log-key-file',
    env: 'MONITOR_LOG_KEY_FILE',
    key: 'logKeyFile',
    kind: 'path',
    help: "file holding the log's verifier key",
  },
  {
    flag: 'policy',
    env: 'MONITOR_POLICY',
    key: 'policyFile',
    kind: 'path',
    help: "C2SP tlog-policy file: log key and witness quorum (and the index's key, <origin>/index)",
  },
  {
    flag: 'index-key',
    env: 'MONITOR_INDEX_KEY',
    key: 'indexKey',
    kind: 'string',
    help: "the verifiable index's verifier key (default: the one the log advertises, pinned on first use)",
  },
  {
    flag: 'data',
    env: 'MONITOR_DATA',
    key: 'dataDir',
    kind: 'path',
    help: 'state directory (default ./monitor-data)',
  },
  {
    flag: 'webhook',
    env: 'MONITOR_WEBHOOK',
    key: 'webhook',
    kind: 'url',
    help: 'also POST every alert (JSON) here',
  },
  {
    flag: 'watch-digest',
    env: 'MONITOR_WATCH_DIGESTS',
    key: 'watchDigests',
    kind: 'list',
    item: DIGEST_RE,
    help: 'alert on every entry naming <alg>:<hex> (sha256, sha384, sha512, blake2b; repeatable)',
  },
  {
    flag: 'watch-commit',
    env: 'MONITOR_WATCH_COMMITS',
    key: 'watchCommits',
    kind: 'list',
    item: COMMIT_RE,
    help: 'alert on every entry from this source commit (repeatable)',
  },
  {
    flag: 'watch-key',
    env: 'MONITOR_WATCH_KEYS',
    key: 'watchKeys',
    kind: 'list',
    item: KEY_ID_RE,
    help: 'alert on every entry signed by this key id (repeatable)',
  },
  {
    flag: 'once',
    env: 'MONITOR_ONCE',
    key: 'once',
    kind: 'bool',
    help: 'audit up to the current checkpoint and exit',
  },
  {
    flag: 'interval-ms',
    env: 'MONITOR_INTERVAL_MS',
    key: 'intervalMs',
    kind: 'int',
    min: 100,
    max: 86_400_000,
    help: 'milliseconds between polls (default 10000)',
  },
  {
    flag: 'sample',
    env: 'MONITOR_SAMPLE',
    key: 'sample',
    kind: 'int',
    min: 0,
    max: 100_000,
    help: 'random digests whose lookup is audited per pass (default 16)',
  },
  {
    flag: 'workers',
    env: 'MONITOR_WORKERS',
    key: 'workers',
    kind: 'int',
    min: 0,
    max: 256,
    help: 'signature verification threads, 0 = main thread (default: CPUs)',
  },
  {
    flag: 'fetch-concurrency',
    env: 'MONITOR_FETCH_CONCURRENCY',
    key: 'fetchConcurrency',
    kind: 'int',
    min: 1,
    max: 256,
    help: 'most tile requests in flight (default 8)',
  },
  {
    flag: 'health-port',
    env: 'MONITOR_HEALTH_PORT',
    key: 'healthPort',
    kind: 'int',
    min: 0,
    max: 65535,
    help: 'serve GET /healthz, /readyz and /metrics on this port (default: off)',
  },
  {
    flag: 'health-host',
    env: 'MONITOR_HEALTH_HOST',
    key: 'healthHost',
    kind: 'string',
    help: 'address of the health endpoint (default 127.0.0.1)',
  },
  {
    flag: 'log-level',
    env: 'MONITOR_LOG_LEVEL',
    key: 'logLevel',
    kind: 'string',
    arg: ' LEVEL',
    help: `JSON request log level of the health endpoint, on stderr: ${LOG_LEVELS.join(', ')} (default info)`,
  },
]

/** What the command line asks for: run with a configuration, or print the help text. */
export type ConfigRequest = { kind: 'run'; config: MonitorConfig } | { kind: 'help'; text: string }

/** The `--help` text. */
export function helpText(): string {
  return optionsHelp(
    [
      'Usage: npm run start:monitor -- --log URL (--log-key VKEY | --log-key-file PATH | --policy PATH) [options]',
      '',
      'Follows a log through its checkpoints and tiles, proves it append-only, re-verifies every entry,',
      'audits its lookups, rebuilds its verifiable index (when it runs one) and checks every output leaf,',
      'and prints alerts as JSON lines on stdout; on stderr, a summary (size, entries',
      'verified, alerts) after the first pass and whenever the log grew. Exit codes with --once: 0 clean',
      '(the pass finished), 1 alerts raised, 2 usage or a local failure, 4 log unreachable.',
    ],
    OPTIONS,
    26,
  )
}

function bad(message: string): MonitorError {
  return new MonitorError('INVALID_CONFIG', message)
}

/**
 * Builds the configuration from flags (which win) and environment variables over the defaults. Pure:
 * tests pass their own `args` and `env`. Throws MonitorError INVALID_CONFIG on an unknown flag, a bad
 * value, a missing --log, or not exactly one of --log-key, --log-key-file, --policy.
 */
export function parseConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ConfigRequest {
  const parsed = parseOptions(OPTIONS, args, env, (message) => bad(message))
  if (parsed.help) return { kind: 'help', text: helpText() }
  const config = defaultConfig()
  const target = config as unknown as Record<string, unknown>
  for (const [key, { value }] of parsed.given)
    target[key] = Array.isArray(value) ? [...new Set(value)] : value
  if (config.logUrl === '') throw bad('--log URL is required')
  if (!isLogLevel(config.logLevel)) throw bad(`--log-level must be one of ${LOG_LEVELS.join(', ')}`)
  const keySources = [config.logKey, config.logKeyFile, config.policyFile].filter((v) => v !== undefined)
  if (keySources.length !== 1) throw bad('give exactly one of --log-key, --log-key-file and --policy')
  return { kind: 'run', config }
}

/** Reads this process's command line and environment (the only place that does). */
export function loadConfig(): ConfigRequest {
  return parseConfig(process.argv.slice(2), process.env)
}
