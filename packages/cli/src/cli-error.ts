// The CLI's own error (an outcome with its exit code) and its JSON output: what every command and the
// error report share, with no I/O and nothing heavy to load (`attest verify` loads this before anything).
import { EXIT, type ExitCode } from './exit-codes.js'

/** Codes of the CLI's own errors (under --json, `error.code`); each is a usage or input error, exit 2. */
export type CliErrorCode =
  /** A flag or argument that is missing, unknown or malformed (commander's parser, or a check of ours). */
  | 'USAGE'
  | 'MISSING_OPTION'
  | 'UNKNOWN_OPTION'
  | 'UNKNOWN_COMMAND'
  | 'INVALID_ARGUMENT'
  | 'INVALID_DIGEST'
  | 'INVALID_COMMIT'
  /** A file named on the command line that cannot be read, or written. */
  | 'FILE_UNREADABLE'
  | 'FILE_UNWRITABLE'
  | 'FILE_EXISTS'
  /** `state forget` of a log this machine has no state for. */
  | 'NO_STATE'

/** The one error class of the CLI: an outcome with its exit code and code, and a message for people. */
export class CliError extends Error {
  override name = 'CliError'
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    options?: ErrorOptions,
    readonly code: CliErrorCode = 'USAGE',
  ) {
    super(message, options)
  }
}

/** A usage or input error (exit 2). */
export const usage = (message: string, cause?: unknown, code: CliErrorCode = 'USAGE') =>
  new CliError(EXIT.USAGE, message, cause === undefined ? undefined : { cause }, code)

/**
 * JSON for `--json` output: sizes and indexes (bigints) as JSON numbers, as the log's API gives them (a
 * value past 2^53, which no real log reaches, as a decimal string rather than a wrong number); two-space
 * indent, a final newline.
 */
export function toJSON(value: unknown): string {
  const replacer = (_key: string, v: unknown) =>
    typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v
  return `${JSON.stringify(value, replacer, 2)}\n`
}
