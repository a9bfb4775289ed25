import { TlogError } from '@ledger/tlog'

/**
 * Stable error codes of the monitor. Misbehaviour of the log is never an error: it is an alert
 * (alerts.ts). Errors are what stops the monitor itself; each maps to one exit code (EXIT_CODE_BY_CODE).
 */
export type MonitorErrorCode =
  /** A command line, environment or key/policy file that is not a valid configuration. */
  | 'INVALID_CONFIG'
  /** A data directory that follows another log (origin or key), or is in use by another monitor. */
  | 'DATA_MISMATCH'
  /** The log did not answer (network error, timeout, 5xx): nothing can be concluded about it. */
  | 'LOG_UNREACHABLE'
  /**
   * The log answered what cannot be right: a 4xx for a tile its own signed checkpoint implies, a body of
   * the wrong shape. Never escapes a pass: the monitor turns it into an alert.
   */
  | 'BAD_ANSWER'
  /** Anything unexpected on the monitor's side (disk, a bug). */
  | 'INTERNAL'

/** Exit codes of `--once`, for an operator's cron: 0 clean, 1 alerts raised, 2 usage, 4 log unreachable. */
export const EXIT_CLEAN = 0
export const EXIT_ALERTS = 1
export const EXIT_USAGE = 2
export const EXIT_UNREACHABLE = 4

/** The one table mapping error codes to exit codes. A local failure (INTERNAL) is the operator's to fix: 2. */
export const EXIT_CODE_BY_CODE: Readonly<Record<MonitorErrorCode, number>> = {
  INVALID_CONFIG: EXIT_USAGE,
  DATA_MISMATCH: EXIT_USAGE,
  LOG_UNREACHABLE: EXIT_UNREACHABLE,
  BAD_ANSWER: EXIT_ALERTS,
  INTERNAL: EXIT_USAGE,
}

/** The one error class of the monitor. `code` is stable; `message` is for people. */
export class MonitorError extends Error {
  override name = 'MonitorError'
  constructor(
    readonly code: MonitorErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** An error as an alert carries it: its stable code (UNEXPECTED for anything but ours and tlog's), its message. */
export function describeError(err: unknown): { code: string; message: string } {
  const code = err instanceof TlogError || err instanceof MonitorError ? err.code : 'UNEXPECTED'
  return { code, message: (err as Error).message }
}

/** Errors that mean the log's tiles or bundles do not match its signed tree (alerts, not failures). */
export function isBadTile(err: unknown): boolean {
  if (err instanceof MonitorError) return err.code === 'BAD_ANSWER'
  return (
    err instanceof TlogError &&
    ['TILE_MISMATCH', 'MALFORMED_TILE', 'MALFORMED_ENTRY_BUNDLE', 'INDEX_OUT_OF_RANGE'].includes(err.code)
  )
}
