// The one table from outcomes to exit codes (documented in `attest --help` and the README).
import { AttestationError } from '@ledger/attestation/errors.js'
import { ClientError } from '@ledger/client/errors.js'
import { TlogError } from '@ledger/tlog/errors.js'

/** Exit codes of `attest`. */
export const EXIT = {
  /** Success; for `verify`, the threshold is met and there is no conflict. */
  OK: 0,
  /** A negative verdict: threshold not met, a conflict, a receipt that does not verify. */
  NEGATIVE: 1,
  /** Usage or input error: bad flags, unreadable or invalid files, a policy error, a request the log refused. */
  USAGE: 2,
  /** The log misbehaved: bad signature, fork, rollback, bad proof, malformed answer; or a stale checkpoint. */
  LOG_MISBEHAVED: 3,
  /** The log could not be reached or was unavailable. */
  UNAVAILABLE: 4,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/** Text for `attest --help`. */
export const EXIT_CODES_HELP = `Exit codes:
  0  ok (verify: threshold met, no conflict)
  1  negative verdict (verify: threshold not met or a conflict; receipt verify: invalid receipt)
  2  usage or input error (bad flags, unreadable files, invalid policy, request refused by the log)
  3  the log misbehaved (bad signature, fork, rollback, bad proof, malformed answer), or its checkpoint
     is older than the policy's maxCheckpointAgeSeconds (STALE)
  4  network error or log unavailable`

/** The exit code for an error a command threw. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof ClientError) {
    switch (err.code) {
      case 'LOG_MISBEHAVING':
      case 'STALE':
        return EXIT.LOG_MISBEHAVED
      case 'NETWORK':
        return EXIT.UNAVAILABLE
      case 'RECEIPT_INVALID':
        return EXIT.NEGATIVE
      // A 404 is a request the log refused (a wrong URL path, an unknown index), as the README says.
      case 'NOT_FOUND':
      case 'REJECTED':
      case 'POLICY_INVALID':
      case 'STATE_IO':
      case 'INVALID_ARGUMENT':
        return EXIT.USAGE
    }
  }
  if (err instanceof AttestationError || err instanceof TlogError) return EXIT.USAGE
  return EXIT.USAGE
}
