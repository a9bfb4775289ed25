// The authenticated map of docs/design/verifiable-index.md §2, in memory: a binary Patricia trie over the
// 256-bit keys whose hashes are those of the collapsed depth-256 tree (a branch that splits at bit b, seen
// from a depth d < b, costs b - d inner hashes with EMPTY). Hashes are cached per node and recomputed
// along the paths an update touched, so a batch of updates costs their paths, not the map.
import type { Hash } from '@ledger/tlog'
import { bytesEqual } from '@ledger/tlog'
import { EMPTY, innerHash, keyBit, mapLeafHash, valueHash } from './hashing.js'
import { mapFn, mapKey, type MapFnInput } from './mapfn.js'
import {
  encodeMapProof,
  PROOF_ABSENT_EMPTY,
  PROOF_ABSENT_OTHER,
  PROOF_PRESENT,
  type MapProof,
} from './proof.js'

interface Leaf {
  leaf: true
  key: Hash
  indexes: number[]
  /** Cached leaf hash; undefined after the value changed. */
  hash: Hash | undefined
}

interface Branch {
  leaf: false
  /** The bit at which its two children differ; every key below shares bits [0, depth) with `key`. */
  depth: number
  /** One key below it, for its prefix bits. */
  key: Hash
  left: MapNode
  right: MapNode
  /** Cached inner(left seen from depth + 1, right seen from depth + 1); undefined when stale. */
  hash: Hash | undefined
  /** Cached hash seen from `fromDepth` (its parent's depth + 1). */
  fromDepth: number
  fromHash: Hash | undefined
}

type MapNode = Leaf | Branch

/** The first bit at or after `from` where a and b differ (256 if none). */
function firstDifference(a: Hash, b: Hash, from: number): number {
  for (let j = from; j < 256; j++) if (keyBit(a, j) !== keyBit(b, j)) return j
  return 256
}

function leafHash(node: Leaf): Hash {
  node.hash ??= mapLeafHash(node.key, valueHash(node.indexes))
  return node.hash
}

/** The hash of the subtree holding exactly `node`'s keys, as seen from depth `d` (d ≤ the node's depth). */
function hashFrom(node: MapNode, d: number): Hash {
  if (node.leaf) return leafHash(node)
  if (node.fromHash !== undefined && node.fromDepth === d) return node.fromHash
  node.hash ??= innerHash(hashFrom(node.left, node.depth + 1), hashFrom(node.right, node.depth + 1))
  // Most branches sit right below their parent's bit: nothing to add, nothing more to keep.
  if (d === node.depth) return node.hash
  let h = node.hash
  for (let j = node.depth - 1; j >= d; j--) {
    h = keyBit(node.key, j) === 0 ? innerHash(h, EMPTY) : innerHash(EMPTY, h)
  }
  node.fromDepth = d
  node.fromHash = h
  return h
}

function branch(depth: number, a: MapNode, b: MapNode): Branch {
  const [left, right] = keyBit(a.key, depth) === 0 ? [a, b] : [b, a]
  return { leaf: false, depth, key: a.key, left, right, hash: undefined, fromDepth: -1, fromHash: undefined }
}

export class VerifiableMap {
  private root: MapNode | undefined
  private keys = 0

  /** Number of keys in the map. */
  get size(): number {
    return this.keys
  }

  /** Files log index `index` under every key MapFn gives `entry`. Indexes must be added in ascending order. */
  addEntry(index: number, entry: MapFnInput): void {
    for (const keyString of mapFn(entry)) this.add(mapKey(keyString), index)
  }

  /** Appends `index` to the list of `key` (creating it); it must be above the list's last index. */
  add(key: Hash, index: number): void {
    if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`bad log index ${index}`)
    this.root = this.insert(this.root, key, index, 0)
  }

  private insert(node: MapNode | undefined, key: Hash, index: number, depth: number): MapNode {
    if (node === undefined) {
      this.keys++
      return { leaf: true, key, indexes: [index], hash: undefined }
    }
    if (node.leaf) {
      const split = firstDifference(node.key, key, depth)
      if (split === 256) {
        const last = node.indexes[node.indexes.length - 1]!
        if (index <= last) throw new RangeError(`index ${index} is not above ${last}, the last under its key`)
        node.indexes.push(index)
        node.hash = undefined
        return node
      }
      this.keys++
      return branch(split, node, { leaf: true, key, indexes: [index], hash: undefined })
    }
    const split = firstDifference(node.key, key, depth)
    if (split < node.depth) {
      this.keys++
      return branch(split, node, { leaf: true, key, indexes: [index], hash: undefined })
    }
    if (keyBit(key, node.depth) === 0) node.left = this.insert(node.left, key, index, node.depth + 1)
    else node.right = this.insert(node.right, key, index, node.depth + 1)
    node.hash = undefined
    node.fromHash = undefined
    return node
  }

  /** The map root. */
  rootHash(): Hash {
    return this.root === undefined ? EMPTY : hashFrom(this.root, 0)
  }

  /** The ascending indexes filed under `key`, or undefined. */
  get(key: Hash): readonly number[] | undefined {
    let node = this.root
    while (node !== undefined && !node.leaf) node = keyBit(key, node.depth) === 0 ? node.left : node.right
    return node !== undefined && bytesEqual(node.key, key) ? node.indexes : undefined
  }

  /** The proof for `key` (present or absent) against rootHash(), decoded. */
  proof(key: Hash): MapProof {
    const siblings: Hash[] = []
    let node = this.root
    let depth = 0
    if (node === undefined) return { kind: PROOF_ABSENT_EMPTY, siblings }
    for (;;) {
      if (node.leaf) {
        if (bytesEqual(node.key, key)) return { kind: PROOF_PRESENT, siblings }
        return {
          kind: PROOF_ABSENT_OTHER,
          siblings,
          other: { key: node.key, valueHash: valueHash(node.indexes) },
        }
      }
      for (let j = depth; j < node.depth; j++) {
        if (keyBit(key, j) === keyBit(node.key, j)) {
          siblings.push(EMPTY)
          continue
        }
        // The key leaves the branch's common prefix: its side is empty, the branch is the sibling.
        siblings.push(hashFrom(node, j + 1))
        return { kind: PROOF_ABSENT_EMPTY, siblings }
      }
      const side = keyBit(key, node.depth)
      siblings.push(hashFrom(side === 0 ? node.right : node.left, node.depth + 1))
      node = side === 0 ? node.left : node.right
      // One sibling per level so far: the child's subtree starts right below the branch's bit.
      depth = siblings.length
    }
  }

  /** The encoded proof for `key`. */
  prove(key: Hash): Uint8Array {
    return encodeMapProof(this.proof(key))
  }
}
