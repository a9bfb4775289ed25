import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { LogServerError } from './errors.js'

/**
 * Everything the log server can be told. This file is the only reader of `process.argv` and
 * `process.env`; every option has a flag, an environment variable and a default, listed in OPTIONS.
 */
export interface LogConfig {
  /** Directory holding `log.key` and the LevelDB database (`db/`). Created when missing. */
  dataDir: string
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
  /** Longest time, in milliseconds, a submission waits for more company before its batch is committed. */
  batchWaitMs: number
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
}

/** The origin used on a first start without `--origin`. */
export const DEFAULT_ORIGIN = 'localhost/ledger'

/** Defaults, resolved against the machine where they depend on it. */
export function defaultConfig(): LogConfig {
  return {
    dataDir: resolve('data'),
    host: '127.0.0.1',
    port: 8080,
    origin: undefined,
    batchSize: 1000,
    batchWaitMs: 5,
    bodyLimit: 256 * 1024,
    queueLimit: 5_000,
    // One core stays with the main thread (HTTP, hashing, LevelDB); the others verify signatures.
    verifyWorkers: Math.max(1, availableParallelism() - 1),
    allowlistFile: undefined,
    cacheBytes: 64 * 1024 * 1024,
  }
}

interface OptionSpec {
  flag: string
  env: string
  key: keyof LogConfig
  kind: 'string' | 'int' | 'path'
  min?: number
  max?: number
  help: string
}

const OPTIONS: readonly OptionSpec[] = [
  { flag: 'data', env: 'LEDGER_DATA', key: 'dataDir', kind: 'path', help: 'data directory (default ./data)' },
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
    help: 'longest wait for a batch to fill, ms (default 5)',
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
]

/** What the command line asks for: run with a configuration, or print the help text. */
export type ConfigRequest = { kind: 'run'; config: LogConfig } | { kind: 'help'; text: string }

/** The `--help` text. */
export function helpText(): string {
  const lines = ['Usage: npm start -- [options]', '', 'Runs the transparency log server.', '', 'Options:']
  for (const o of OPTIONS) {
    const arg = o.kind === 'int' ? ' N' : o.kind === 'path' ? ' PATH' : ' VALUE'
    lines.push(`  --${(o.flag + arg).padEnd(22)} ${o.help}  [$${o.env}]`)
  }
  lines.push(`  ${'--help'.padEnd(24)} print this text`)
  return lines.join('\n') + '\n'
}

/**
 * Builds the configuration from flags (which win) and environment variables over the defaults.
 * Pure: tests pass their own `args` and `env`. Throws LogServerError INVALID_CONFIG on an unknown flag or a bad value.
 */
export function parseConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ConfigRequest {
  let values: Record<string, string | boolean | undefined>
  try {
    ;({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(OPTIONS.map((o) => [o.flag, { type: 'string' as const }])),
      },
    }))
  } catch (err) {
    throw new LogServerError('INVALID_CONFIG', (err as Error).message)
  }
  if (values.help === true) return { kind: 'help', text: helpText() }
  const config = defaultConfig()
  const target = config as unknown as Record<string, unknown>
  for (const o of OPTIONS) {
    const fromFlag = values[o.flag]
    const raw = typeof fromFlag === 'string' ? fromFlag : env[o.env]
    if (raw === undefined || (fromFlag === undefined && raw === '')) continue
    const source = typeof fromFlag === 'string' ? `--${o.flag}` : `$${o.env}`
    if (o.kind === 'int') {
      if (!/^(?:0|[1-9][0-9]{0,9})$/.test(raw))
        throw new LogServerError('INVALID_CONFIG', `${source}: not a whole number: ${raw}`)
      const n = Number(raw)
      if ((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
        throw new LogServerError('INVALID_CONFIG', `${source}: ${raw} is outside ${o.min}..${o.max}`)
      }
      target[o.key] = o.key === 'cacheBytes' ? n * 1024 * 1024 : n
    } else {
      if (raw === '') throw new LogServerError('INVALID_CONFIG', `${source}: empty value`)
      target[o.key] = o.kind === 'path' ? resolve(raw) : raw
    }
  }
  return { kind: 'run', config }
}

/** Reads this process's command line and environment (the only place that does). */
export function loadConfig(): ConfigRequest {
  return parseConfig(process.argv.slice(2), process.env)
}
