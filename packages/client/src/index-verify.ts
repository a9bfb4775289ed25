// The verifiable index's answers, verified (docs/design/verifiable-index.md): the output checkpoint's
// signature, its newest leaf's inclusion, the map proof of the key (presence with the exact list, or
// absence), and every listed entry's inclusion in the log at the leaf's input size, each entry verified and
// filed under the key by MapFn. What passes is complete: no entry under the key, up to that input size, can
// be missing. Pure: the caller fetched the answer.
import { hashLeaf, openCheckpoint, parseVerifierKey, verifyInclusion, type Hash } from '@ledger/tlog'
import {
  decodeOutputLeaf,
  mapFn,
  mapKey,
  valueHash,
  verifyMapProof,
  type IndexBatchLookupAnswer,
  type IndexLookupAnswer,
} from '@ledger/vindex'
import { verifyEntryLeaf, type VerifiedLeaf } from './entry.js'
import { ClientError, misbehaving } from './errors.js'

/** One entry of an index answer: in the log tree the leaf names, verified, filed under its key. */
export interface IndexedEntry {
  index: bigint
  leaf: Uint8Array
  verified: VerifiedLeaf
}

/** What every index answer proves: the output checkpoint, its newest leaf, the trees the leaf names. */
export interface IndexProven {
  complete: true
  /** The output log's signed checkpoint, as served. */
  indexCheckpoint: string
  indexSize: bigint
  indexRoot: Hash
  /** The log tree the answer is complete for. */
  inputSize: bigint
  inputRoot: Hash
  mapRoot: Hash
}

/** A POST /api/v1/index/lookup answer, verified: each key's complete list of entries (request order). */
export interface IndexedBatch extends IndexProven {
  results: Map<string, IndexedEntry[]>
}

export interface IndexedAnswer {
  complete: true
  key: string
  /** The output log's verified checkpoint (size, root) and the index of its newest leaf. */
  indexCheckpoint: string
  indexSize: bigint
  /** The log tree the answer is complete for. */
  inputSize: bigint
  inputRoot: Hash
  mapRoot: Hash
  entries: { index: bigint; leaf: Uint8Array; verified: VerifiedLeaf }[]
}

const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/

function bytes(value: unknown, what: string): Uint8Array {
  if (typeof value !== 'string' || !B64_RE.test(value) || value.length % 4 !== 0) {
    throw misbehaving('malformed', `the index answer's ${what} is not base64`)
  }
  return new Uint8Array(Buffer.from(value, 'base64'))
}

function hashes(value: unknown, what: string): Hash[] {
  if (!Array.isArray(value) || value.length > 64)
    throw misbehaving('malformed', `the index answer's ${what} is not a proof`)
  return value.map((item, i) => {
    const hash = bytes(item, `${what}[${i}]`)
    if (hash.length !== 32) throw misbehaving('malformed', `the index answer's ${what}[${i}] is not 32 bytes`)
    return hash
  })
}

function index(value: unknown, what: string): bigint {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw misbehaving('malformed', `the index answer's ${what} is not an index`)
  }
  return BigInt(value)
}

/**
 * Verifies a GET /api/v1/index/lookup answer for `key` with the index's verifier key (§5). Throws
 * ClientError LOG_MISBEHAVING (with the evidence kind) on anything an honest index cannot answer.
 */
export function verifyIndexAnswer(raw: unknown, key: string, indexVerifierKey: string): IndexedAnswer {
  const answer = raw as Partial<IndexLookupAnswer>
  if (typeof raw !== 'object' || raw === null || typeof answer.checkpoint !== 'string') {
    throw misbehaving('malformed', 'the index answer is not an object with a checkpoint')
  }
  if (answer.key !== key)
    throw misbehaving('bad-entry', `the index answered about ${String(answer.key)}, not ${key}`)
  const batch = verifyIndexBatchAnswer(
    {
      checkpoint: answer.checkpoint,
      leafIndex: answer.leafIndex,
      leaf: answer.leaf,
      leafProof: answer.leafProof,
      results: [{ key, mapProof: answer.mapProof, indexes: answer.indexes }],
      entries: answer.entries,
    },
    [key],
    indexVerifierKey,
  )
  return {
    complete: true,
    key,
    indexCheckpoint: batch.indexCheckpoint,
    indexSize: batch.indexSize,
    inputSize: batch.inputSize,
    inputRoot: batch.inputRoot,
    mapRoot: batch.mapRoot,
    entries: batch.results.get(key)!,
  }
}

/**
 * Verifies a POST /api/v1/index/lookup answer (§5) for `keys` (the request, in order) with the index's
 * verifier key: the output checkpoint's signature, that the leaf is its newest and is in it, each key's
 * map proof against the leaf's map root with the list given (or absence for an empty list), and the
 * entries: exactly the union of the lists, ascending, each in the log tree the leaf names, each a valid
 * entry that MapFn files under every key that lists it. Pure: the caller fetched the answer, and checks
 * the output checkpoint against the one it trusts and the leaf's input tree against the log's checkpoint.
 * `verifiedLeaves` (leaf hash hex → verified leaf) lets one task check each signature once.
 * Throws ClientError LOG_MISBEHAVING (with the evidence kind).
 */
export function verifyIndexBatchAnswer(
  raw: unknown,
  keys: readonly string[],
  indexVerifierKey: string,
  verifiedLeaves?: Map<string, VerifiedLeaf>,
): IndexedBatch {
  const answer = raw as Partial<IndexBatchLookupAnswer>
  if (typeof raw !== 'object' || raw === null || typeof answer.checkpoint !== 'string') {
    throw misbehaving('malformed', 'the index answer is not an object with a checkpoint')
  }
  let opened
  try {
    opened = openCheckpoint(answer.checkpoint, parseVerifierKey(indexVerifierKey))
  } catch (cause) {
    throw misbehaving(
      'bad-signature',
      'the index checkpoint does not verify with the index key',
      { received: answer.checkpoint },
      cause,
    )
  }
  const received = answer.checkpoint
  const { size, root } = opened.checkpoint
  const leafIndex = index(answer.leafIndex, 'leafIndex')
  // The newest leaf: an older one would answer for an older map (an entry logged since could be hidden).
  if (leafIndex !== size - 1n) {
    throw misbehaving(
      'bad-proof',
      `the index answered from leaf ${leafIndex}, not its newest (${size - 1n})`,
      {
        received,
      },
    )
  }
  const leafBytes = bytes(answer.leaf, 'leaf')
  try {
    verifyInclusion(hashLeaf(leafBytes), leafIndex, size, hashes(answer.leafProof, 'leafProof'), root)
  } catch (cause) {
    throw misbehaving('bad-proof', 'the index leaf is not in the index checkpoint', { received }, cause)
  }
  let leaf
  try {
    leaf = decodeOutputLeaf(leafBytes)
  } catch (cause) {
    throw misbehaving('malformed', 'the index leaf does not decode', { received }, cause)
  }
  if (!Array.isArray(answer.results) || !Array.isArray(answer.entries)) {
    throw misbehaving('malformed', 'the index answer lacks results or entries', { received })
  }
  if (answer.results.length !== keys.length) {
    throw misbehaving(
      'bad-entry',
      `the index answered ${answer.results.length} keys, not the ${keys.length} asked`,
      { received },
    )
  }
  // Each key's list, proven by its map proof: nothing filed under the key can be left out of it.
  const lists = keys.map((key, k) => {
    const result = answer.results![k] as Partial<IndexBatchLookupAnswer['results'][number]> | undefined
    if (typeof result !== 'object' || result === null)
      throw misbehaving('malformed', `results[${k}] is not an object`, { received })
    if (result.key !== key)
      throw misbehaving('bad-entry', `the index answered about ${String(result.key)}, not ${key}`, {
        received,
      })
    if (!Array.isArray(result.indexes))
      throw misbehaving('malformed', `the index answer lacks the list of ${key}`, { received })
    const listed = result.indexes.map((value, i) => index(value, `indexes[${i}] of ${key}`))
    for (let i = 1; i < listed.length; i++) {
      if (listed[i]! <= listed[i - 1]!)
        throw misbehaving('malformed', `the list of ${key} does not ascend`, { received })
    }
    if (listed.length > 0 && listed[listed.length - 1]! >= leaf.inputSize) {
      throw misbehaving('bad-proof', `the index lists an entry of ${key} beyond its input size`, { received })
    }
    try {
      verifyMapProof(
        leaf.mapRoot,
        mapKey(key),
        bytes(result.mapProof, `mapProof of ${key}`),
        listed.length > 0 ? valueHash(listed) : undefined,
      )
    } catch (cause) {
      if (cause instanceof ClientError) throw cause
      throw misbehaving(
        'bad-proof',
        `the map proof for ${key} does not give the map root with the list given`,
        { received },
        cause,
      )
    }
    return listed
  })
  // The entries: exactly the union of the lists, ascending, each once.
  const union = [...new Set(lists.flat())].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  if (answer.entries.length !== union.length) {
    throw misbehaving(
      'bad-entry',
      `the index lists ${union.length} entries but sent ${answer.entries.length}`,
      { received },
    )
  }
  const byIndex = new Map<bigint, IndexedEntry & { files: readonly string[] }>()
  answer.entries.forEach((entry, i) => {
    const at = index(entry?.index, `entries[${i}].index`)
    if (at !== union[i]) {
      throw misbehaving('bad-entry', `entry ${i} is ${at}, the lists say ${union[i]}`, { received })
    }
    const leafOf = bytes(entry.leaf, `entries[${i}].leaf`)
    const leafHash = hashLeaf(leafOf)
    try {
      verifyInclusion(
        leafHash,
        at,
        leaf.inputSize,
        hashes(entry.proof, `entries[${i}].proof`),
        leaf.inputRoot,
      )
    } catch (cause) {
      if (cause instanceof ClientError) throw cause
      throw misbehaving(
        'bad-proof',
        `entry ${at} is not in the log tree the index leaf names`,
        { received },
        cause,
      )
    }
    const cacheKey = Buffer.from(leafHash).toString('hex')
    let verified = verifiedLeaves?.get(cacheKey)
    if (verified === undefined) {
      try {
        verified = verifyEntryLeaf(leafOf)
      } catch (cause) {
        throw misbehaving('bad-entry', `entry ${at} does not verify`, { received }, cause)
      }
      verifiedLeaves?.set(cacheKey, verified)
    }
    const files = mapFn({
      keyId: verified.keyId,
      digests: verified.keys.digests,
      commits: verified.keys.commits,
    })
    byIndex.set(at, { index: at, leaf: leafOf, verified, files })
  })
  const results = new Map<string, IndexedEntry[]>()
  keys.forEach((key, k) => {
    results.set(
      key,
      lists[k]!.map((at) => {
        const { files, ...entry } = byIndex.get(at)!
        if (!files.includes(key))
          throw misbehaving('bad-entry', `entry ${at} does not file under ${key}`, { received })
        return entry
      }),
    )
  })
  return {
    complete: true,
    indexCheckpoint: received,
    indexSize: size,
    indexRoot: root,
    inputSize: leaf.inputSize,
    inputRoot: leaf.inputRoot,
    mapRoot: leaf.mapRoot,
    results,
  }
}
