// Merkle log core throughput: raw SHA-256 next to CompactRange appends (the log's per-entry cost), proof
// generation from an in-memory store of subtree hashes for a 1M-leaf tree, and proof verification.
import { hash as oneShotHash, createHash, randomBytes } from 'node:crypto'
import {
  CompactRange,
  consistencyProofSubtrees,
  hashLeaf,
  inclusionProofSubtrees,
  proveConsistency,
  proveInclusion,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
} from '@ledger/tlog'
import type { Hash, SubtreeHashReader } from '@ledger/tlog'
import { rate, rateAsync, ratio, row } from './measure.js'

const TREE_SIZE = 1_000_000
const LEAF_BYTES = 256
// The machine is shared: interleave the raw and the package measurements and keep each one's best, so a
// ratio compares figures taken under the same load.
const ROUNDS = 3

function appendAll(leafHashes: readonly Hash[]): number {
  const range = CompactRange.empty()
  const start = performance.now()
  for (const leafHash of leafHashes) range.append(leafHash)
  range.root()
  return (leafHashes.length * 1000) / (performance.now() - start)
}

function hashAndAppendAll(leaves: readonly Uint8Array[]): number {
  const range = CompactRange.empty()
  const start = performance.now()
  for (const leaf of leaves) range.append(hashLeaf(leaf))
  range.root()
  return (leaves.length * 1000) / (performance.now() - start)
}

/** Pseudo-random indexes in [0, n) from a fixed seed, so every run measures the same proofs. */
function indexes(count: number, n: number, seed = 1): number[] {
  const out: number[] = []
  let x = seed
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    out.push(x % n)
  }
  return out
}

export async function run(): Promise<void> {
  const input = randomBytes(65)
  const leaves = Array.from({ length: TREE_SIZE }, (_, i) => {
    const leaf = new Uint8Array(LEAF_BYTES)
    new DataView(leaf.buffer).setUint32(0, i)
    return leaf
  })
  const leafHashes = leaves.map(hashLeaf)

  let rawOneShot = 0
  let rawCreateHash = 0
  let appends = 0
  let appendsWithLeafHash = 0
  for (let round = 0; round < ROUNDS; round++) {
    rawOneShot = Math.max(
      rawOneShot,
      rate(() => oneShotHash('sha256', input, 'buffer'), 0.5),
    )
    rawCreateHash = Math.max(
      rawCreateHash,
      rate(() => createHash('sha256').update(input).digest(), 0.5),
    )
    appends = Math.max(appends, appendAll(leafHashes))
    appendsWithLeafHash = Math.max(appendsWithLeafHash, hashAndAppendAll(leaves))
  }
  row('raw SHA-256, 65-byte input (crypto.hash one-shot)', rawOneShot, 'hashes/s')
  row('raw SHA-256, 65-byte input (createHash/update/digest)', rawCreateHash, 'hashes/s')
  row(
    `CompactRange.append, ${TREE_SIZE.toLocaleString('en-US')} precomputed leaf hashes`,
    appends,
    'appends/s',
  )
  row(`hashLeaf + append, ${LEAF_BYTES}-byte leaves`, appendsWithLeafHash, 'appends/s')
  ratio('appends/s ÷ raw one-shot hashes/s', appends, rawOneShot, '≥ 0.3')

  // Every complete subtree hash of the 1M-leaf tree, as a log stores them (reported by onNode).
  const store: Hash[][] = []
  const range = CompactRange.empty()
  for (const leafHash of leafHashes) {
    range.append(leafHash, (level, index, hash) => {
      ;(store[level] ??= [])[Number(index)] = hash
    })
  }
  const root = range.root()
  const read: SubtreeHashReader = (ids) => ids.map((id) => store[id.level]![Number(id.index)]!)
  const size = BigInt(TREE_SIZE)
  console.log(
    `proofs over a tree of ${TREE_SIZE.toLocaleString('en-US')} leaves (log2 n = ${Math.log2(TREE_SIZE).toFixed(1)})`,
  )

  const leafIndexes = indexes(4096, TREE_SIZE)
  const inclusionLookups = leafIndexes.map((i) => inclusionProofSubtrees(BigInt(i), size).length)
  const oldSizes = indexes(4096, TREE_SIZE - 1, 7).map((i) => i + 1)
  const consistencyLookups = oldSizes.map((m) => consistencyProofSubtrees(BigInt(m), size).length)
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

  let k = 0
  const inclusionRate = await rateAsync(() => proveInclusion(BigInt(leafIndexes[k++ % 4096]!), size, read))
  row('proveInclusion from the store', inclusionRate, 'proofs/s')
  row(
    `  subtree lookups per proof (mean; max ${Math.max(...inclusionLookups)})`,
    mean(inclusionLookups),
    'lookups',
  )
  k = 0
  const consistencyRate = await rateAsync(() => proveConsistency(BigInt(oldSizes[k++ % 4096]!), size, read))
  row('proveConsistency (random old size -> 1M) from the store', consistencyRate, 'proofs/s')
  row(
    `  subtree lookups per proof (mean; max ${Math.max(...consistencyLookups)})`,
    mean(consistencyLookups),
    'lookups',
  )

  const inclusionProofs = await Promise.all(leafIndexes.map((i) => proveInclusion(BigInt(i), size, read)))
  const consistencyProofs = await Promise.all(oldSizes.map((m) => proveConsistency(BigInt(m), size, read)))
  const oldRoots = new Map<number, Hash>()
  for (const m of oldSizes) if (!oldRoots.has(m)) oldRoots.set(m, await treeRoot(BigInt(m), read))
  k = 0
  const verifyInclusionRate = rate(() => {
    const j = k++ % 4096
    verifyInclusion(leafHashes[leafIndexes[j]!]!, BigInt(leafIndexes[j]!), size, inclusionProofs[j]!, root)
  })
  row('verifyInclusion', verifyInclusionRate, 'verifications/s')
  k = 0
  const verifyConsistencyRate = rate(() => {
    const j = k++ % 4096
    const m = oldSizes[j]!
    verifyConsistency(BigInt(m), size, consistencyProofs[j]!, oldRoots.get(m)!, root)
  })
  row('verifyConsistency', verifyConsistencyRate, 'verifications/s')
}
