// Bootstrap chains against a log (issue 15): the pure walk of chain.ts fed by batch counts, one batch per
// level of build inputs, every level proven against the ONE checkpoint the first batch accepted.
import {
  DIGEST_ALGORITHMS,
  parseCanonicalDigest,
  statementBuildInputs,
  subjectDigestKeys,
  type SubjectDigests,
} from '@ledger/attestation'
import { countBatch } from './batch.js'
import {
  DEFAULT_CHAIN_DEPTH,
  distinctToolchains,
  evaluateChain,
  type ArtifactEvidence,
  type BuildInput,
  type ChainAnswer,
} from './chain.js'
import type { VerifiedCheckpoint } from './checkpoint-tracker.js'
import { ClientError } from './errors.js'
import type { LedgerClient, VerifiedEntry } from './log-client.js'
import type { TrustPolicy } from './policy.js'

/** Most levels of build inputs a walk may be asked to follow. */
export const MAX_CHAIN_DEPTH = 64

export interface ChainOptions {
  /** A client of the policy's log (LedgerClient.fromPolicy). */
  client: LedgerClient
  /** The policy: parties, threshold, `roots` and `minDistinctToolchains`. */
  policy: TrustPolicy
  /** `<alg>:<lowercase hex>`. */
  digest: string
  /** The artifact's name in the answer; default the subject name its counted attestations give it. */
  name?: string
  /** Count only the artifact's attestations from this source commit (its build inputs: any commit). */
  commit?: string
  /** Parties needed at every level; default the policy's threshold. */
  threshold?: number
  /** Levels of build inputs below the artifact (0..MAX_CHAIN_DEPTH; default 8). */
  depth?: number
}

/** The chain, with what it was proven against. */
export interface VerifiedChain extends ChainAnswer {
  threshold: number
  depth: number
  minDistinctToolchains: number
  /** Distinct build-input sets among the parties counted for the artifact. */
  toolchains: number
  /** The signed checkpoint every entry of every level was proven against. */
  checkpoint: string
}

/**
 * Walks the build inputs below `digest` (evaluateChain): the artifact must meet the threshold (and
 * `minDistinctToolchains` of the policy), then every build input named by the counted attestations
 * (`resolvedDependencies` with a digest the log indexes, the source commit aside) must be a root of the
 * policy or meet the threshold itself, recursively, to `depth` levels. Each level is one batch count
 * (countBatch), the first accepting the log's checkpoint through the client's tracker (consistent with the
 * stored one) and every later one pinned to it, so the whole answer is proven against ONE checkpoint. An
 * input named by several digests is followed by the one a root names, else by the first of sha256,
 * sha384, sha512, blake2b. Throws ClientError INVALID_ARGUMENT, LOG_MISBEHAVING (with evidence), NETWORK,
 * REJECTED, STATE_IO.
 */
export async function verifyChain(opts: ChainOptions): Promise<VerifiedChain> {
  const { client, policy, digest, commit } = opts
  const threshold = opts.threshold ?? policy.threshold
  const depth = opts.depth ?? DEFAULT_CHAIN_DEPTH
  if (!Number.isSafeInteger(depth) || depth < 0 || depth > MAX_CHAIN_DEPTH)
    throw new ClientError('INVALID_ARGUMENT', `depth ${depth} is not an integer in 0..${MAX_CHAIN_DEPTH}`)
  const parsed = parseCanonicalDigest(digest)
  if (parsed === undefined)
    throw new ClientError(
      'INVALID_ARGUMENT',
      `digest ${digest} is not <alg>:<lowercase hex> (${DIGEST_ALGORITHMS.join(', ')})`,
    )
  const roots = policy.roots ?? []
  const rootDigests = new Set(roots.flatMap((r) => (r.digest !== undefined ? [r.digest] : [])))
  const rootParties = new Set(roots.flatMap((r) => (r.party !== undefined ? [r.party] : [])))
  const minDistinctToolchains = policy.minDistinctToolchains ?? 1

  /** The digest an input is followed by: one a root names, else the first accepted algorithm's. */
  const followed = (digests: SubjectDigests): string => {
    const keys = subjectDigestKeys(digests)
    return keys.find((key) => rootDigests.has(key)) ?? keys[0]!
  }
  const inputsOf = (entry: VerifiedEntry): BuildInput[] =>
    statementBuildInputs(entry.statement).map((input) => ({
      name: input.name,
      digest: followed(input.digest),
    }))

  let checkpoint: VerifiedCheckpoint | undefined
  const known = new Map<bigint, VerifiedEntry>()
  let subjectName: string | undefined
  let level = 0
  const evidence = async (digests: string[]): Promise<Map<string, ArtifactEvidence>> => {
    const first = level++ === 0
    const proven = await countBatch({
      client,
      policy,
      queries: digests.map((d) => ({ digest: d, ...(first && commit !== undefined && { commit }) })),
      threshold,
      ...(checkpoint !== undefined && { checkpoint, known }),
    })
    checkpoint = proven.checkpoint
    for (const [index, entry] of proven.entries) known.set(index, entry)
    const out = new Map<string, ArtifactEvidence>()
    proven.count.answers.forEach((answer, i) => {
      const asked = digests[i]!
      const inputsByParty = answer.parties.flatMap((party) =>
        party.entries.map((index) => ({
          party: party.name,
          entry: index,
          inputs: inputsOf(entryAt(proven.entries, index)),
        })),
      )
      if (first) subjectName = subjectNameOf(asked, answer.parties, proven.entries)
      out.set(asked, {
        count: answer.count,
        threshold: answer.threshold,
        conflicts: answer.conflicts.length,
        attestedByRoot: answer.parties.some((p) => rootParties.has(p.name)),
        inputsByParty,
      })
    })
    return out
  }

  const answer = await evaluateChain(
    { name: opts.name ?? digest, digest },
    { roots: [...rootDigests].map((d) => ({ name: '', digest: d })), minDistinctToolchains, depth },
    evidence,
  )
  // Names: the artifact's from its attestations; a root's, from the policy.
  const top = answer.nodes.find((n) => n.digest === digest)!
  if (opts.name === undefined && subjectName !== undefined) top.name = subjectName
  for (const node of answer.nodes) {
    if (node.verdict !== 'root') continue
    const byDigest = roots.find((r) => r.digest === node.digest)
    const party = node.evidence?.find((e) => rootParties.has(e.party))?.party
    const byParty = roots.find((r) => r.party !== undefined && r.party === party)
    if (byDigest !== undefined) node.rootName = byDigest.name
    else if (byParty !== undefined) node.rootName = `${byParty.name} (attested by ${party})`
  }
  return {
    ...answer,
    threshold,
    depth,
    minDistinctToolchains,
    toolchains: top.evidence !== undefined ? distinctToolchains(top.evidence) : 0,
    // No level asked the log only when the artifact itself is a root: then the log was not needed.
    checkpoint: checkpoint?.note ?? '',
  }
}

function entryAt(entries: ReadonlyMap<bigint, VerifiedEntry>, index: number): VerifiedEntry {
  const entry = entries.get(BigInt(index))
  // countBatch counted this entry, so it verified it: a missing one is a bug here, not the log's.
  if (entry === undefined) throw new Error(`entry ${index} was counted but not kept`)
  return entry
}

/** The subject name the counted entries give `digest` (the first, by entry index). */
function subjectNameOf(
  digest: string,
  parties: readonly { entries: number[] }[],
  entries: ReadonlyMap<bigint, VerifiedEntry>,
): string | undefined {
  const parsed = parseCanonicalDigest(digest)!
  const indexes = parties.flatMap((p) => p.entries).sort((a, b) => a - b)
  for (const index of indexes) {
    const subject = entryAt(entries, index).keys.subjects.find(
      (s) => s.digest[parsed.algorithm] === parsed.hex,
    )
    if (subject !== undefined) return subject.name
  }
  return undefined
}
