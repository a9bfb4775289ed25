// What the commands share: reading inputs, resolving which log key to trust, writing outputs.
import { randomBytes } from 'node:crypto'
import { open, readFile, rename, unlink } from 'node:fs/promises'
import { dirname, basename, join, resolve } from 'node:path'
import { ClientError, misbehaving } from '@ledger/client/errors.js'
import type { HttpOptions } from '@ledger/client/http.js'
import { LedgerClient } from '@ledger/client/log-client.js'
import {
  fromTlogPolicy,
  loadTrustPolicy,
  parseLogTrust,
  type LogTrust,
  type TrustPolicy,
  type WitnessTrust,
} from '@ledger/client/policy.js'
import { defaultStateDir, FileStateStore, type StateStore } from '@ledger/client/state.js'
import {
  formatDigest,
  parseDigest,
  subjectDigestKeys,
  type SubjectDigests,
} from '@ledger/attestation/digest.js'
import { usage } from './cli-error.js'
import type { Io } from './io.js'

export function resolvePath(io: Io, path: string): string {
  return resolve(io.cwd, path)
}

/** Reads a text file named on the command line; exit 2 when it cannot be read. */
export async function readTextFile(io: Io, path: string, what: string): Promise<string> {
  try {
    return await readFile(resolvePath(io, path), 'utf8')
  } catch (err) {
    throw usage(`cannot read ${what} ${path}: ${(err as Error).message}`, err, 'FILE_UNREADABLE')
  }
}

/** Reads a binary file named on the command line; exit 2 when it cannot be read. */
export async function readBytesFile(io: Io, path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(resolvePath(io, path)))
  } catch (err) {
    throw usage(`cannot read ${what} ${path}: ${(err as Error).message}`, err, 'FILE_UNREADABLE')
  }
}

/**
 * Writes a file atomically (temp file in the same directory, fsync, rename): a reader never sees half a
 * receipt. `exclusive` refuses to replace an existing file (exit 2).
 */
export async function writeFileAtomic(
  io: Io,
  path: string,
  data: string | Uint8Array,
  opts: { mode?: number; exclusive?: boolean } = {},
): Promise<string> {
  const target = resolvePath(io, path)
  if (opts.exclusive) {
    // `wx` on the target itself: the only race-free "refuse to overwrite".
    let handle
    try {
      handle = await open(target, 'wx', opts.mode ?? 0o644)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw usage(`${path} exists; refusing to overwrite it`, undefined, 'FILE_EXISTS')
      throw usage(`cannot create ${path}: ${(err as Error).message}`, err, 'FILE_UNWRITABLE')
    }
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    return target
  }
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const handle = await open(temp, 'wx', opts.mode ?? 0o644)
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, target)
  } catch (err) {
    await unlink(temp).catch(() => undefined)
    throw usage(`cannot write ${path}: ${(err as Error).message}`, err, 'FILE_UNWRITABLE')
  }
  return target
}

/** The state store: `--state DIR`, else $ATTEST_STATE, else $XDG_STATE_HOME/attest or ~/.local/state/attest. */
export function stateStore(io: Io, dir: string | undefined): FileStateStore {
  const home = io.env['HOME']
  const given = dir ?? (io.env['ATTEST_STATE'] || undefined)
  return new FileStateStore(given !== undefined ? resolvePath(io, given) : defaultStateDir(io.env, home))
}

/** HTTP settings of a command: the io's fetch, and `--timeout` seconds. */
export function httpOptions(io: Io, timeoutSeconds?: string): HttpOptions {
  const opts: HttpOptions = {}
  if (io.fetch !== undefined) opts.fetch = io.fetch
  if (timeoutSeconds !== undefined) {
    const seconds = Number(timeoutSeconds)
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) {
      throw usage(`--timeout ${timeoutSeconds} is not a number of seconds in (0, 3600]`)
    }
    opts.timeoutMs = seconds * 1000
  }
  return opts
}

/**
 * Loads a trust policy file, its log-and-witness part optionally from a C2SP tlog-policy file; exit 2 on
 * any problem.
 */
export async function readPolicy(io: Io, path: string, tlogPolicyPath?: string): Promise<TrustPolicy> {
  const text = await readTextFile(io, path, 'trust policy')
  if (tlogPolicyPath === undefined) return loadTrustPolicy(text)
  return loadTrustPolicy(text, { tlogPolicy: await readTextFile(io, tlogPolicyPath, 'tlog-policy') })
}

/** A log key flag: the verifier key string itself, or the path of a file holding it. */
async function readLogKeyFlag(io: Io, value: string): Promise<string> {
  if (value.includes('+')) return value.trim()
  return (await readTextFile(io, value, 'log key file')).trim()
}

/** How a command came to trust the log's key. */
export interface ResolvedLog {
  log: LogTrust
  witnesses?: WitnessTrust
  policy?: TrustPolicy
  /** How the key was chosen: a policy, --log-key, the state dir (pinned on first use), or first use now. */
  source: 'policy' | 'flag' | 'pinned' | 'first-use'
}

/**
 * Decides which log key to trust. `--policy` and `--log-key` pin it (both given: they must agree). With
 * neither: trust on first use. The log's GET /api/v1/log names its origin and key; if the state dir holds
 * a checkpoint of that origin, the key stored with it must be the same (else the log changed keys:
 * LOG_MISBEHAVING, exit 3); if not, the key is taken as it is (a warning on stderr) and pinned in the state
 * dir by the first checkpoint the command accepts.
 */
export async function resolveLog(
  io: Io,
  opts: { log: string; logKey?: string; policy?: string; tlogPolicy?: string },
  state: StateStore,
  http: HttpOptions,
): Promise<ResolvedLog> {
  if (opts.policy === undefined && opts.tlogPolicy !== undefined) {
    const { log, witnesses } = fromTlogPolicy(await readTextFile(io, opts.tlogPolicy, 'tlog-policy'))
    if (opts.logKey !== undefined && (await readLogKeyFlag(io, opts.logKey)) !== log.verifierKey) {
      throw usage('--log-key is not the log key of --tlog-policy')
    }
    return { log, witnesses, source: 'policy' }
  }
  if (opts.policy !== undefined) {
    const policy = await readPolicy(io, opts.policy, opts.tlogPolicy)
    if (opts.logKey !== undefined && (await readLogKeyFlag(io, opts.logKey)) !== policy.log.verifierKey) {
      throw usage('--log-key is not the log key of --policy')
    }
    return { log: policy.log, witnesses: policy.witnesses, policy, source: 'policy' }
  }
  if (opts.logKey !== undefined) {
    return { log: parseLogTrust(await readLogKeyFlag(io, opts.logKey)), source: 'flag' }
  }
  const info = await LedgerClient.discover(opts.log, http)
  const stored = await state.load(info.origin)
  if (stored !== undefined) {
    if (stored.verifierKey !== info.verifierKey) {
      const stateFile = state.location?.(info.origin)
      throw misbehaving(
        'key-changed',
        `the log ${info.origin} now presents key ${info.verifierKey}, but the state dir pinned ${stored.verifierKey}`,
        stateFile !== undefined ? { origin: info.origin, stateFile } : {},
      )
    }
    return { log: parseLogTrust(stored.verifierKey, info.origin), source: 'pinned' }
  }
  io.stderr.write(
    `attest: trusting the key of log ${info.origin} on first use: ${info.verifierKey}\n` +
      `attest: pin it with --log-key or a --policy file to check it instead\n`,
  )
  return { log: parseLogTrust(info.verifierKey, info.origin), source: 'first-use' }
}

/** A client of the resolved log. */
export function clientFor(
  url: string,
  resolved: ResolvedLog,
  state: StateStore,
  http: HttpOptions,
): LedgerClient {
  return new LedgerClient({
    ...http,
    url,
    log: resolved.log,
    ...(resolved.witnesses !== undefined && { witnesses: resolved.witnesses }),
    ...(resolved.policy?.index !== undefined && { index: resolved.policy.index }),
    state,
  })
}

/**
 * A `--digest` flag: `ALG:HEX` (sha256, sha384, sha512, blake2b; hex in either case), bare 64 hex
 * (sha256) or an SRI string (`sha512-<base64>`). Returns the canonical `alg:hex`; exit 2 otherwise.
 */
export function parseDigestFlag(value: string, flag = '--digest'): string {
  try {
    return formatDigest(parseDigest(value))
  } catch (err) {
    throw usage(`${flag} ${value}: ${(err as Error).message}`, err, 'INVALID_DIGEST')
  }
}

/** A subject in JSON output: its name, its first digest (sha256 when it has one) and all of them. */
export function subjectJSON(subject: { name: string; digest: SubjectDigests }): {
  name: string
  digest: string
  digests: string[]
} {
  const digests = subjectDigestKeys(subject.digest)
  return { name: subject.name, digest: digests[0]!, digests }
}

/** Validates a commit flag (40 or 64 hex digits, either case) and lowercases it. */
export function parseCommitFlag(value: string): string {
  if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i.test(value.trim()))
    throw usage(`--commit ${value} is not 40 or 64 hex digits`, undefined, 'INVALID_COMMIT')
  return value.trim().toLowerCase()
}

/** Validates a key id flag (64 hex digits, either case) and lowercases it. */
export function parseKeyIdFlag(flag: string, value: string): string {
  if (!/^[0-9a-f]{64}$/i.test(value.trim()))
    throw usage(`${flag} ${value} is not a key id (64 hex digits)`, undefined, 'INVALID_ARGUMENT')
  return value.trim().toLowerCase()
}

export { ClientError }
export { CliError, toJSON, usage, type CliErrorCode } from './cli-error.js'
