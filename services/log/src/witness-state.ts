// Which configured witnesses cosigned a checkpoint, and when: for /readyz and the status page. Pure.
import { openCheckpoint, parseCosignatureVerifierKey, parseVerifierKey } from '@ledger/tlog'

export interface WitnessCosignature {
  name: string
  /** The cosignature's time, POSIX seconds (what the witness claims). */
  timestamp: number
}

export interface WitnessState {
  /** The configured witnesses whose valid cosignature the checkpoint carries. */
  cosigned: WitnessCosignature[]
  quorumMet: boolean
}

/**
 * Reads the cosignatures of `witnessKeys` (cosignature/v1 verifier keys) on the log-signed checkpoint
 * `text`, verifying each. A checkpoint that does not open under `logVerifierKey` carries none.
 */
export function witnessState(
  text: string,
  logVerifierKey: string,
  witnessKeys: readonly string[],
  quorum: number,
): WitnessState {
  let cosigned: WitnessCosignature[]
  try {
    const opened = openCheckpoint(text, parseVerifierKey(logVerifierKey), {
      witnesses: witnessKeys.map(parseCosignatureVerifierKey),
      quorum: 0,
    })
    cosigned = opened.cosignatures.map((c) => ({ name: c.name, timestamp: Number(c.timestamp) }))
  } catch {
    cosigned = []
  }
  return { cosigned, quorumMet: cosigned.length >= quorum }
}
