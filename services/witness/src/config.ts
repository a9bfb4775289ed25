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
import { WitnessError } from './errors.js'

/**
 * Everything the witness can be told. This file is the only reader of `process.argv` and `process.env`;
 * every option has a flag, an environment variable and a default, listed in OPTIONS.
 */
export interface WitnessConfig {
  /** Directory holding `witness.key` (mode 0600) and the LevelDB state (`db/`). Created when missing. */
  dataDir: string
  /** Address to listen on. */
  host: string
  /** TCP port; 0 lets the OS pick one (startWitness returns the real one). */
  port: number
  /**
   * The witness key's name on the first start (then it is in `witness.key`). Undefined: DEFAULT_NAME on
   * a first start, the key's name later. Given and different from an existing key's name: refused.
   */
  name: string | undefined
  /**
   * A C2SP tlog-policy file whose `log <vkey>` lines are the logs this witness cosigns (other lines are
   * checked and ignored; the quorum line may be left out). It replaces the stored list on every start.
   * Undefined: keep the list stored by an earlier start (a first start without it is refused).
   */
  logsFile: string | undefined
  /** When set, the witness writes its verifier key (and a newline) to this file on start, for deployment. */
  verifierKeyFile: string | undefined
  /** Largest accepted request body, in bytes. */
  bodyLimit: number
  /** Level of the JSON request log on stdout (pino): fatal..trace, or silent. */
  logLevel: LogLevel
  /**
   * The operator's word that `witness.key` is a new identity that has cosigned nothing yet (a key made
   * before the first start). Without it, a key file with no witness state is refused: a witness that lost
   * its state but kept its key would cosign a fork of what it cosigned before (docs/design/witness.md).
   * Ignored once the state exists.
   */
  newIdentity: boolean
  /** Longest time a client may take to send a request's headers, ms (then 408 and closed). */
  headersTimeoutMs: number
  /** Longest time a client may take to send a whole request, ms. */
  requestTimeoutMs: number
  /** Most connections open at once from one client address; more are closed at once. */
  maxConnectionsPerClient: number
}

/** The key name used on a first start without `--name`. */
export const DEFAULT_WITNESS_NAME = 'localhost/witness'

/** Defaults, resolved against the working directory where they are paths. */
export function defaultConfig(): WitnessConfig {
  return {
    dataDir: resolve('witness-data'),
    host: '127.0.0.1',
    port: 8081,
    name: undefined,
    logsFile: undefined,
    verifierKeyFile: undefined,
    bodyLimit: 64 * 1024,
    logLevel: 'info',
    newIdentity: false,
    headersTimeoutMs: DEFAULT_HTTP_LIMITS.headersTimeoutMs,
    requestTimeoutMs: DEFAULT_HTTP_LIMITS.requestTimeoutMs,
    maxConnectionsPerClient: DEFAULT_HTTP_LIMITS.maxConnectionsPerClient,
  }
}

/** Every option: its flag, its environment variable, and its help line (defaults are in defaultConfig). */
export const OPTIONS: readonly (OptionSpec & { key: keyof WitnessConfig })[] = [
  {
    flag: 'data',
    env: 'WITNESS_DATA',
    key: 'dataDir',
    kind: 'path',
    help: 'data directory (default ./witness-data)',
  },
  {
    flag: 'host',
    env: 'WITNESS_HOST',
    key: 'host',
    kind: 'string',
    help: 'listen address (default 127.0.0.1)',
  },
  {
    flag: 'port',
    env: 'WITNESS_PORT',
    key: 'port',
    kind: 'int',
    min: 0,
    max: 65535,
    help: 'listen port, 0 = any free port (default 8081)',
  },
  {
    flag: 'name',
    env: 'WITNESS_NAME',
    key: 'name',
    kind: 'string',
    help: `witness key name on the first start (default ${DEFAULT_WITNESS_NAME})`,
  },
  {
    flag: 'logs',
    env: 'WITNESS_LOGS',
    key: 'logsFile',
    kind: 'path',
    help: 'tlog-policy file whose `log <vkey>` lines are the logs to cosign (default: the stored list)',
  },
  {
    flag: 'verifier-key-file',
    env: 'WITNESS_VERIFIER_KEY_FILE',
    key: 'verifierKeyFile',
    kind: 'path',
    help: 'write the witness verifier key to this file on start (default: do not)',
  },
  {
    flag: 'body-limit',
    env: 'WITNESS_BODY_LIMIT',
    key: 'bodyLimit',
    kind: 'int',
    min: 1024,
    max: 16 * 1024 * 1024,
    help: 'largest request body in bytes (default 65536)',
  },
  {
    flag: 'log-level',
    env: 'WITNESS_LOG_LEVEL',
    key: 'logLevel',
    kind: 'string',
    arg: ' LEVEL',
    help: `JSON request log level on stdout: ${LOG_LEVELS.join(', ')} (default info)`,
  },
  {
    flag: 'new-identity',
    env: 'WITNESS_NEW_IDENTITY',
    key: 'newIdentity',
    kind: 'bool',
    help: 'witness.key has cosigned nothing yet: start it with no state (refused otherwise)',
  },
  {
    flag: 'headers-timeout-ms',
    env: 'WITNESS_HEADERS_TIMEOUT_MS',
    key: 'headersTimeoutMs',
    kind: 'int',
    min: 100,
    max: 600_000,
    help: `longest time to send a request's headers, ms; then 408 and closed (default ${DEFAULT_HTTP_LIMITS.headersTimeoutMs})`,
  },
  {
    flag: 'request-timeout-ms',
    env: 'WITNESS_REQUEST_TIMEOUT_MS',
    key: 'requestTimeoutMs',
    kind: 'int',
    min: 100,
    max: 3_600_000,
    help: `longest time to send a whole request, ms (default ${DEFAULT_HTTP_LIMITS.requestTimeoutMs})`,
  },
  {
    flag: 'max-connections-per-client',
    env: 'WITNESS_MAX_CONNECTIONS_PER_CLIENT',
    key: 'maxConnectionsPerClient',
    kind: 'int',
    min: 1,
    max: 1_000_000,
    help: `most connections open at once from one address; more are closed (default ${DEFAULT_HTTP_LIMITS.maxConnectionsPerClient})`,
  },
]

/** What the command line asks for: run with a configuration, or print the help text. */
export type ConfigRequest = { kind: 'run'; config: WitnessConfig } | { kind: 'help'; text: string }

/** The `--help` text. */
export function helpText(): string {
  return optionsHelp(
    [
      'Usage: npm run start:witness -- [options]',
      '',
      'Runs a C2SP tlog-witness: POST /add-checkpoint cosigns checkpoints consistent with what it saw.',
    ],
    OPTIONS,
    26,
  )
}

/**
 * Builds the configuration from flags (which win) and environment variables over the defaults. Pure:
 * tests pass their own `args` and `env`. Throws WitnessError INVALID_CONFIG on an unknown flag, a
 * positional argument or a bad value.
 */
export function parseConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ConfigRequest {
  const parsed = parseOptions(OPTIONS, args, env, (message) => new WitnessError('INVALID_CONFIG', message))
  if (parsed.help) return { kind: 'help', text: helpText() }
  const config = defaultConfig()
  const target = config as unknown as Record<string, unknown>
  for (const [key, { value }] of parsed.given) target[key] = value
  if (!isLogLevel(config.logLevel)) {
    throw new WitnessError('INVALID_CONFIG', `--log-level must be one of ${LOG_LEVELS.join(', ')}`)
  }
  return { kind: 'run', config }
}

/** Reads this process's command line and environment (the only place that does). */
export function loadConfig(): ConfigRequest {
  return parseConfig(process.argv.slice(2), process.env)
}
