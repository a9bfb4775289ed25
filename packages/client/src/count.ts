// Counting reproductions (DESIGN §8): how many independent parties of a trust policy reproduced digest H
// (from commit C), proven against one signed checkpoint, with conflicts and unknown keys reported.
import {
  DIGEST_ALGORITHMS,
  digestsDiffer,
  formatDigest,
  parseCanonicalDigest,
  type Digest,
  type SubjectDigests,
} from '@ledger/attestation/digest.js'
import { ClientError } from './errors.js'
import type { VerifiedCheckpoint } from './checkpoint-tracker.js'
import type { VerifiedLeaf } from './entry.js'
import type { LedgerClient, LookupPage, LookupQuery, VerifiedEntry } from './log-client.js'
import type { TrustPolicy } from './policy.js'

/** The question. */
export interface CountOptions {
  /** A client of the policy's log (LedgerClient.fromPolicy). */
  client: LedgerClient
  policy: TrustPolicy
  /** `<alg>:<lowercase hex>`, alg one of sha256, sha384, sha512, blake2b. */
  digest: string
  /** Count only entries whose source commit is this (40 or 64 lowercase hex). */
  commit?: string
  /** Parties needed; default the policy's threshold. */
  threshold?: number
  /** Fetch every match, whoever signed it, while the log reports at most this many (default 1,000). */
  fetchAllLimit?: number
  /** Entries asked per lookup page (default 1,000, the most the log serves: up to 1,000 matches in one round trip). */
  pageSize?: number
}

/** A party that counted. */
export interface CountedParty {
  name: string
  /** Its keys that signed entries naming the digest (sorted). */
  keyids: string[]
  /** Those entries' indexes (ascending). */
  entries: number[]
}

/** An entry by a trusted party that names, for the same commit and subject name, another digest. */
export interface Conflict {
  party: string
  keyid: string
  index: number
  subject: string
  /** The other digest, `<alg>:<hex>` in the first algorithm both name and differ in. */
  digest: string
  commit: string
}

/** The answer, exactly the JSON shape of DESIGN §8 (`attest verify --json`). */
export interface ReproductionCount {
  digest: string
  commit?: string
  count: number
  threshold: number
  /** count ≥ threshold and no conflict. */
  ok: boolean
  parties: CountedParty[]
  conflicts: Conflict[]
  /**
   * Entries naming the digest (from the commit, if given) by keys outside the policy: never counted.
   * `count` is the number of such entries fetched, `keyids` their distinct keys, `notFetched` the number of
   * entries by other keys the client did not fetch because the log reported more than `fetchAllLimit`.
   */
  unknown: { count: number; keyids: string[]; notFetched: number }
  /** The signed checkpoint every counted entry was proven against (the newest the lookups saw). */
  checkpoint: string
  /**
   * True when the answer came through the pinned verifiable index: the entries counted and checked for
   * conflicts are all those of the log's first `indexedSize` entries (none can have been left out). False:
   * every entry is verified, but nothing proves the log sent them all.
   */
  complete: boolean
  /** With `complete`: the output log's size and the log entries the answer is complete for. */
  indexSize?: number
  indexedSize?: number
}

/** How complete a count is (see ReproductionCount.complete). */
export type Completeness = { complete: false } | { complete: true; indexSize: number; indexedSize: number }

const COMMIT_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/
// Key ids per lookup request: keeps URLs well under common 8 KiB limits (64 × 72 bytes).
const KEYIDS_PER_QUERY = 64

/**
 * Counts the distinct parties of `policy` that reproduced `digest` (DESIGN §8):
 * 1. looks the digest up: every match while the log reports at most `fetchAllLimit`, else only the
 *    policy's keys (the rest reported as `unknown.notFetched`); each page's checkpoint is verified
 *    (signature, witnesses) and must be consistent with the client's stored checkpoint (fork/rollback:
 *    LOG_MISBEHAVING, with evidence);
 * 2. every entry is verified: inclusion proof to its page's checkpoint, leaf decoding, payload hash, DSSE
 *    signature by the leaf's key, statement schema, and that it names the digest;
 * 3. counts parties, not keys, among entries whose subjects name the digest (and whose commit is
 *    `commit`, when given); entries by keys outside the policy are listed under `unknown`, never counted;
 * 4. for each source commit of a counted entry, looks the commit up (policy keys only) and reports every
 *    entry by a trusted party that gives one of the same subject names another digest.
 * Throws ClientError: INVALID_ARGUMENT, LOG_MISBEHAVING, NETWORK, NOT_FOUND, REJECTED, STATE_IO.
 */
export async function countReproductions(opts: CountOptions): Promise<ReproductionCount> {
  const { client, policy, digest, commit } = opts
  const threshold = opts.threshold ?? policy.threshold
  const parsed = parseCanonicalDigest(digest)
  if (parsed === undefined) {
    throw new ClientError(
      'INVALID_ARGUMENT',
      `digest ${digest} is not <alg>:<lowercase hex> (${DIGEST_ALGORITHMS.join(', ')})`,
    )
  }
  if (commit !== undefined && !COMMIT_RE.test(commit)) {
    throw new ClientError('INVALID_ARGUMENT', `commit ${commit} is not 40 or 64 lowercase hex`)
  }
  if (!Number.isSafeInteger(threshold) || threshold < 1) {
    throw new ClientError('INVALID_ARGUMENT', `threshold ${threshold} is not a positive integer`)
  }
  if (client.log.verifierKey !== policy.log.verifierKey) {
    throw new ClientError('INVALID_ARGUMENT', 'the client is not a client of the policy log')
  }
  if (client.index !== undefined) {
    return countThroughIndex(client, policy, parsed, commit, threshold)
  }
  const fetchAllLimit = opts.fetchAllLimit ?? 1000
  const pageSize = opts.pageSize ?? 1000
  const policyKeys = [...policy.partyOf.keys()]
  const newest = new NewestCheckpoint()
  // The commit lookups meet the digest's entries again: check each leaf's signature once per count.
  const verifiedLeaves = new Map<string, VerifiedLeaf>()
  const lookup = (q: LookupQuery) => client.lookup(q, verifiedLeaves)

  // 1-2. The digest's entries, verified by client.lookup.
  const first = await lookup({ digest, limit: pageSize })
  newest.see(first.checkpoint)
  let entries: VerifiedEntry[]
  let notFetched = 0
  if (first.total <= fetchAllLimit) {
    entries = await followPages(lookup, { digest, limit: pageSize }, first, newest)
  } else {
    entries = await lookupByKeys(lookup, { digest, limit: pageSize }, policyKeys, newest)
    notFetched = Math.max(0, first.total - entries.length)
  }

  // 3. Count parties.
  const tally = tallyEntries(policy, parsed, commit, entries)

  // 4. Conflicts: same commit, same subject name, another digest, by any trusted party.
  const sameCommit = new Map<string, VerifiedEntry[]>()
  for (const c of [...tally.counted.keys()].sort()) {
    sameCommit.set(c, await lookupByKeys(lookup, { commit: c, limit: pageSize }, policyKeys, newest))
  }
  return answerOf(policy, tally, sameCommit, {
    digest: formatDigest(parsed),
    commit,
    threshold,
    notFetched,
    checkpoint: newest.note(),
  })
}

/** Rounds of index lookups a count makes before the commits it needs stop changing. */
const INDEX_ROUNDS = 4

/**
 * countReproductions through the pinned index: the digest's complete list and the complete lists of the
 * commits of its counted entries, all from ONE output leaf (one batch; asked again with the commits once
 * they are known, until no new commit turns up). Every entry is counted or listed as unknown: none is left
 * unfetched.
 */
async function countThroughIndex(
  client: LedgerClient,
  policy: TrustPolicy,
  digest: Digest,
  commit: string | undefined,
  threshold: number,
): Promise<ReproductionCount> {
  const digestKey = `subject:${formatDigest(digest)}`
  const verifiedLeaves = new Map<string, VerifiedLeaf>()
  let commits: string[] = []
  for (let round = 0; round < INDEX_ROUNDS; round++) {
    const answer = await client.lookupIndex([digestKey, ...commits.map((c) => `commit:${c}`)], verifiedLeaves)
    const tally = tallyEntries(policy, digest, commit, answer.results.get(digestKey)!)
    const needed = [...tally.counted.keys()].sort()
    if (needed.every((c) => commits.includes(c))) {
      const sameCommit = new Map<string, VerifiedEntry[]>()
      for (const c of needed) sameCommit.set(c, answer.results.get(`commit:${c}`)!)
      return answerOf(policy, tally, sameCommit, {
        digest: formatDigest(digest),
        commit,
        threshold,
        notFetched: 0,
        checkpoint: answer.checkpoint.note,
        completeness: {
          complete: true,
          indexSize: Number(answer.indexSize),
          indexedSize: Number(answer.inputSize),
        },
      })
    }
    commits = [...new Set([...commits, ...needed])].sort()
  }
  throw new ClientError(
    'NETWORK',
    `the index kept moving: the commits of ${formatDigest(digest)} changed in ${INDEX_ROUNDS} lookups`,
  )
}

/** Step 3 of a count, pure: the digest's verified entries sorted into parties and unknown keys. */
export interface Tally {
  byParty: Map<string, { keyids: Set<string>; entries: number[] }>
  unknownKeys: Set<string>
  unknownCount: number
  /** For each source commit of a counted entry: subject name → the digest sets the counted entries gave it. */
  counted: Map<string, Map<string, SubjectDigests[]>>
}

/**
 * Sorts entries (already verified to name `digest`) into counted parties and unknown keys. An entry
 * counts when one of its subjects carries that (algorithm, value), and, with `commit`, names that commit.
 */
export function tallyEntries(
  policy: TrustPolicy,
  digest: Digest,
  commit: string | undefined,
  entries: readonly VerifiedEntry[],
): Tally {
  const tally: Tally = { byParty: new Map(), unknownKeys: new Set(), unknownCount: 0, counted: new Map() }
  for (const entry of entries) {
    if (commit !== undefined && !entry.keys.commits.includes(commit)) continue
    const subjects = entry.keys.subjects.filter((s) => s.digest[digest.algorithm] === digest.hex)
    if (subjects.length === 0) continue
    const party = policy.partyOf.get(entry.keyId)
    if (party === undefined) {
      tally.unknownCount++
      tally.unknownKeys.add(entry.keyId)
      continue
    }
    let counted = tally.byParty.get(party)
    if (counted === undefined) tally.byParty.set(party, (counted = { keyids: new Set(), entries: [] }))
    counted.keyids.add(entry.keyId)
    counted.entries.push(Number(entry.index))
    for (const c of entry.keys.commits) {
      if (commit !== undefined && c !== commit) continue
      let names = tally.counted.get(c)
      if (names === undefined) tally.counted.set(c, (names = new Map()))
      for (const subject of subjects) {
        const sets = names.get(subject.name) ?? []
        sets.push(subject.digest)
        names.set(subject.name, sets)
      }
    }
  }
  return tally
}

/**
 * Step 4 and the answer, pure: `sameCommit` holds, for each commit of `tally.counted`, the verified
 * entries by the policy's keys naming that commit. A conflict is a trusted party's entry giving a counted
 * subject name a digest that differs in an algorithm both name.
 */
export function answerOf(
  policy: TrustPolicy,
  tally: Tally,
  sameCommit: ReadonlyMap<string, readonly VerifiedEntry[]>,
  q: {
    digest: string
    commit: string | undefined
    threshold: number
    notFetched: number
    checkpoint: string
    completeness?: Completeness
  },
): ReproductionCount {
  const conflicts: Conflict[] = []
  for (const [c, names] of [...tally.counted].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const entry of sameCommit.get(c) ?? []) {
      const party = policy.partyOf.get(entry.keyId)
      if (party === undefined) continue
      for (const subject of entry.keys.subjects) {
        for (const countedSet of names.get(subject.name) ?? []) {
          const algorithm = digestsDiffer(countedSet, subject.digest)
          if (algorithm === undefined) continue
          conflicts.push({
            party,
            keyid: entry.keyId,
            index: Number(entry.index),
            subject: subject.name,
            digest: `${algorithm}:${subject.digest[algorithm]!}`,
            commit: c,
          })
          break
        }
      }
    }
  }
  conflicts.sort((a, b) => a.index - b.index || (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0))

  const parties: CountedParty[] = policy.parties
    .filter((p) => tally.byParty.has(p.name))
    .map((p) => {
      const counted = tally.byParty.get(p.name)!
      return {
        name: p.name,
        keyids: [...counted.keyids].sort(),
        entries: counted.entries.sort((a, b) => a - b),
      }
    })
  const count = parties.length
  return {
    digest: q.digest,
    ...(q.commit !== undefined && { commit: q.commit }),
    count,
    threshold: q.threshold,
    ok: count >= q.threshold && conflicts.length === 0,
    parties,
    conflicts,
    unknown: { count: tally.unknownCount, keyids: [...tally.unknownKeys].sort(), notFetched: q.notFetched },
    checkpoint: q.checkpoint,
    ...(q.completeness ?? { complete: false }),
  }
}

/** Tracks the newest checkpoint seen (all were accepted by the client's tracker, so they are consistent). */
class NewestCheckpoint {
  private best: VerifiedCheckpoint | undefined
  see(checkpoint: VerifiedCheckpoint): void {
    if (this.best === undefined || checkpoint.checkpoint.size > this.best.checkpoint.size)
      this.best = checkpoint
  }
  note(): string {
    return this.best!.note
  }
}

/** The entries of `first` and of every page after it. */
type Lookup = (q: LookupQuery) => Promise<LookupPage>

async function followPages(
  lookup: Lookup,
  q: Omit<LookupQuery, 'cursor'>,
  first: LookupPage,
  newest: NewestCheckpoint,
): Promise<VerifiedEntry[]> {
  const entries = [...first.entries]
  const seen = new Set(entries.map((e) => e.index))
  let page = first
  for (let n = 0; page.nextCursor !== undefined; n++) {
    if (n >= 10_000 || page.entries.length === 0) {
      throw new ClientError('LOG_MISBEHAVING', 'lookup paging does not end', {
        evidence: { kind: 'malformed' },
      })
    }
    page = await lookup({ ...withoutUndefined(q), cursor: page.nextCursor })
    newest.see(page.checkpoint)
    for (const entry of page.entries) {
      if (seen.has(entry.index)) {
        throw new ClientError('LOG_MISBEHAVING', `lookup returned entry ${entry.index} twice`, {
          evidence: { kind: 'malformed' },
        })
      }
      seen.add(entry.index)
      entries.push(entry)
    }
  }
  return entries
}

/** Every entry matching `q` by one of `keyIds`, asking for at most KEYIDS_PER_QUERY keys per lookup. */
async function lookupByKeys(
  lookup: Lookup,
  q: Omit<LookupQuery, 'cursor' | 'keyIds'>,
  keyIds: readonly string[],
  newest: NewestCheckpoint,
): Promise<VerifiedEntry[]> {
  const entries: VerifiedEntry[] = []
  for (let i = 0; i < keyIds.length; i += KEYIDS_PER_QUERY) {
    const chunk = { ...withoutUndefined(q), keyIds: keyIds.slice(i, i + KEYIDS_PER_QUERY) }
    const first = await lookup(chunk)
    newest.see(first.checkpoint)
    entries.push(...(await followPages(lookup, chunk, first, newest)))
  }
  return entries
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
