// The environment's defaults of the flags (ATTEST_LOG, ATTEST_POLICY): one rule for the commander wiring
// (program.ts) and the parser of `attest verify` (main.ts).
import { usage } from './cli-error.js'
import type { Io } from './io.js'

/**
 * The environment's defaults for flags not given (as gh and cosign users expect): $ATTEST_LOG for --log;
 * $ATTEST_POLICY for --policy when no other flag pins the log key (--log-key, --tlog-policy), always for
 * `verify`. A command that still has no --log is a usage error (exit 2) naming both.
 */
export function withEnvDefaults<
  T extends { log?: string; policy?: string; logKey?: string; tlogPolicy?: string },
>(io: Io, opts: T, policyRequired: boolean): T & { log: string } {
  const log = opts.log ?? (io.env['ATTEST_LOG'] || undefined)
  if (log === undefined) throw usage('--log URL is required (or set ATTEST_LOG)', undefined, 'MISSING_OPTION')
  const withPolicy = policyRequired ? withPolicyDefault(io, opts, true) : withPolicyDefault(io, opts)
  if (policyRequired && withPolicy.policy === undefined) {
    throw usage('--policy FILE is required (or set ATTEST_POLICY)', undefined, 'MISSING_OPTION')
  }
  return { ...withPolicy, log }
}

export function withPolicyDefault<T extends { policy?: string; logKey?: string; tlogPolicy?: string }>(
  io: Io,
  opts: T,
  always = false,
): T {
  const fromEnv = io.env['ATTEST_POLICY'] || undefined
  if (opts.policy !== undefined || fromEnv === undefined) return opts
  if (!always && (opts.logKey !== undefined || opts.tlogPolicy !== undefined)) return opts
  return { ...opts, policy: fromEnv }
}
