import { MAX_TREE_SIZE, bytesEqual } from './bytes.js'
import { TlogError } from './errors.js'
import { EMPTY_ROOT, HASH_SIZE, hashChildren } from './hash.js'
import type { Hash } from './hash.js'

/**
 * A complete subtree: the perfect tree of 2^level leaves [index*2^level, (index+1)*2^level).
 * Level 0 is a leaf hash. A tree of at most 2^63-1 leaves has levels 0..62.
 */
export interface SubtreeId {
  readonly level: number
  readonly index: bigint
}

/**
 * Returns the hashes of the given complete subtrees, in the order asked; may be sync or async.
 * Proof generation trusts what it returns; wrap untrusted sources (tiles) with `tileHashReader`.
 */
export type SubtreeHashReader = (ids: readonly SubtreeId[]) => readonly Hash[] | Promise<readonly Hash[]>

/** Largest subtree level a tree of at most MAX_TREE_SIZE leaves can hold. */
export const MAX_SUBTREE_LEVEL = 62

/**
 * Throws unless `size` is a tree size: a bigint in [0, 2^63-1] (INVALID_ARGUMENT for a non-bigint,
 * SIZE_OUT_OF_RANGE otherwise). `what` names the size in the message.
 */
export function assertTreeSize(size: bigint, what = 'tree size'): void {
  if (typeof size !== 'bigint') throw new TlogError('INVALID_ARGUMENT', `${what} must be a bigint`)
  if (size < 0n || size > MAX_TREE_SIZE) {
    throw new TlogError('SIZE_OUT_OF_RANGE', `${what} ${size} outside [0, 2^63-1]`)
  }
}

function assertIndexInTree(index: bigint, size: bigint): void {
  if (typeof index !== 'bigint') throw new TlogError('INVALID_ARGUMENT', 'index must be a bigint')
  if (index < 0n || index >= size) {
    throw new TlogError('INDEX_OUT_OF_RANGE', `index ${index} not in a tree of size ${size}`)
  }
}

function assertHash(hash: Uint8Array, what: string): void {
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
    throw new TlogError('INVALID_ARGUMENT', `${what} must be a 32-byte hash`)
  }
}

/** Number of bits needed to write `n` (n >= 0): bitLength(0) = 0, bitLength(5) = 3. */
function bitLength(n: bigint): number {
  let length = 0
  while (n > 0xffffffffn) {
    n >>= 32n
    length += 32
  }
  return length + 32 - Math.clz32(Number(n))
}

/** Largest power of two strictly below n (n >= 2): the RFC 6962 split point k. */
function splitPoint(n: bigint): bigint {
  return 1n << BigInt(bitLength(n - 1n) - 1)
}

/**
 * A leaf range [lo, hi) whose MTH is one proof element. Every range a proof uses has lo a multiple of the
 * smallest power of two >= hi - lo, so it splits into complete subtrees, largest first (RFC 6962 §2.1).
 */
interface LeafRange {
  readonly lo: bigint
  readonly hi: bigint
}

function pushRangeSubtrees(range: LeafRange, out: SubtreeId[]): void {
  let lo = range.lo
  while (lo < range.hi) {
    const level = bitLength(range.hi - lo) - 1
    out.push({ level, index: lo >> BigInt(level) })
    lo += 1n << BigInt(level)
  }
}

/** MTH of a range from its complete subtrees, left to right: the RFC 6962 split nests to the right. */
function foldRight(hashes: readonly Hash[], start: number, end: number): Hash {
  let hash = hashes[end - 1]!
  for (let i = end - 2; i >= start; i--) hash = hashChildren(hashes[i]!, hash)
  return hash
}

/**
 * The complete subtrees that make up the whole tree of `size` leaves, left to right (largest first):
 * one per set bit of `size`. Their hashes are the right edge a CompactRange keeps; folding them gives the root.
 */
export function rootSubtrees(size: bigint): SubtreeId[] {
  assertTreeSize(size)
  const out: SubtreeId[] = []
  pushRangeSubtrees({ lo: 0n, hi: size }, out)
  return out
}

/**
 * The RFC 6962 §2.1 Merkle Tree Hash of the leaves whose leaf hashes are given, for any count including 0
 * (then SHA-256 of the empty string). Throws INVALID_ARGUMENT if an element is not 32 bytes.
 */
export function rootFromLeafHashes(leafHashes: readonly Hash[]): Hash {
  if (leafHashes.length === 0) return EMPTY_ROOT.slice()
  for (const hash of leafHashes) assertHash(hash, 'leaf hash')
  if (leafHashes.length === 1) return leafHashes[0]!.slice()
  // Pairing level by level and carrying an unpaired last node up unchanged gives exactly the RFC's
  // split at the largest power of two, without recursion.
  let level: Hash[] = leafHashes.slice()
  while (level.length > 1) {
    const next: Hash[] = new Array<Hash>((level.length + 1) >> 1)
    for (let i = 0; i + 1 < level.length; i += 2) next[i >> 1] = hashChildren(level[i]!, level[i + 1]!)
    if (level.length % 2 === 1) next[next.length - 1] = level[level.length - 1]!
    level = next
  }
  return level[0]!
}

function inclusionRanges(index: bigint, size: bigint): LeafRange[] {
  // RFC 9162 §2.1.3.1 PATH(m, D[n]), walked from the root down; the proof lists the deepest element first.
  const out: LeafRange[] = []
  let lo = 0n
  let hi = size
  while (hi - lo > 1n) {
    const mid = lo + splitPoint(hi - lo)
    if (index < mid) {
      out.push({ lo: mid, hi })
      hi = mid
    } else {
      out.push({ lo, hi: mid })
      lo = mid
    }
  }
  return out.reverse()
}

function consistencyRanges(oldSize: bigint, newSize: bigint): LeafRange[] {
  // RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b), walked from the root down; deepest element first.
  const out: LeafRange[] = []
  let lo = 0n
  let hi = newSize
  let m = oldSize
  let whole = true
  for (;;) {
    const n = hi - lo
    if (m === n) {
      if (!whole) out.push({ lo, hi })
      break
    }
    const k = splitPoint(n)
    if (m <= k) {
      out.push({ lo: lo + k, hi })
      hi = lo + k
    } else {
      out.push({ lo, hi: lo + k })
      lo += k
      m -= k
      whole = false
    }
  }
  return out.reverse()
}

function subtreesOf(ranges: readonly LeafRange[]): { ids: SubtreeId[]; ends: number[] } {
  const ids: SubtreeId[] = []
  const ends: number[] = []
  for (const range of ranges) {
    pushRangeSubtrees(range, ids)
    ends.push(ids.length)
  }
  return { ids, ends }
}

async function readChecked(read: SubtreeHashReader, ids: readonly SubtreeId[]): Promise<readonly Hash[]> {
  if (ids.length === 0) return []
  const hashes = await read(ids)
  if (hashes.length !== ids.length) {
    throw new TlogError(
      'INVALID_ARGUMENT',
      `subtree reader returned ${hashes.length} hashes for ${ids.length}`,
    )
  }
  for (const hash of hashes) assertHash(hash, 'subtree reader result')
  return hashes
}

async function proveRanges(ranges: readonly LeafRange[], read: SubtreeHashReader): Promise<Hash[]> {
  const { ids, ends } = subtreesOf(ranges)
  const hashes = await readChecked(read, ids)
  const proof: Hash[] = []
  let start = 0
  for (const end of ends) {
    proof.push(end - start === 1 ? hashes[start]!.slice() : foldRight(hashes, start, end))
    start = end
  }
  return proof
}

/**
 * The complete subtrees whose hashes an inclusion proof of leaf `index` in a tree of `size` needs, in the
 * order proveInclusion reads them: at most 2*log2(size). Throws SIZE_OUT_OF_RANGE, INDEX_OUT_OF_RANGE.
 */
export function inclusionProofSubtrees(index: bigint, size: bigint): SubtreeId[] {
  assertTreeSize(size)
  assertIndexInTree(index, size)
  return subtreesOf(inclusionRanges(index, size)).ids
}

/**
 * The RFC 9162 §2.1.3.1 inclusion proof (audit path) of leaf `index` in the tree of `size` leaves, sibling
 * of the leaf first; empty for a one-leaf tree. Reads all subtree hashes it needs in ONE call to `read`.
 * Throws SIZE_OUT_OF_RANGE, INDEX_OUT_OF_RANGE, or INVALID_ARGUMENT if `read` answers the wrong shape.
 */
export async function proveInclusion(index: bigint, size: bigint, read: SubtreeHashReader): Promise<Hash[]> {
  assertTreeSize(size)
  assertIndexInTree(index, size)
  return proveRanges(inclusionRanges(index, size), read)
}

function assertSizePair(oldSize: bigint, newSize: bigint): void {
  assertTreeSize(oldSize, 'old size')
  assertTreeSize(newSize, 'new size')
  if (oldSize > newSize) {
    throw new TlogError('SIZE_OUT_OF_RANGE', `old size ${oldSize} above new size ${newSize}`)
  }
}

/**
 * The complete subtrees whose hashes a consistency proof from `oldSize` to `newSize` needs, in the order
 * proveConsistency reads them: at most 2*log2(newSize); none when oldSize is 0 or equals newSize.
 * Throws SIZE_OUT_OF_RANGE.
 */
export function consistencyProofSubtrees(oldSize: bigint, newSize: bigint): SubtreeId[] {
  assertSizePair(oldSize, newSize)
  if (oldSize === 0n || oldSize === newSize) return []
  return subtreesOf(consistencyRanges(oldSize, newSize)).ids
}

/**
 * The RFC 9162 §2.1.4.1 consistency proof from the tree of `oldSize` leaves to the tree of `newSize`,
 * deepest node first. Empty when oldSize equals newSize, and when oldSize is 0 (see verifyConsistency).
 * Reads in ONE call to `read`. Throws SIZE_OUT_OF_RANGE (also when oldSize > newSize).
 */
export async function proveConsistency(
  oldSize: bigint,
  newSize: bigint,
  read: SubtreeHashReader,
): Promise<Hash[]> {
  assertSizePair(oldSize, newSize)
  if (oldSize === 0n || oldSize === newSize) return []
  return proveRanges(consistencyRanges(oldSize, newSize), read)
}

/**
 * The root of the tree of `size` leaves, from its complete subtrees (one per set bit of `size`; one read).
 * SHA-256 of the empty string for size 0. Throws SIZE_OUT_OF_RANGE.
 */
export async function treeRoot(size: bigint, read: SubtreeHashReader): Promise<Hash> {
  const ids = rootSubtrees(size)
  if (ids.length === 0) return EMPTY_ROOT.slice()
  const hashes = await readChecked(read, ids)
  return ids.length === 1 ? hashes[0]!.slice() : foldRight(hashes, 0, hashes.length)
}

/**
 * Recomputes the root that `proof` proves leaf `index` (with hash `leafHash`) of a tree of `size` leaves
 * into, per RFC 9162 §2.1.3.2. All arguments may be attacker-controlled. Throws INDEX_OUT_OF_RANGE when
 * index >= size (including size 0), SIZE_OUT_OF_RANGE for a bad size, PROOF_MISMATCH when the proof has
 * the wrong length or a malformed element, INVALID_ARGUMENT when leafHash is not 32 bytes.
 */
export function rootFromInclusionProof(
  leafHash: Hash,
  index: bigint,
  size: bigint,
  proof: readonly Hash[],
): Hash {
  assertTreeSize(size)
  assertIndexInTree(index, size)
  assertHash(leafHash, 'leaf hash')
  let fn = index
  let sn = size - 1n
  let r = leafHash
  for (const p of proof) {
    if (!(p instanceof Uint8Array) || p.length !== HASH_SIZE) {
      throw new TlogError('PROOF_MISMATCH', 'inclusion proof element is not a 32-byte hash')
    }
    if (sn === 0n) throw new TlogError('PROOF_MISMATCH', 'inclusion proof too long')
    if ((fn & 1n) === 1n || fn === sn) {
      r = hashChildren(p, r)
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n
        sn >>= 1n
      }
    } else {
      r = hashChildren(r, p)
    }
    fn >>= 1n
    sn >>= 1n
  }
  if (sn !== 0n) throw new TlogError('PROOF_MISMATCH', 'inclusion proof too short')
  return r === leafHash ? r.slice() : r
}

/**
 * Checks that `proof` proves `leafHash` is leaf `index` of the tree of `size` leaves with root `root`
 * (RFC 9162 §2.1.3.2). Every argument comes off the wire: it is attacker-controlled. Throws TlogError
 * INDEX_OUT_OF_RANGE (index >= size, so also for the empty tree), SIZE_OUT_OF_RANGE, or PROOF_MISMATCH.
 */
export function verifyInclusion(
  leafHash: Hash,
  index: bigint,
  size: bigint,
  proof: readonly Hash[],
  root: Hash,
): void {
  assertHash(root, 'root')
  const computed = rootFromInclusionProof(leafHash, index, size, proof)
  if (!bytesEqual(computed, root))
    throw new TlogError('PROOF_MISMATCH', 'inclusion proof does not match root')
}

/**
 * Inclusion proofs of many leaves against ONE tree (a batch of lookups proven against one checkpoint),
 * with the nodes earlier proofs proved remembered. A node is named by its level and index (it covers
 * leaves [index·2^level, (index+1)·2^level) of the tree, cut at its size), so two proofs through the same
 * node agree on its hash. Where a proof reaches a proven node with that node's hash, and its next element
 * is the proven sibling, the proven parent is taken instead of hashing the two: the result is the one
 * verifyInclusion computes, and every element of every proof is still compared with something proven or
 * hashed. Only proofs that verified are remembered. Not for concurrent use (nothing here awaits).
 */
export class InclusionMemo {
  /** Per level, the proven nodes by index (numbers: a tree this memo serves has under 2^53 leaves). */
  private readonly levels: Map<number, Hash>[] = []
  private stored = 0
  /** The size as a number, or undefined past 2^53-1 (then every proof is checked alone, unremembered). */
  private readonly smallSize: number | undefined

  /** `size` and `root`: the tree every proof is checked against (a verified checkpoint's). */
  constructor(
    readonly size: bigint,
    readonly root: Hash,
    /** Most nodes kept; past it the memo starts over (it is only a cache). */
    private readonly maxNodes = 1_000_000,
  ) {
    assertTreeSize(size)
    assertHash(root, 'root')
    this.smallSize = size <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(size) : undefined
  }

  /** verifyInclusion(leafHash, index, this.size, proof, this.root): the same checks and errors. */
  verify(leafHash: Hash, index: bigint, proof: readonly Hash[]): void {
    const size = this.smallSize
    if (size === undefined) {
      verifyInclusion(leafHash, index, this.size, proof, this.root)
      return
    }
    assertIndexInTree(index, this.size)
    assertHash(leafHash, 'leaf hash')
    // Node numbers as doubles, exact below 2^53: halving is Math.floor(x / 2), parity x % 2 (BigInt
    // arithmetic and BigInt map keys cost several times as much, and a batch checks thousands of proofs).
    let fn = Number(index)
    let sn = size - 1
    let level = 0
    let r: Hash = leafHash
    const seen: { level: number; index: number; hash: Hash }[] = []
    for (const p of proof) {
      if (!(p instanceof Uint8Array) || p.length !== HASH_SIZE) {
        throw new TlogError('PROOF_MISMATCH', 'inclusion proof element is not a 32-byte hash')
      }
      if (sn === 0) throw new TlogError('PROOF_MISMATCH', 'inclusion proof too long')
      // RFC 9162 §2.1.3.2 hashes p on the left, then lifts a last node that has no right sibling to the
      // level where it is a right child; lifting first names the node where p is its sibling.
      let left = fn % 2 === 1
      if (!left && fn === sn) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2)
          sn = Math.floor(sn / 2)
          level++
        }
        left = true
      }
      const sibling = left ? fn - 1 : fn + 1
      const parent = this.node(level + 1, Math.floor(fn / 2))
      const node = this.node(level, fn)
      const proven = this.node(level, sibling)
      if (
        parent !== undefined &&
        node !== undefined &&
        proven !== undefined &&
        bytesEqual(node, r) &&
        bytesEqual(proven, p)
      ) {
        // Both children are remembered already; only new nodes are recorded.
        r = parent
      } else {
        seen.push({ level, index: fn, hash: r }, { level, index: sibling, hash: p })
        r = left ? hashChildren(p, r) : hashChildren(r, p)
      }
      fn = Math.floor(fn / 2)
      sn = Math.floor(sn / 2)
      level++
    }
    if (sn !== 0) throw new TlogError('PROOF_MISMATCH', 'inclusion proof too short')
    if (!bytesEqual(r, this.root))
      throw new TlogError('PROOF_MISMATCH', 'inclusion proof does not match root')
    seen.push({ level, index: fn, hash: r })
    if (this.stored + seen.length > this.maxNodes) {
      this.levels.length = 0
      this.stored = 0
    }
    for (const { level: at, index: i, hash } of seen) {
      const nodes = (this.levels[at] ??= new Map())
      if (!nodes.has(i)) {
        nodes.set(i, hash.slice())
        this.stored++
      }
    }
  }

  private node(level: number, index: number): Hash | undefined {
    return this.levels[level]?.get(index)
  }
}

/**
 * Checks that the tree of `newSize` leaves with root `newRoot` extends the tree of `oldSize` leaves with
 * root `oldRoot` (RFC 9162 §2.1.4.2). Every argument is attacker-controlled.
 *
 * Sizes: 0 <= oldSize <= newSize <= 2^63-1, else SIZE_OUT_OF_RANGE. Equal sizes: the proof must be empty
 * and the roots equal. oldSize 0 (outside RFC 9162 and Go x/mod's CheckTree, which reject it): every tree
 * extends the empty one, so we accept iff the proof is empty AND oldRoot is the empty tree's root
 * (SHA-256 of the empty string); the new root is then only checked when newSize is 0 too (it must be the
 * empty root as well), since nothing else relates a tree to the empty one.
 * Any other mismatch: PROOF_MISMATCH.
 */
export function verifyConsistency(
  oldSize: bigint,
  newSize: bigint,
  proof: readonly Hash[],
  oldRoot: Hash,
  newRoot: Hash,
): void {
  assertSizePair(oldSize, newSize)
  assertHash(oldRoot, 'old root')
  assertHash(newRoot, 'new root')
  const mismatch = (why: string) => new TlogError('PROOF_MISMATCH', `consistency proof: ${why}`)
  if (oldSize === 0n) {
    if (proof.length !== 0) throw mismatch('a proof from the empty tree must be empty')
    if (!bytesEqual(oldRoot, EMPTY_ROOT)) throw mismatch('old root is not the empty tree root')
    if (newSize === 0n && !bytesEqual(newRoot, EMPTY_ROOT))
      throw mismatch('new root is not the empty tree root')
    return
  }
  if (oldSize === newSize) {
    if (proof.length !== 0) throw mismatch('a proof between equal sizes must be empty')
    if (!bytesEqual(oldRoot, newRoot)) throw mismatch('equal sizes with different roots')
    return
  }
  for (const p of proof) {
    if (!(p instanceof Uint8Array) || p.length !== HASH_SIZE) throw mismatch('element is not a 32-byte hash')
  }
  if (proof.length === 0) throw mismatch('empty proof')
  // RFC 9162 §2.1.4.2: when the old tree is a complete subtree its root is the first node; it is never sent.
  const path = (oldSize & (oldSize - 1n)) === 0n ? [oldRoot, ...proof] : proof
  let fn = oldSize - 1n
  let sn = newSize - 1n
  while ((fn & 1n) === 1n) {
    fn >>= 1n
    sn >>= 1n
  }
  let fr = path[0]!
  let sr = path[0]!
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!
    if (sn === 0n) throw mismatch('proof too long')
    if ((fn & 1n) === 1n || fn === sn) {
      fr = hashChildren(c, fr)
      sr = hashChildren(c, sr)
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n
        sn >>= 1n
      }
    } else {
      sr = hashChildren(sr, c)
    }
    fn >>= 1n
    sn >>= 1n
  }
  if (sn !== 0n) throw mismatch('proof too short')
  if (!bytesEqual(fr, oldRoot)) throw mismatch('old root mismatch')
  if (!bytesEqual(sr, newRoot)) throw mismatch('new root mismatch')
}
