// Freshness (docs/design/verifiable-index.md §8): how long ago the policy's witness quorum cosigned a
// checkpoint, by the cosignature/v1 timestamps. Pure: the caller gives the time.
import { isQuorumMet } from '@ledger/tlog/tlog-policy.js'
import { openWitnessedCheckpoint, type LogTrust, type WitnessTrust } from './policy.js'

/** What an answer says about its checkpoint's age (`fresh` in `attest verify --json`). */
export interface Freshness {
  /** When the witness quorum had cosigned the checkpoint, ISO 8601 (the witnesses' clocks). */
  cosignedAt: string
  /** Seconds from then to now (negative when a witness's clock is ahead of ours). */
  ageSeconds: number
  /** The policy's maximum (maxCheckpointAgeSeconds), or null when it sets none. */
  maxAgeSeconds: number | null
}

/** Why no freshness is claimed, for people; undefined when it is. */
export function freshnessNotClaimed(witnesses: WitnessTrust): string | undefined {
  const needed =
    witnesses.tlogPolicy === undefined ? witnesses.quorum > 0 : !isQuorumMet(witnesses.tlogPolicy, [])
  return needed ? undefined : 'the policy names no witnesses'
}

/**
 * The freshness of a checkpoint (untrusted note; it is opened again: signatures and quorum) under the
 * policy's log and witnesses, or null when none is claimed: the policy needs no witness, or the quorum's
 * signatures carry no time (plain note keys). Throws TlogError when the note does not open.
 */
export function checkpointFreshness(
  note: string,
  policy: { log: LogTrust; witnesses: WitnessTrust },
  nowSeconds: number,
): Freshness | null {
  if (freshnessNotClaimed(policy.witnesses) !== undefined) return null
  const { cosignedAt } = openWitnessedCheckpoint(note, policy.log, policy.witnesses)
  if (cosignedAt === undefined) return null
  return {
    cosignedAt: new Date(Number(cosignedAt) * 1000).toISOString(),
    ageSeconds: nowSeconds - Number(cosignedAt),
    maxAgeSeconds: policy.witnesses.maxAgeSeconds ?? null,
  }
}

/** One line for people: the age and the limit, or why no freshness is claimed. */
export function formatFreshness(fresh: Freshness | null, witnesses: WitnessTrust): string {
  if (fresh === null) {
    return `freshness not claimed: ${freshnessNotClaimed(witnesses) ?? "the witnesses' signatures carry no time"}`
  }
  const limit =
    fresh.maxAgeSeconds === null ? 'the policy sets no maximum' : `at most ${fresh.maxAgeSeconds} s allowed`
  return `fresh: the witness quorum cosigned it ${fresh.ageSeconds} s ago, at ${fresh.cosignedAt} (${limit})`
}
