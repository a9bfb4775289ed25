// Trust policies (schemas/trust-policy.schema.json, DESIGN §8): which log, which witnesses, which parties.
import { publicKeyFromPEM } from '@ledger/attestation/keys.js'
import { schemaProblem } from '@ledger/attestation/schemas.js'
import { openCheckpoint, type Checkpoint } from '@ledger/tlog/checkpoint.js'
import { parseCosignatureVerifierKey } from '@ledger/tlog/cosignature.js'
import { TlogError } from '@ledger/tlog/errors.js'
import {
  SIGNATURE_TYPE_COSIGNATURE_V1,
  parseVerifierKey,
  type NoteVerifier,
} from '@ledger/tlog/signed-note.js'
import { isQuorumMet, parseTlogPolicy, type TlogPolicy } from '@ledger/tlog/tlog-policy.js'
import { ClientError } from './errors.js'

/** A party of a trust policy, its keys resolved to key ids (lowercase hex SHA-256 of the SPKI DER). */
export interface PolicyParty {
  name: string
  keyIds: string[]
}

/** A log to trust: its origin and its C2SP note verifier key. */
export interface LogTrust {
  origin: string
  verifierKey: string
  verifier: NoteVerifier
}

/**
 * Witnesses whose cosignatures a checkpoint needs: `quorum` of `keys` (0 when the policy names none), or,
 * when they come from a C2SP tlog-policy file, that policy's quorum rule (its groups), and `quorum` unused.
 */
export interface WitnessTrust {
  keys: string[]
  verifiers: NoteVerifier[]
  quorum: number
  tlogPolicy?: TlogPolicy
  /**
   * Freshness: a checkpoint whose witness quorum cosigned it longer ago than this (seconds) is refused
   * (ClientError STALE). Only with cosignature/v1 witnesses, whose cosignatures carry their time.
   */
  maxAgeSeconds?: number
}

/**
 * A root of trust for chains (`attest verify --chain`): an artifact trusted without reproduction, by its
 * digest (`<alg>:<lowercase hex>`), or every artifact that a party of the policy attested itself (an
 * upstream that attests its own releases). Exactly one of `digest` and `party`.
 */
export interface TrustRoot {
  name: string
  digest?: string
  party?: string
}

/** A trust policy that passed loadTrustPolicy: every key parsed, every cross-field rule checked. */
export interface TrustPolicy {
  log: LogTrust
  /**
   * The log's verifiable index (origin `<log origin>/index`), when the policy pins it: lookups and counts
   * then go through it and are complete (docs/design/verifiable-index.md).
   */
  index?: LogTrust
  witnesses: WitnessTrust
  parties: PolicyParty[]
  threshold: number
  /** Key id → the name of the party it belongs to. */
  partyOf: ReadonlyMap<string, string>
  /** Roots of trust for chains (none when the policy names none). */
  roots?: TrustRoot[]
  /** Distinct build-input sets the parties counted for a chain's artifact must have used (default 1). */
  minDistinctToolchains?: number
}

interface RawPolicy {
  log?: { origin: string; verifierKey: string }
  index?: { verifierKey: string }
  witnesses?: { keys: string[]; quorum: number }
  maxCheckpointAgeSeconds?: number
  parties: { name: string; keys: string[] }[]
  threshold: number
  roots?: TrustRoot[]
  minDistinctToolchains?: number
}

/**
 * Parses a log verifier key (untrusted: policy files, --log-key flags, /api/v1/log answers) and checks that
 * its name is `origin` when given (the log's note key name is its origin, DESIGN §7). Throws ClientError
 * POLICY_INVALID.
 */
export function parseLogTrust(verifierKey: string, origin?: string): LogTrust {
  let verifier: NoteVerifier
  try {
    verifier = parseVerifierKey(verifierKey)
  } catch (cause) {
    throw new ClientError('POLICY_INVALID', `log verifier key: ${reason(cause)}`, { cause })
  }
  if (origin !== undefined && verifier.name !== origin) {
    throw new ClientError(
      'POLICY_INVALID',
      `log verifier key is named ${JSON.stringify(verifier.name)}, not the origin ${JSON.stringify(origin)}`,
    )
  }
  return { origin: verifier.name, verifierKey, verifier }
}

/** Parses a witness key: a cosignature/v1 key (alg 0x04), or a plain Ed25519 note key (alg 0x01). */
export function parseWitnessKey(key: string): NoteVerifier {
  try {
    return parseCosignatureVerifierKey(key)
  } catch (first) {
    try {
      return parseVerifierKey(key)
    } catch {
      throw new ClientError('POLICY_INVALID', `witness key ${JSON.stringify(key)}: ${reason(first)}`, {
        cause: first,
      })
    }
  }
}

/**
 * The log-and-witness part of a trust policy from a C2SP tlog-policy file (DESIGN §9; the grammar Sigsum and
 * Tessera share): its log (the one named `log` in the JSON policy, if that names one; else the file must
 * list exactly one), and its witnesses with their group quorum. Throws ClientError POLICY_INVALID.
 */
export function fromTlogPolicy(
  text: string,
  jsonLog?: { origin: string; verifierKey: string },
): { log: LogTrust; witnesses: WitnessTrust } {
  let policy: TlogPolicy
  try {
    policy = parseTlogPolicy(text)
  } catch (cause) {
    throw new ClientError('POLICY_INVALID', `tlog-policy: ${reason(cause)}`, { cause })
  }
  const logs = jsonLog === undefined ? policy.logs : policy.logs.filter((l) => l.vkey === jsonLog.verifierKey)
  if (logs.length !== 1) {
    throw new ClientError(
      'POLICY_INVALID',
      jsonLog === undefined
        ? `tlog-policy: lists ${logs.length} logs; name the one to use in the trust policy's \`log\``
        : "tlog-policy: does not list the trust policy's log key",
    )
  }
  const log = parseLogTrust(logs[0]!.vkey, jsonLog?.origin)
  const witnesses: WitnessTrust = {
    keys: policy.witnesses.map((w) => w.vkey),
    verifiers: policy.witnesses.map((w) => w.verifier),
    quorum: 0,
    tlogPolicy: policy,
  }
  return { log, witnesses }
}

/** A checkpoint that passed openWitnessedCheckpoint. */
export interface WitnessedCheckpoint {
  checkpoint: Checkpoint
  /**
   * When the policy's witness quorum had cosigned it, POSIX seconds: the latest time T such that the
   * cosignature/v1 cosignatures dated T or later meet the quorum on their own (for k of n: the k-th newest
   * cosignature). Undefined when the policy needs no witness, or the quorum holds only with witnesses
   * whose signatures carry no time.
   */
  cosignedAt?: bigint
}

/**
 * Opens a signed checkpoint (untrusted) of `log`: the log's signature and origin, every known signature
 * valid, and the witness quorum (k of the listed keys, or the tlog-policy's group rule). Throws TlogError
 * (BAD_SIGNATURE, NO_VERIFIED_SIGNATURE, ORIGIN_MISMATCH, QUORUM_NOT_MET, MALFORMED_*).
 */
export function openTrustedCheckpoint(
  note: string,
  log: { verifier: NoteVerifier; origin: string },
  witnesses: WitnessTrust,
): Checkpoint {
  return openWitnessedCheckpoint(note, log, witnesses).checkpoint
}

/** openTrustedCheckpoint, with the time the witness quorum had cosigned the checkpoint. Throws as it. */
export function openWitnessedCheckpoint(
  note: string,
  log: { verifier: NoteVerifier; origin: string },
  witnesses: WitnessTrust,
): WitnessedCheckpoint {
  const { tlogPolicy } = witnesses
  const opened = openCheckpoint(note, log.verifier, {
    witnesses: witnesses.verifiers,
    quorum: tlogPolicy === undefined ? witnesses.quorum : 0,
    origin: log.origin,
  })
  // Which policy witness names signed, for the tlog-policy's group rule.
  const nameOf = (sig: { name: string; keyId: number }) =>
    tlogPolicy?.witnesses.find((w) => sig.name === w.verifier.name && sig.keyId === w.verifier.keyId)?.name
  const met = (signers: readonly { name: string; keyId: number }[]): boolean =>
    tlogPolicy === undefined
      ? signers.length >= witnesses.quorum
      : isQuorumMet(
          tlogPolicy,
          signers.map(nameOf).filter((n): n is string => n !== undefined),
        )
  if (tlogPolicy !== undefined && !met(opened.witnessSignatures)) {
    const witnessed = opened.witnessSignatures.map(nameOf).filter((n) => n !== undefined)
    throw new TlogError(
      'QUORUM_NOT_MET',
      `witnesses ${witnessed.join(', ') || '(none)'} do not meet the tlog-policy quorum`,
    )
  }
  if (met([])) return { checkpoint: opened.checkpoint }
  // The newest cosignatures first: the first prefix that meets the quorum dates it.
  const dated = [...opened.cosignatures].sort((a, b) =>
    a.timestamp > b.timestamp ? -1 : a.timestamp < b.timestamp ? 1 : 0,
  )
  for (let n = 1; n <= dated.length; n++) {
    if (met(dated.slice(0, n))) return { checkpoint: opened.checkpoint, cosignedAt: dated[n - 1]!.timestamp }
  }
  return { checkpoint: opened.checkpoint }
}

/**
 * Refuses a checkpoint that is older than the policy allows (freshness, verifiable-index.md §8): its
 * witness quorum cosigned it more than `maxAgeSeconds` before `nowSeconds`. Pure. Throws ClientError STALE
 * (evidence kind `stale`, the note) naming the age and the limit.
 */
export function assertFresh(
  origin: string,
  note: string,
  witnessed: WitnessedCheckpoint,
  witnesses: WitnessTrust,
  nowSeconds: number,
): void {
  const limit = witnesses.maxAgeSeconds
  if (limit === undefined) return
  const size = witnessed.checkpoint.size
  if (witnessed.cosignedAt === undefined) {
    throw new ClientError(
      'STALE',
      `checkpoint ${size} of ${origin} carries no dated quorum of cosignatures: its age is unknown, and the policy allows at most ${limit} s`,
      { evidence: { kind: 'stale', received: note, origin } },
    )
  }
  const age = nowSeconds - Number(witnessed.cosignedAt)
  if (age > limit) {
    throw new ClientError(
      'STALE',
      `checkpoint ${size} of ${origin} was cosigned by the witness quorum ${age} s ago; the policy allows at most ${limit} s`,
      { evidence: { kind: 'stale', received: note, origin } },
    )
  }
}

/** Resolves a policy key (a key id, or an SPKI PEM) to its key id. */
function keyIdOf(key: string, party: string): string {
  if (/^[0-9a-f]{64}$/.test(key)) return key
  try {
    return publicKeyFromPEM(key).keyId
  } catch (cause) {
    throw new ClientError('POLICY_INVALID', `party ${JSON.stringify(party)}: public key: ${reason(cause)}`, {
      cause,
    })
  }
}

/**
 * Loads a trust policy from its JSON text (untrusted input). Checks the schema (with the attestation
 * package's validator), then what a schema cannot: the log key parses and is named after the origin; each
 * witness key parses, no two witnesses share a key, and the quorum is at most the number of witnesses;
 * party names are unique; every PEM key is an accepted key type; no key belongs to two parties (a key
 * listed twice in one party, once by id and once by PEM, counts once); the threshold is at most the number
 * of parties (a policy whose threshold can never be met is a mistake, not a policy).
 * Throws ClientError POLICY_INVALID with a message naming the offending field.
 */
export function loadTrustPolicy(text: string, options: { tlogPolicy?: string } = {}): TrustPolicy {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new ClientError('POLICY_INVALID', `trust policy is not JSON: ${reason(cause)}`, { cause })
  }
  const problem = schemaProblem('trust-policy', json)
  if (problem !== undefined) throw new ClientError('POLICY_INVALID', `trust policy ${problem}`)
  const raw = json as RawPolicy
  let log: LogTrust
  let witnesses: WitnessTrust = { keys: [], verifiers: [], quorum: 0 }
  if (options.tlogPolicy !== undefined) {
    if (raw.witnesses !== undefined) {
      throw new ClientError(
        'POLICY_INVALID',
        'witnesses come from the tlog-policy file: remove them from the trust policy',
      )
    }
    ;({ log, witnesses } = fromTlogPolicy(options.tlogPolicy, raw.log))
  } else if (raw.log === undefined) {
    throw new ClientError(
      'POLICY_INVALID',
      'the trust policy names no log (give `log`, or a C2SP tlog-policy file)',
    )
  } else {
    log = parseLogTrust(raw.log.verifierKey, raw.log.origin)
  }
  if (raw.witnesses !== undefined) {
    const seen = new Set<string>()
    for (const key of raw.witnesses.keys) {
      const verifier = parseWitnessKey(key)
      const id = `${verifier.name}+${verifier.keyId}`
      if (seen.has(id))
        throw new ClientError('POLICY_INVALID', `witness key ${JSON.stringify(key)} is listed twice`)
      seen.add(id)
      witnesses.keys.push(key)
      witnesses.verifiers.push(verifier)
    }
    if (raw.witnesses.quorum > witnesses.verifiers.length) {
      throw new ClientError(
        'POLICY_INVALID',
        `witness quorum ${raw.witnesses.quorum} is more than the ${witnesses.verifiers.length} witness keys`,
      )
    }
    witnesses.quorum = raw.witnesses.quorum
  }

  let index: LogTrust | undefined
  if (raw.index !== undefined) {
    try {
      index = parseLogTrust(raw.index.verifierKey, `${log.origin}/index`)
    } catch (cause) {
      throw new ClientError('POLICY_INVALID', `index: ${reason(cause)}`, { cause })
    }
  }

  const partyOf = new Map<string, string>()
  const parties: PolicyParty[] = []
  const names = new Set<string>()
  for (const party of raw.parties) {
    if (names.has(party.name)) {
      throw new ClientError('POLICY_INVALID', `party name ${JSON.stringify(party.name)} is used twice`)
    }
    names.add(party.name)
    const keyIds: string[] = []
    for (const key of party.keys) {
      const keyId = keyIdOf(key, party.name)
      const owner = partyOf.get(keyId)
      if (owner === party.name) continue
      if (owner !== undefined) {
        throw new ClientError(
          'POLICY_INVALID',
          `key ${keyId} is listed under two parties, ${JSON.stringify(owner)} and ${JSON.stringify(party.name)}`,
        )
      }
      partyOf.set(keyId, party.name)
      keyIds.push(keyId)
    }
    parties.push({ name: party.name, keyIds })
  }
  if (raw.maxCheckpointAgeSeconds !== undefined) {
    // Freshness rests on the witnesses' clocks: without a quorum of dated cosignatures there is none.
    const needsWitness =
      witnesses.tlogPolicy === undefined ? witnesses.quorum > 0 : !isQuorumMet(witnesses.tlogPolicy, [])
    if (!needsWitness) {
      throw new ClientError(
        'POLICY_INVALID',
        'maxCheckpointAgeSeconds needs witnesses: without a witness quorum no freshness can be claimed',
      )
    }
    const undated = witnesses.verifiers.find((v) => v.signatureType !== SIGNATURE_TYPE_COSIGNATURE_V1)
    if (undated !== undefined) {
      throw new ClientError(
        'POLICY_INVALID',
        `maxCheckpointAgeSeconds needs cosignature/v1 witness keys (their cosignatures carry the time); ${undated.name} is a plain note key`,
      )
    }
    witnesses.maxAgeSeconds = raw.maxCheckpointAgeSeconds
  }
  if (raw.threshold > parties.length) {
    throw new ClientError(
      'POLICY_INVALID',
      `threshold ${raw.threshold} is more than the ${parties.length} parties: it can never be met`,
    )
  }
  // Chains: a root by party names a party of the policy; diversity cannot ask for more than the parties.
  raw.roots?.forEach((root, i) => {
    if (root.party !== undefined && !names.has(root.party)) {
      throw new ClientError(
        'POLICY_INVALID',
        `trust policy /roots/${i}/party: ${JSON.stringify(root.party)} is not a party of the policy (name it under /parties with its keys)`,
      )
    }
  })
  if (raw.minDistinctToolchains !== undefined && raw.minDistinctToolchains > parties.length) {
    throw new ClientError(
      'POLICY_INVALID',
      `trust policy /minDistinctToolchains: ${raw.minDistinctToolchains} is more than the ${parties.length} parties: it can never be met`,
    )
  }
  return {
    log,
    ...(index !== undefined && { index }),
    witnesses,
    parties,
    threshold: raw.threshold,
    partyOf,
    ...(raw.roots !== undefined && {
      roots: raw.roots.map((r) => ({
        name: r.name,
        ...(r.digest !== undefined && { digest: r.digest }),
        ...(r.party !== undefined && { party: r.party }),
      })),
    }),
    ...(raw.minDistinctToolchains !== undefined && { minDistinctToolchains: raw.minDistinctToolchains }),
  }
}

/** The message of a cause, without its code: the POLICY_INVALID error carries the one code. */
function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
