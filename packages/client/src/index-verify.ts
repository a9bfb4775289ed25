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
  type IndexLookupAnswer,
} from '@ledger/vindex'
import { verifyEntryLeaf, type VerifiedLeaf } from './entry.js'
import { misbehaving } from './errors.js'

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
 * Verifies a GET /api/v1/index/lookup answer for `key` with the index's verifier key. Throws ClientError
 * LOG_MISBEHAVING (with the evidence kind) on anything an honest index cannot answer.
 */
export function verifyIndexAnswer(raw: unknown, key: string, indexVerifierKey: string): IndexedAnswer {
  const answer = raw as Partial<IndexLookupAnswer>
  if (typeof raw !== 'object' || raw === null || typeof answer.checkpoint !== 'string') {
    throw misbehaving('malformed', 'the index answer is not an object with a checkpoint')
  }
  if (answer.key !== key)
    throw misbehaving('bad-entry', `the index answered about ${String(answer.key)}, not ${key}`)
  let opened
  try {
    opened = openCheckpoint(answer.checkpoint, parseVerifierKey(indexVerifierKey))
  } catch (cause) {
    throw misbehaving(
      'bad-signature',
      'the index checkpoint does not verify with the index key',
      {
        received: answer.checkpoint,
      },
      cause,
    )
  }
  const { size, root } = opened.checkpoint
  const leafIndex = index(answer.leafIndex, 'leafIndex')
  // The newest leaf: an older one would answer for an older map (an entry logged since could be hidden).
  if (leafIndex !== size - 1n) {
    throw misbehaving(
      'bad-proof',
      `the index answered from leaf ${leafIndex}, not its newest (${size - 1n})`,
      {
        received: answer.checkpoint,
      },
    )
  }
  const leafBytes = bytes(answer.leaf, 'leaf')
  try {
    verifyInclusion(hashLeaf(leafBytes), leafIndex, size, hashes(answer.leafProof, 'leafProof'), root)
  } catch (cause) {
    throw misbehaving(
      'bad-proof',
      'the index leaf is not in the index checkpoint',
      { received: answer.checkpoint },
      cause,
    )
  }
  let leaf
  try {
    leaf = decodeOutputLeaf(leafBytes)
  } catch (cause) {
    throw misbehaving('malformed', 'the index leaf does not decode', {}, cause)
  }
  if (!Array.isArray(answer.indexes) || !Array.isArray(answer.entries)) {
    throw misbehaving('malformed', 'the index answer lacks indexes or entries')
  }
  const listed = answer.indexes.map((value, i) => index(value, `indexes[${i}]`))
  for (let i = 1; i < listed.length; i++) {
    if (listed[i]! <= listed[i - 1]!) throw misbehaving('malformed', 'the index list does not ascend')
  }
  if (listed.length > 0 && listed[listed.length - 1]! >= leaf.inputSize) {
    throw misbehaving('bad-proof', 'the index lists an entry beyond its input size')
  }
  try {
    verifyMapProof(
      leaf.mapRoot,
      mapKey(key),
      bytes(answer.mapProof, 'mapProof'),
      listed.length > 0 ? valueHash(listed) : undefined,
    )
  } catch (cause) {
    throw misbehaving(
      'bad-proof',
      `the map proof for ${key} does not give the map root with the list given`,
      {
        received: answer.checkpoint,
      },
      cause,
    )
  }
  if (answer.entries.length !== listed.length) {
    throw misbehaving(
      'bad-entry',
      `the index lists ${listed.length} entries but sent ${answer.entries.length}`,
    )
  }
  const entries = answer.entries.map((entry, i) => {
    const at = index(entry?.index, `entries[${i}].index`)
    if (at !== listed[i]) throw misbehaving('bad-entry', `entry ${i} is ${at}, the list says ${listed[i]}`)
    const leafOf = bytes(entry.leaf, `entries[${i}].leaf`)
    try {
      verifyInclusion(
        hashLeaf(leafOf),
        at,
        leaf.inputSize,
        hashes(entry.proof, `entries[${i}].proof`),
        leaf.inputRoot,
      )
    } catch (cause) {
      throw misbehaving('bad-proof', `entry ${at} is not in the log tree the index leaf names`, {}, cause)
    }
    let verified: VerifiedLeaf
    try {
      verified = verifyEntryLeaf(leafOf)
    } catch (cause) {
      throw misbehaving('bad-entry', `entry ${at} does not verify`, {}, cause)
    }
    const keys = mapFn({
      keyId: verified.keyId,
      digests: verified.keys.digests,
      commits: verified.keys.commits,
    })
    if (!keys.includes(key)) throw misbehaving('bad-entry', `entry ${at} does not file under ${key}`)
    return { index: at, leaf: leafOf, verified }
  })
  return {
    complete: true,
    key,
    indexCheckpoint: answer.checkpoint,
    indexSize: size,
    inputSize: leaf.inputSize,
    inputRoot: leaf.inputRoot,
    mapRoot: leaf.mapRoot,
    entries,
  }
}
