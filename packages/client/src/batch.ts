// Batches (issue #12): many digests and commits answered through POST /api/v1/lookup, every entry proven
// against ONE checkpoint, and reproductions counted for a whole lockfile at once.
import {
  DIGEST_ALGORITHMS,
  formatDigest,
  parseCanonicalDigest,
  type Digest,
} from '@ledger/attestation/digest.js'
import type { VerifiedCheckpoint } from './checkpoint-tracker.js'
import { answerOf, tallyEntries, type ReproductionCount, type Tally } from './count.js'
import type { VerifiedLeaf } from './entry.js'
import { ClientError, misbehaving } from './errors.js'
import { LeafWorker } from './leaf-worker.js'
import {
  INDEX_BATCH_MAX_KEYS,
  verifyLookupEntries,
  type LedgerClient,
  type VerifiedEntry,
} from './log-client.js'
import type { TrustPolicy } from './policy.js'
import { asArray, asObject, getIndex, getOptionalString, toIndex, type JSONObject } from './wire.js'

/** Most digests and commits, and key ids, one request of the log takes. */
export const BATCH_MAX_KEYS = 1000
export const BATCH_MAX_KEY_IDS = 100

const COMMIT_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/
/** Most entries a batch names as already held (the log's limit). */
const MAX_HAVE = 20_000
const KEY_ID_RE = /^[0-9a-f]{64}$/

/** One batch: digests (`<alg>:<lowercase hex>`) and commits, at most BATCH_MAX_KEYS together, no repeats. */
export interface BatchQuery {
  digests?: readonly string[]
  commits?: readonly string[]
  /** Only entries by these key ids (at most BATCH_MAX_KEY_IDS); `total` still counts every match. */
  keyIds?: readonly string[]
  /** Matches per page (1..1000; default 1000). */
  limit?: number
  /**
   * Keys with more matches than this (in the tree) are answered with their total alone (`skipped`): the
   * flood rule, so that a digest flooded by throwaway keys costs one number. Default: no limit.
   */
  maxTotal?: number
}

/** What the log answered for one digest or commit, verified. */
export interface BatchKeyAnswer {
  /** Every match in the checkpoint's tree, whatever the key filter (the log's claim). */
  total: number
  /** The matches sent (all of them, or those by the filtered keys), ascending, each verified. */
  entries: VerifiedEntry[]
  /** The total was above the query's maxTotal: no entries were sent. */
  skipped: boolean
}

/** A batch answered and verified against one checkpoint. */
export interface BatchAnswer {
  checkpoint: VerifiedCheckpoint
  digests: Map<string, BatchKeyAnswer>
  commits: Map<string, BatchKeyAnswer>
}

export interface BatchOptions {
  /**
   * Prove the answer against this checkpoint (one the client accepted before, e.g. from an earlier batch
   * of the same task). Default: the checkpoint the log serves, accepted through the client's tracker.
   */
  checkpoint?: VerifiedCheckpoint
  /**
   * Entries already verified against `checkpoint` (by index), e.g. by an earlier batch of the same task:
   * the log lists them under their keys without sending them again (at most 20,000 are named).
   */
  have?: ReadonlyMap<bigint, VerifiedEntry>
  /** Shared leaf cache of one task (see LedgerClient.lookup). */
  verifiedLeaves?: Map<string, VerifiedLeaf>
  /** A second thread for the leaf checks of large pages (verifyLookupEntries). */
  worker?: LeafWorker
  /** Most pages followed before the log is called misbehaving (default 10,000). */
  maxPages?: number
  /**
   * Called after each page with the number of keys answered so far and the entries the page brought,
   * verified (those named by index under `have` are not repeated).
   */
  onPage?: (
    answered: number,
    keys: number,
    entries: readonly VerifiedEntry[],
    checkpoint: VerifiedCheckpoint,
  ) => void
}

/**
 * POST /api/v1/lookup, every page verified: the first page's checkpoint (signature, witnesses, consistency
 * with the client's stored one) or the given one; then, on every page, that the tree is that checkpoint's
 * (no other checkpoint), every entry's inclusion proof to it, leaf, DSSE signature and statement, that
 * each index a key lists is an entry of the page that names that key (and is by a filtered key), that
 * keys are answered in order with none left out, that no entry is sent unasked or twice, and, without a
 * key filter, that each key's entries add up to its total. Throws ClientError INVALID_ARGUMENT for a bad
 * query, LOG_MISBEHAVING (with the checkpoint as evidence) for any answer that fails, REJECTED, NETWORK.
 */
export async function lookupBatch(
  client: LedgerClient,
  q: BatchQuery,
  opts: BatchOptions = {},
): Promise<BatchAnswer> {
  const keys = batchKeys(q)
  const keyIds = q.keyIds ?? []
  if (keyIds.length > BATCH_MAX_KEY_IDS)
    throw new ClientError('INVALID_ARGUMENT', `more than ${BATCH_MAX_KEY_IDS} key ids in one batch`)
  for (const keyId of keyIds)
    if (!KEY_ID_RE.test(keyId)) throw new ClientError('INVALID_ARGUMENT', `key id ${keyId} is not 64 hex`)
  const wantedKeys = keyIds.length > 0 ? new Set(keyIds) : undefined
  const maxPages = opts.maxPages ?? 10_000
  const body: Record<string, unknown> = {
    ...(q.digests !== undefined && q.digests.length > 0 && { digests: q.digests }),
    ...(q.commits !== undefined && q.commits.length > 0 && { commits: q.commits }),
    ...(keyIds.length > 0 && { keyids: keyIds }),
    ...(q.limit !== undefined && { limit: q.limit }),
    ...(q.maxTotal !== undefined && { maxTotal: q.maxTotal }),
  }
  let checkpoint = opts.checkpoint
  // Entries the log need not send again: only meaningful for the tree they were proven in.
  const have = checkpoint !== undefined ? opts.have : undefined
  if (have !== undefined && have.size > 0 && have.size <= MAX_HAVE)
    body['have'] = [...have.keys()].map(Number)
  const answers = keys.map(() => ({ total: -1, entries: [] as VerifiedEntry[], skipped: false }))
  let position = 0 // the next key the log must answer
  let cursor: string | undefined
  const post = (at: string | undefined): Promise<unknown> => {
    const request = {
      ...body,
      ...(at !== undefined && { cursor: at }),
      ...(checkpoint !== undefined && { size: Number(checkpoint.checkpoint.size) }),
    }
    const answer = client.http.postJSON('/api/v1/lookup', request).then((r) => r.json)
    answer.catch(() => undefined) // awaited below, or dropped when an earlier page fails
    return answer
  }
  let inFlight = post(undefined)
  for (let page = 0; ; page++) {
    if (page >= maxPages) throw misbehaving('malformed', `batch lookup still paging after ${maxPages} pages`)
    const json = asObject(await inFlight, 'batch lookup')
    const note = getOptionalString(json, 'checkpoint', 'batch lookup')
    if (checkpoint === undefined) {
      if (note === undefined) throw misbehaving('malformed', 'batch lookup: the first page has no checkpoint')
      checkpoint = await client.tracker.accept(note)
    } else if (note !== undefined && note !== checkpoint.note) {
      throw misbehaving(
        'malformed',
        'batch lookup: a page names another checkpoint than the one the batch is proven against',
        { trusted: checkpoint.note, received: note },
      )
    }
    const nextCursor = getOptionalString(json, 'nextCursor', 'batch lookup')
    // The next page is asked for while this one is verified: the log's work and ours overlap. Verifying
    // a page is synchronous, so the request must reach the socket before it starts (a turn of the event
    // loop): otherwise it would only be sent once this page is done, and the log would wait for us.
    if (nextCursor !== undefined && nextCursor !== cursor) {
      inFlight = post(nextCursor)
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    const cp = checkpoint
    const bad = (kind: 'malformed' | 'bad-entry', message: string) =>
      misbehaving(kind, `batch lookup: ${message}`, { received: cp.note })
    if (getIndex(json, 'treeSize', 'batch lookup') !== cp.checkpoint.size)
      throw bad(
        'malformed',
        `a page is about a tree of ${String(json['treeSize'])}, not the checkpoint's ${cp.checkpoint.size}`,
      )

    // Entries: each verified against the one checkpoint, ascending, never sent twice.
    const entries = new Map<bigint, VerifiedEntry>()
    for (const entry of await verifyLookupEntries(
      asArray(json['entries'], 'batch lookup.entries'),
      cp,
      (i) => `batch lookup entry ${i}`,
      {
        ...(opts.verifiedLeaves !== undefined && { verifiedLeaves: opts.verifiedLeaves }),
        ...(opts.worker !== undefined && { worker: opts.worker }),
        notAscending: () => bad('malformed', 'entries are not in ascending index order'),
      },
    ))
      entries.set(entry.index, entry)
    const used = new Set<bigint>()

    // Results: the keys in order from `position`, each listing entries of this page that name it.
    const results = asArray(json['results'], 'batch lookup.results')
    if (results.length === 0 && nextCursor !== undefined) throw bad('malformed', 'a page answers no key')
    for (const [i, item] of results.entries()) {
      const result: JSONObject = asObject(item, `batch lookup.results[${i}]`)
      // A page may go on with the key the previous one ended in (its cursor was inside that key's matches).
      const continuing = i === 0 && position > 0 && isKey(result, keys[position - 1]!)
      const at = continuing ? position - 1 : position
      const key = keys[at]
      if (key === undefined || !isKey(result, key))
        throw bad(
          'malformed',
          `results[${i}] is not the next key of the batch (${keys[at]?.value ?? 'none left'})`,
        )
      if (!continuing) position++
      const total = Number(getIndex(result, 'total', `batch lookup.results[${i}]`))
      const answer = answers[at]!
      if (answer.total !== -1 && answer.total !== total)
        throw bad(
          'malformed',
          `${key.value}: the total changed from ${answer.total} to ${total} within one tree`,
        )
      answer.total = total
      if (result['skipped'] !== undefined) {
        if (result['skipped'] !== true || q.maxTotal === undefined || total <= q.maxTotal)
          throw bad(
            'malformed',
            `${key.value}: skipped, but its total ${total} is not above the maxTotal asked`,
          )
        if (
          asArray(result['indexes'], `batch lookup.results[${i}].indexes`).length > 0 ||
          answer.entries.length > 0
        )
          throw bad('malformed', `${key.value}: skipped, yet with entries`)
        answer.skipped = true
        continue
      }
      if (q.maxTotal !== undefined && total > q.maxTotal)
        throw bad('malformed', `${key.value}: a total of ${total} above the maxTotal asked, not skipped`)
      let last = answer.entries.length > 0 ? answer.entries[answer.entries.length - 1]!.index : -1n
      for (const value of asArray(result['indexes'], `batch lookup.results[${i}].indexes`)) {
        const index = toIndex(value, `batch lookup.results[${i}].indexes`)
        if (index <= last) throw bad('malformed', `${key.value}: indexes are not ascending`)
        last = index
        const entry = entries.get(index) ?? (body['have'] !== undefined ? have?.get(index) : undefined)
        if (entry === undefined) throw bad('malformed', `${key.value}: entry ${index} is listed but not sent`)
        const names =
          key.kind === 'digest'
            ? entry.keys.digests.includes(key.value)
            : entry.keys.commits.includes(key.value)
        if (!names)
          throw bad('bad-entry', `entry ${index} was returned for ${key.value}, which it does not name`)
        if (wantedKeys !== undefined && !wantedKeys.has(entry.keyId))
          throw bad(
            'bad-entry',
            `entry ${index} by key ${entry.keyId} was returned for a batch filtered by key`,
          )
        answer.entries.push(entry)
        used.add(index)
      }
      if (answer.entries.length > total)
        throw bad('malformed', `${key.value}: more entries than its total of ${total}`)
    }
    for (const index of entries.keys()) {
      if (!used.has(index)) throw bad('malformed', `entry ${index} was sent for no key`)
    }
    opts.onPage?.(position, keys.length, [...entries.values()], cp)
    if (nextCursor === undefined) {
      if (position !== keys.length)
        throw bad('malformed', `the batch ended with ${keys.length - position} of its keys unanswered`)
      break
    }
    if (nextCursor === cursor) throw bad('malformed', 'batch paging does not advance')
    cursor = nextCursor
  }
  const out: BatchAnswer = { checkpoint: checkpoint, digests: new Map(), commits: new Map() }
  keys.forEach((key, i) => {
    const answer = answers[i]!
    if (wantedKeys === undefined && !answer.skipped && answer.entries.length !== answer.total) {
      throw misbehaving(
        'bad-entry',
        `batch lookup: ${key.value} has ${answer.total} matches in the checkpoint's tree but the log sent ${answer.entries.length}`,
        { received: checkpoint.note },
      )
    }
    ;(key.kind === 'digest' ? out.digests : out.commits).set(key.value, answer)
  })
  return out
}

interface BatchKey {
  kind: 'digest' | 'commit'
  value: string
}

function isKey(result: JSONObject, key: BatchKey): boolean {
  return result[key.kind] === key.value && result[key.kind === 'digest' ? 'commit' : 'digest'] === undefined
}

function batchKeys(q: BatchQuery): BatchKey[] {
  const keys: BatchKey[] = []
  const seen = new Set<string>()
  for (const digest of q.digests ?? []) {
    if (parseCanonicalDigest(digest) === undefined)
      throw new ClientError(
        'INVALID_ARGUMENT',
        `digest ${JSON.stringify(digest)} is not <alg>:<lowercase hex>`,
      )
    if (seen.has(digest)) throw new ClientError('INVALID_ARGUMENT', `digest ${digest} is repeated`)
    seen.add(digest)
    keys.push({ kind: 'digest', value: digest })
  }
  for (const commit of q.commits ?? []) {
    if (!COMMIT_RE.test(commit))
      throw new ClientError(
        'INVALID_ARGUMENT',
        `commit ${JSON.stringify(commit)} is not 40 or 64 lowercase hex`,
      )
    if (seen.has(commit)) throw new ClientError('INVALID_ARGUMENT', `commit ${commit} is repeated`)
    seen.add(commit)
    keys.push({ kind: 'commit', value: commit })
  }
  if (keys.length === 0)
    throw new ClientError('INVALID_ARGUMENT', 'a batch names at least one digest or commit')
  if (keys.length > BATCH_MAX_KEYS)
    throw new ClientError('INVALID_ARGUMENT', `more than ${BATCH_MAX_KEYS} digests and commits in one batch`)
  return keys
}

/** One question of a batch count: a digest (and optionally the commit it must come from). */
export interface BatchCountQuery {
  /** `<alg>:<lowercase hex>`, alg one of sha256, sha384, sha512, blake2b. */
  digest: string
  commit?: string
}

export interface BatchCountOptions {
  /** A client of the policy's log (LedgerClient.fromPolicy). */
  client: LedgerClient
  policy: TrustPolicy
  /** Any number of questions; the same digest may be asked several times (with other commits). */
  queries: readonly BatchCountQuery[]
  /** Parties needed; default the policy's threshold. */
  threshold?: number
  /** Fetch every match of a digest, whoever signed it, while the log reports at most this many (default 1,000). */
  fetchAllLimit?: number
  /** Matches per page (default 1,000). */
  pageSize?: number
  /** Progress: called after each page of each batch. */
  onProgress?: (phase: 'digests' | 'flooded' | 'commits', answered: number, total: number) => void
  /**
   * Check the leaves of large pages in a second thread too (a LeafWorker, started before the first
   * request and ended with the count): the same checks and answers, sooner on a machine with a core to
   * spare. Default false.
   */
  leafWorker?: boolean
}

/** The answers of a batch count, in the order of the queries, all proven against `checkpoint`. */
export interface BatchCount {
  /** The signed checkpoint every entry of every answer was proven against. */
  checkpoint: string
  answers: ReproductionCount[]
  /** As ReproductionCount.complete (the same for every answer of the batch). */
  complete: boolean
  indexSize?: number
  indexedSize?: number
}

/**
 * countReproductions (DESIGN §8) for many digests at once, every answer proven against ONE checkpoint:
 * 1. the digests in batches of up to 1,000: every entry of a digest with at most `fetchAllLimit` (so that
 *    unknown keys are listed), and for a digest with more (flooded) only the policy's keys' entries, the
 *    rest reported as `unknown.notFetched`; the first batch's checkpoint is accepted through the client's
 *    tracker (consistent with the stored one) and pins every later page and batch;
 * 2. parties counted per query as countReproductions does;
 * 3. the source commits of counted entries, the same way, for conflicts. Entries already verified are not
 *    sent again (`have`), and the next page is fetched while the current one is verified.
 * Throws ClientError INVALID_ARGUMENT (a query that is not canonical), LOG_MISBEHAVING (with evidence),
 * NETWORK, REJECTED, STATE_IO.
 */
export async function countReproductionsBatch(opts: BatchCountOptions): Promise<BatchCount> {
  return (await countBatch(opts)).count
}

/** What countBatch proved, for a caller that asks more batches of the same task (a chain, level by level). */
export interface ProvenBatchCount {
  count: BatchCount
  /** The checkpoint every answer was proven against: pass it to the next batch to stay on one tree. */
  checkpoint: VerifiedCheckpoint
  /** Every entry verified so far against `checkpoint` (the `known` given, grown), by index. */
  entries: Map<bigint, VerifiedEntry>
}

/**
 * countReproductionsBatch, pinned to `checkpoint` when given (one the client accepted, e.g. by an earlier
 * batch of the same task) and sharing `known`, the entries already verified against it, which the log is
 * then not asked to send again. Returns the checkpoint and the verified entries with the answers.
 */
export async function countBatch(
  opts: BatchCountOptions & { checkpoint?: VerifiedCheckpoint; known?: Map<bigint, VerifiedEntry> },
): Promise<ProvenBatchCount> {
  const { client, policy, queries } = opts
  const threshold = opts.threshold ?? policy.threshold
  if (!Number.isSafeInteger(threshold) || threshold < 1)
    throw new ClientError('INVALID_ARGUMENT', `threshold ${threshold} is not a positive integer`)
  if (client.log.verifierKey !== policy.log.verifierKey)
    throw new ClientError('INVALID_ARGUMENT', 'the client is not a client of the policy log')
  const parsed: Digest[] = queries.map((query) => {
    const digest = parseCanonicalDigest(query.digest)
    if (digest === undefined) {
      throw new ClientError(
        'INVALID_ARGUMENT',
        `digest ${query.digest} is not <alg>:<lowercase hex> (${DIGEST_ALGORITHMS.join(', ')})`,
      )
    }
    if (query.commit !== undefined && !COMMIT_RE.test(query.commit))
      throw new ClientError('INVALID_ARGUMENT', `commit ${query.commit} is not 40 or 64 lowercase hex`)
    return digest
  })
  if (queries.length === 0)
    throw new ClientError('INVALID_ARGUMENT', 'a batch count needs at least one digest')
  if (client.index !== undefined) return countBatchThroughIndex(client, policy, queries, parsed, threshold)
  // Started before the first request, the thread loads its modules while the log answers it.
  const worker = opts.leafWorker === true ? LeafWorker.start() : undefined
  try {
    const fetchAllLimit = opts.fetchAllLimit ?? 1000
    const limit = opts.pageSize ?? 1000
    const policyKeys = [...policy.partyOf.keys()]
    const verifiedLeaves = new Map<string, VerifiedLeaf>()
    let checkpoint: VerifiedCheckpoint | undefined = opts.checkpoint
    // Every entry verified so far against `checkpoint`: later batches are told not to send them again.
    const known: Map<bigint, VerifiedEntry> =
      opts.checkpoint !== undefined && opts.known !== undefined ? opts.known : new Map()

    /**
     * Every key of `values` answered, over chunks of keys (and of key ids), against one checkpoint: without
     * `keyIds`, all of a key's entries while it has at most fetchAllLimit (the others come back skipped).
     */
    const gather = async (
      kind: 'digests' | 'commits',
      values: readonly string[],
      keyIds: readonly string[] | undefined,
      phase: 'digests' | 'flooded' | 'commits',
      onEntries?: (entries: readonly VerifiedEntry[]) => void,
    ): Promise<Map<string, BatchKeyAnswer>> => {
      const out = new Map<string, BatchKeyAnswer>()
      const keyChunks = keyIds === undefined ? [undefined] : chunk(keyIds, BATCH_MAX_KEY_IDS)
      let done = 0
      for (const values_ of chunk(values, BATCH_MAX_KEYS)) {
        for (const ids of keyChunks) {
          const answer = await lookupBatch(
            client,
            {
              [kind]: values_,
              ...(ids !== undefined ? { keyIds: ids } : { maxTotal: fetchAllLimit }),
              limit,
            },
            {
              ...(checkpoint !== undefined && { checkpoint, have: known }),
              verifiedLeaves,
              ...(worker !== undefined && { worker }),
              onPage: (answered, _keys, entries, pinned) => {
                opts.onProgress?.(phase, done + answered, values.length)
                if (onEntries !== undefined) {
                  // What onEntries starts is pinned to this checkpoint and told these entries are held.
                  checkpoint = pinned
                  for (const entry of entries) known.set(entry.index, entry)
                  onEntries(entries)
                }
              },
            },
          )
          checkpoint = answer.checkpoint
          for (const got of answer[kind].values())
            for (const entry of got.entries) known.set(entry.index, entry)
          for (const [value, got] of answer[kind]) {
            const seen = out.get(value)
            if (seen === undefined) out.set(value, { ...got, entries: [...got.entries] })
            else {
              if (seen.total !== got.total)
                throw misbehaving('malformed', `batch lookup: two totals for ${value} in one tree`, {
                  received: checkpoint.note,
                })
              seen.entries.push(...got.entries)
            }
          }
        }
        done += values_.length
      }
      return out
    }
    /** All entries of each key, or, for keys with more than fetchAllLimit, those by the policy's keys. */
    const gatherAll = async (
      kind: 'digests' | 'commits',
      values: readonly string[],
      onEntries?: (entries: readonly VerifiedEntry[]) => void,
    ) => {
      const all = await gather(kind, values, undefined, kind, onEntries)
      const flooded = [...all].filter(([, got]) => got.skipped).map(([value]) => value)
      if (flooded.length > 0) {
        for (const [value, got] of await gather(kind, flooded, policyKeys, 'flooded', onEntries))
          all.set(value, got)
      }
      return all
    }

    // Step 4 starts early: as each page of digests is verified, the commits its entries by the policy's
    // keys name are looked up (against the same checkpoint) while the log answers the next page and this
    // client verifies it, instead of in a round trip of their own at the end. Those are the commits of the
    // counted entries, but for a query that names a commit; what turns out to be missing is asked after.
    const early = new Map<string, Promise<Map<string, BatchKeyAnswer>>>()
    const lookUpCommitsOf = (entries: readonly VerifiedEntry[]) => {
      const fresh = new Set<string>()
      for (const entry of entries) {
        if (!policy.partyOf.has(entry.keyId)) continue
        for (const c of entry.keys.commits) if (!early.has(c)) fresh.add(c)
      }
      for (const values of chunk([...fresh].sort(), BATCH_MAX_KEYS)) {
        const answer = gatherAll('commits', values)
        answer.catch(() => undefined) // awaited below, or dropped when the digests fail first
        for (const c of values) early.set(c, answer)
      }
    }

    // 1-2. The digests: every entry while there are few, else the policy's keys' entries.
    const digests = [...new Set(parsed.map(formatDigest))]
    const byDigest = await gatherAll('digests', digests, lookUpCommitsOf)
    const notFetchedOf = (digest: string) => {
      const got = byDigest.get(digest)!
      return got.skipped || got.total > fetchAllLimit ? got.total - got.entries.length : 0
    }

    // 3. Parties, per query.
    const tallies: Tally[] = queries.map((query, i) =>
      tallyEntries(
        policy,
        parsed[i]!,
        query.commit,
        sortedByIndex(byDigest.get(formatDigest(parsed[i]!))!.entries),
      ),
    )

    // 4. The commits of counted entries, for conflicts (entries by other keys are ignored there).
    const commits = [...new Set(tallies.flatMap((t) => [...t.counted.keys()]))].sort()
    const missing = commits.filter((c) => !early.has(c))
    const answered = await Promise.all([
      ...new Set(early.values()),
      ...(missing.length > 0 ? [gatherAll('commits', missing)] : []),
    ])
    const sameCommit = new Map<string, VerifiedEntry[]>()
    for (const byCommit of answered) for (const [commit, got] of byCommit) sameCommit.set(commit, got.entries)

    const note = checkpoint!.note
    const count: BatchCount = {
      checkpoint: note,
      complete: false,
      answers: queries.map((query, i) =>
        answerOf(policy, tallies[i]!, sameCommit, {
          digest: formatDigest(parsed[i]!),
          commit: query.commit,
          threshold,
          notFetched: notFetchedOf(formatDigest(parsed[i]!)),
          checkpoint: note,
        }),
      ),
    }
    return { count, checkpoint: checkpoint!, entries: known }
  } finally {
    void worker?.close()
  }
}

/**
 * countReproductionsBatch through the pinned index: the digests' complete lists, then those of the
 * commits of counted entries, in batches of up to INDEX_BATCH_MAX_KEYS keys (a batch the log refuses as
 * ANSWER_TOO_LARGE is asked again in halves). Each batch is one output leaf; the answers are complete as of
 * the smallest log size any of them was proven for. The index answers from its newest leaf only, so a
 * `checkpoint` given to countBatch does not pin it: each call is complete as of its own leaf, and the
 * checkpoint returned is the log's, that the last leaf's log tree was proven consistent with.
 */
async function countBatchThroughIndex(
  client: LedgerClient,
  policy: TrustPolicy,
  queries: readonly BatchCountQuery[],
  parsed: readonly Digest[],
  threshold: number,
): Promise<ProvenBatchCount> {
  const verifiedLeaves = new Map<string, VerifiedLeaf>()
  let checkpoint: VerifiedCheckpoint | undefined
  let indexSize: bigint | undefined
  let indexedSize: bigint | undefined
  const lists = new Map<string, VerifiedEntry[]>()
  const ask = async (keys: readonly string[]): Promise<void> => {
    let answer
    try {
      answer = await client.lookupIndex(keys, verifiedLeaves)
    } catch (err) {
      if (err instanceof ClientError && err.logCode === 'ANSWER_TOO_LARGE' && keys.length > 1) {
        const half = Math.ceil(keys.length / 2)
        await ask(keys.slice(0, half))
        await ask(keys.slice(half))
        return
      }
      throw err
    }
    checkpoint = answer.checkpoint
    if (indexSize === undefined || answer.indexSize < indexSize) indexSize = answer.indexSize
    if (indexedSize === undefined || answer.inputSize < indexedSize) indexedSize = answer.inputSize
    for (const [key, entries] of answer.results) lists.set(key, entries)
  }
  const askAll = async (keys: readonly string[]) => {
    for (const part of chunk(keys, INDEX_BATCH_MAX_KEYS)) await ask(part)
  }
  const digests = [...new Set(parsed.map(formatDigest))]
  await askAll(digests.map((d) => `subject:${d}`))
  const tallies: Tally[] = queries.map((query, i) =>
    tallyEntries(policy, parsed[i]!, query.commit, lists.get(`subject:${formatDigest(parsed[i]!)}`)!),
  )
  const commits = [...new Set(tallies.flatMap((t) => [...t.counted.keys()]))].sort()
  if (commits.length > 0) await askAll(commits.map((c) => `commit:${c}`))
  const sameCommit = new Map<string, VerifiedEntry[]>()
  for (const c of commits) sameCommit.set(c, lists.get(`commit:${c}`)!)
  const entries = new Map<bigint, VerifiedEntry>()
  for (const list of lists.values()) for (const entry of list) entries.set(entry.index, entry)
  const note = checkpoint!.note
  const completeness = {
    complete: true as const,
    indexSize: Number(indexSize!),
    indexedSize: Number(indexedSize!),
  }
  const count: BatchCount = {
    checkpoint: note,
    ...completeness,
    answers: queries.map((query, i) =>
      answerOf(policy, tallies[i]!, sameCommit, {
        digest: formatDigest(parsed[i]!),
        commit: query.commit,
        threshold,
        notFetched: 0,
        checkpoint: note,
        completeness,
      }),
    ),
  }
  return { count, checkpoint: checkpoint!, entries }
}

function chunk<T>(values: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size))
  return out
}

function sortedByIndex(entries: readonly VerifiedEntry[]): VerifiedEntry[] {
  return [...entries].sort((a, b) => (a.index < b.index ? -1 : a.index > b.index ? 1 : 0))
}
