// The authenticated map of docs/design/verifiable-index.md §2, in memory: a binary Patricia trie over the
// 256-bit keys whose hashes are those of the collapsed depth-256 tree (a branch that splits at bit b, seen
// from a depth d < b, costs b - d inner hashes with EMPTY). Hashes are cached per node and recomputed
// along the paths an update touched, so a batch of updates costs their paths, not the map.
//
// Layout, and why: a log of a million entries files well over a million keys, and one JavaScript object
// (plus a Uint8Array or two) per node cost about 900 bytes per key. Here nodes are rows of typed arrays:
// a leaf is its key, its cached hash and a slice of one shared pool of indexes; a branch is its split bit,
// two child references and its cached hash. That is under 200 bytes per key, nothing for the garbage
// collector to trace, and inserts that compare keys a byte at a time instead of a bit at a time.
import { hash as oneShotHash } from 'node:crypto'
import type { Hash } from '@ledger/tlog'
import { HASH_SIZE } from '@ledger/tlog'
import { EMPTY, keyBit } from './hashing.js'
import { mapFn, type MapFnInput } from './mapfn.js'
import {
  encodeMapProof,
  PROOF_ABSENT_EMPTY,
  PROOF_ABSENT_OTHER,
  PROOF_PRESENT,
  type MapProof,
} from './proof.js'

// A node reference is a branch id (>= 0) or a leaf id `l` stored as ~l (< 0).
const isLeafRef = (ref: number): boolean => ref < 0
const leafOf = (ref: number): number => ~ref

const LEAF_PREFIX = 0x00
const NODE_PREFIX = 0x01
/** Log indexes are stored as float64: exact up to 2^53, which Number.isSafeInteger already demands. */
const TWO_32 = 2 ** 32

/** "vmap", then a word whose bytes tell the byte order the snapshot was written in. */
const SNAPSHOT_MAGIC = 0x766d6170
const SNAPSHOT_BYTE_ORDER = 0x01020304

/** The number of pool slots a list of `n` indexes occupies: 1, 2, 4, 8 … */
function capacityFor(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n))
}

function grown<T extends Uint16Array | Int32Array | Float64Array>(array: T, length: number): T {
  const next = new (array.constructor as new (n: number) => T)(length)
  next.set(array)
  return next
}

// Byte tables are Buffers so that hashes land in them as hex (below) without an intermediate Buffer.
function grownBytes(buffer: Buffer, length: number): Buffer<ArrayBuffer> {
  const next = Buffer.alloc(length)
  buffer.copy(next)
  return next
}

/** 32 bytes from a[at …] to b[to …]: a loop, because Buffer#copy and subarray cost more than it for 32. */
function copyHash(a: Uint8Array, at: number, b: Uint8Array, to: number): void {
  for (let i = 0; i < HASH_SIZE; i++) b[to + i] = a[at + i]!
}

// SHA-256 as hex, written into place: a digest as a Buffer costs an ArrayBuffer per hash, which at a few
// million hashes a rebuild is most of the garbage collector's work; a hex string is young-generation
// garbage, and about twice as fast overall.
function sha256Into(input: Buffer | string, out: Buffer, offset: number): void {
  out.write(oneShotHash('sha256', input, 'hex'), offset, HASH_SIZE, 'hex')
}

export class VerifiableMap {
  // Leaves: key, cached leaf hash (valid when leafHashed[l] = 1), and indexes pool[at .. at + length).
  private leafKeys = Buffer.alloc(HASH_SIZE * 1024)
  private leafHashes = Buffer.alloc(HASH_SIZE * 1024)
  private leafHashed = Buffer.alloc(1024)
  private listAt = new Float64Array(1024)
  private listLength = new Float64Array(1024)
  private leaves = 0
  // Branches: the bit where the children differ, children, one leaf below (its key has the prefix), and
  // the cached hash of inner(left, right), both seen from depth + 1.
  private branchDepth = new Uint16Array(1024)
  private branchLeft = new Int32Array(1024)
  private branchRight = new Int32Array(1024)
  private branchLeaf = new Int32Array(1024)
  private branchHashes = Buffer.alloc(HASH_SIZE * 1024)
  private branchHashed = Buffer.alloc(1024)
  private branches = 0
  // The pool of index lists; a list that outgrows its slots moves to the end (the old slots are garbage
  // until the pool is compacted).
  private pool = new Float64Array(4096)
  private poolUsed = 0
  private poolLive = 0
  private root: number | undefined

  // Scratch buffers for hashing without allocating inputs.
  private readonly keyScratch = Buffer.alloc(HASH_SIZE)
  private readonly nodeInput = Buffer.alloc(1 + 2 * HASH_SIZE)
  private readonly leafInput = Buffer.alloc(1 + 2 * HASH_SIZE)
  private valueInput: Buffer = Buffer.alloc(8 * 64)
  /** Branch ids on the path of the current insert, for invalidating their hashes. */
  private readonly path = new Int32Array(257)

  constructor() {
    this.nodeInput[0] = NODE_PREFIX
    this.leafInput[0] = LEAF_PREFIX
  }

  /** Number of keys in the map. */
  get size(): number {
    return this.leaves
  }

  /** Files log index `index` under every key MapFn gives `entry`. Indexes must be added in ascending order. */
  addEntry(index: number, entry: MapFnInput): void {
    // mapKey(keyString), hashed straight from the string into a scratch key.
    for (const keyString of mapFn(entry)) {
      sha256Into(keyString, this.keyScratch, 0)
      this.add(this.keyScratch, index)
    }
  }

  /** Appends `index` to the list of `key` (creating it); it must be above the list's last index. */
  add(key: Hash, index: number): void {
    if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`bad log index ${index}`)
    if (key.length !== HASH_SIZE) throw new RangeError('a map key is 32 bytes')
    if (this.root === undefined) {
      this.root = ~this.newLeaf(key, index)
      return
    }
    let ref = this.root
    let parent = -1
    let parentSide = 0
    let depth = 0
    let pathLength = 0
    for (;;) {
      if (isLeafRef(ref)) {
        const leaf = leafOf(ref)
        const split = this.firstDifference(leaf, key, depth, 256)
        if (split === 256) {
          this.append(leaf, index)
          this.leafHashed[leaf] = 0
          break
        }
        this.replace(parent, parentSide, this.newBranch(split, ref, ~this.newLeaf(key, index)))
        break
      }
      const branchDepth = this.branchDepth[ref]!
      const split = this.firstDifference(this.branchLeaf[ref]!, key, depth, branchDepth)
      if (split < branchDepth) {
        this.replace(parent, parentSide, this.newBranch(split, ref, ~this.newLeaf(key, index)))
        break
      }
      this.path[pathLength++] = ref
      parent = ref
      parentSide = keyBit(key, branchDepth)
      ref = parentSide === 0 ? this.branchLeft[ref]! : this.branchRight[ref]!
      depth = branchDepth + 1
    }
    for (let i = 0; i < pathLength; i++) this.branchHashed[this.path[i]!] = 0
  }

  /** The map root. */
  rootHash(): Hash {
    if (this.root === undefined) return EMPTY
    const out = Buffer.alloc(HASH_SIZE)
    this.hashFrom(this.root, 0, out, 0)
    return new Uint8Array(out)
  }

  /**
   * rootHash() in steps, for a large map whose hashes are all stale (loaded from a snapshot, or rebuilt):
   * yields after about `every` nodes hashed, so that a server can answer requests meanwhile. The map must
   * not change until the generator returns the root.
   */
  *rootHashSteps(every = 16_384): Generator<void, Hash, void> {
    if (this.root === undefined) return EMPTY
    let hashed = 0
    // Post-order over the nodes whose cached hash is stale: children first, then the node (one hash).
    const stack: number[] = [this.root]
    while (stack.length > 0) {
      const ref = stack[stack.length - 1]!
      if (this.isHashed(ref)) {
        stack.pop()
        continue
      }
      if (!isLeafRef(ref)) {
        const left = this.branchLeft[ref]!
        const right = this.branchRight[ref]!
        const waiting = stack.length
        if (!this.isHashed(right)) stack.push(right)
        if (!this.isHashed(left)) stack.push(left)
        if (stack.length > waiting) continue
      }
      stack.pop()
      this.ensureHash(ref)
      if (++hashed % every === 0) yield
    }
    return this.rootHash()
  }

  private isHashed(ref: number): boolean {
    return isLeafRef(ref) ? this.leafHashed[leafOf(ref)] === 1 : this.branchHashed[ref] === 1
  }

  /** The ascending indexes filed under `key`, or undefined. */
  get(key: Hash): readonly number[] | undefined {
    const leaf = this.find(key)
    if (leaf === undefined || this.firstDifference(leaf, key, 0, 256) !== 256) return undefined
    const at = this.listAt[leaf]!
    return Array.from(this.pool.subarray(at, at + this.listLength[leaf]!))
  }

  /** The proof for `key` (present or absent) against rootHash(), decoded. */
  proof(key: Hash): MapProof {
    const siblings: Hash[] = []
    if (this.root === undefined) return { kind: PROOF_ABSENT_EMPTY, siblings }
    let ref = this.root
    let depth = 0
    for (;;) {
      if (isLeafRef(ref)) {
        const leaf = leafOf(ref)
        if (this.firstDifference(leaf, key, 0, 256) === 256) return { kind: PROOF_PRESENT, siblings }
        return {
          kind: PROOF_ABSENT_OTHER,
          siblings,
          other: {
            key: this.leafKeys.slice(HASH_SIZE * leaf, HASH_SIZE * (leaf + 1)),
            valueHash: this.valueHash(leaf),
          },
        }
      }
      const branchDepth = this.branchDepth[ref]!
      const split = this.firstDifference(this.branchLeaf[ref]!, key, depth, branchDepth)
      for (let j = depth; j < split; j++) siblings.push(EMPTY)
      if (split < branchDepth) {
        // The key leaves the branch's common prefix: its side is empty, the branch is the sibling.
        siblings.push(this.hashOf(ref, split + 1))
        return { kind: PROOF_ABSENT_EMPTY, siblings }
      }
      const side = keyBit(key, branchDepth)
      siblings.push(this.hashOf(side === 0 ? this.branchRight[ref]! : this.branchLeft[ref]!, branchDepth + 1))
      ref = side === 0 ? this.branchLeft[ref]! : this.branchRight[ref]!
      depth = branchDepth + 1
    }
  }

  /** The encoded proof for `key`. */
  prove(key: Hash): Uint8Array {
    return encodeMapProof(this.proof(key))
  }

  /**
   * The map's contents as bytes, for a restart to load instead of re-reading the log (a cache, not a
   * format anyone verifies: `fromSnapshot` recomputes every hash, and the caller compares the root with an
   * output leaf). Keys, index lists and the trie's shape; no hashes. Host byte order, marked.
   */
  snapshot(): Uint8Array[] {
    const leaves = this.leaves
    const branches = this.branches
    let values = 0
    for (let leaf = 0; leaf < leaves; leaf++) values += this.listLength[leaf]!
    const header = new Uint32Array([SNAPSHOT_MAGIC, SNAPSHOT_BYTE_ORDER, leaves, branches, values, 0])
    const root = new Int32Array([this.root === undefined ? 0 : 1, this.root ?? 0])
    const lists = new Float64Array(values)
    let at = 0
    for (let leaf = 0; leaf < leaves; leaf++) {
      const from = this.listAt[leaf]!
      const length = this.listLength[leaf]!
      lists.set(this.pool.subarray(from, from + length), at)
      at += length
    }
    const depths = new Uint16Array(branches + (branches & 1)) // padded to 4 bytes
    depths.set(this.branchDepth.subarray(0, branches))
    const view = (a: ArrayBufferView, bytes: number) => new Uint8Array(a.buffer, a.byteOffset, bytes)
    return [
      view(header, header.byteLength),
      view(root, root.byteLength),
      view(this.leafKeys, HASH_SIZE * leaves),
      view(this.listLength, 8 * leaves),
      view(lists, lists.byteLength),
      view(depths, depths.byteLength),
      view(this.branchLeft, 4 * branches),
      view(this.branchRight, 4 * branches),
      view(this.branchLeaf, 4 * branches),
    ]
  }

  /**
   * A map from `snapshot()` bytes. Throws RangeError on bytes that are not a well-formed snapshot (a
   * truncated file, another byte order, child references out of range, a trie whose split bits do not
   * increase downwards); contents that are well formed but wrong show in the root, which the caller checks.
   */
  static fromSnapshot(bytes: Uint8Array): VerifiableMap {
    const copy = new Uint8Array(bytes) // aligned, and ours
    let at = 0
    const take = (length: number): ArrayBuffer => {
      if (at + length > copy.byteLength) throw new RangeError('the map snapshot is truncated')
      const part = copy.buffer.slice(at, at + length)
      at += length
      return part
    }
    const [magic, order, leaves, branches, values] = new Uint32Array(take(24))
    if (magic !== SNAPSHOT_MAGIC) throw new RangeError('not a map snapshot')
    if (order !== SNAPSHOT_BYTE_ORDER) throw new RangeError('a map snapshot of another byte order')
    const [hasRoot, root] = new Int32Array(take(8))
    const map = new VerifiableMap()
    const capacity = Math.max(leaves!, 1)
    map.leafKeys = Buffer.alloc(HASH_SIZE * capacity)
    map.leafKeys.set(new Uint8Array(take(HASH_SIZE * leaves!)))
    map.leafHashes = Buffer.alloc(HASH_SIZE * capacity)
    map.leafHashed = Buffer.alloc(capacity)
    map.listLength = new Float64Array(capacity)
    map.listLength.set(new Float64Array(take(8 * leaves!)))
    map.listAt = new Float64Array(capacity)
    const lists = new Float64Array(take(8 * values!))
    // Each list gets its capacity's slots back, as `append` expects.
    let slots = 0
    let sum = 0
    for (let leaf = 0; leaf < leaves!; leaf++) {
      const length = map.listLength[leaf]!
      if (!Number.isSafeInteger(length) || length < 1) throw new RangeError('a map snapshot list is empty')
      sum += length
      slots += capacityFor(length)
    }
    if (sum !== values) throw new RangeError('the map snapshot lists do not add up')
    map.pool = new Float64Array(Math.max(slots, 4096))
    let from = 0
    for (let leaf = 0; leaf < leaves!; leaf++) {
      const length = map.listLength[leaf]!
      map.listAt[leaf] = map.poolUsed
      map.pool.set(lists.subarray(from, from + length), map.poolUsed)
      for (let i = 1; i < length; i++) {
        if (!(lists[from + i]! > lists[from + i - 1]!))
          throw new RangeError('a map snapshot list does not ascend')
      }
      from += length
      map.poolUsed += capacityFor(length)
    }
    map.poolLive = values!
    map.leaves = leaves!
    const branchCapacity = Math.max(branches!, 1)
    map.branchDepth = new Uint16Array(branchCapacity)
    map.branchDepth.set(new Uint16Array(take(2 * (branches! + (branches! & 1)))).subarray(0, branches!))
    for (const [name, array] of [
      ['left', (map.branchLeft = new Int32Array(branchCapacity))],
      ['right', (map.branchRight = new Int32Array(branchCapacity))],
      ['leaf', (map.branchLeaf = new Int32Array(branchCapacity))],
    ] as const) {
      array.set(new Int32Array(take(4 * branches!)))
      for (let b = 0; b < branches!; b++) {
        const ref = array[b]!
        const ok =
          name === 'leaf'
            ? ref >= 0 && ref < leaves!
            : isLeafRef(ref)
              ? leafOf(ref) < leaves!
              : ref < branches!
        if (!ok) throw new RangeError(`a map snapshot branch's ${name} is out of range`)
      }
    }
    map.branchHashes = Buffer.alloc(HASH_SIZE * branchCapacity)
    map.branchHashed = Buffer.alloc(branchCapacity)
    map.branches = branches!
    if (at !== copy.byteLength) throw new RangeError('the map snapshot has bytes after its end')
    if (hasRoot === 1) {
      if (isLeafRef(root!) ? leafOf(root!) >= leaves! : root! >= branches!) {
        throw new RangeError("the map snapshot's root is out of range")
      }
      map.root = root
    } else if (leaves !== 0) throw new RangeError('a map snapshot with keys but no root')
    // Split bits increase downwards (so hashing terminates), and every leaf and branch is reached once.
    let reachedLeaves = 0
    let reachedBranches = 0
    const stack: [number, number][] = map.root === undefined ? [] : [[map.root, -1]]
    while (stack.length > 0) {
      const [ref, parentDepth] = stack.pop()!
      if (isLeafRef(ref)) {
        reachedLeaves++
        continue
      }
      reachedBranches++
      const depth = map.branchDepth[ref]!
      if (depth <= parentDepth || depth > 255 || reachedBranches > branches!) {
        throw new RangeError('the map snapshot is not a trie')
      }
      stack.push([map.branchLeft[ref]!, depth], [map.branchRight[ref]!, depth])
    }
    if (reachedLeaves !== leaves || reachedBranches !== branches) {
      throw new RangeError('the map snapshot holds nodes outside its trie')
    }
    return map
  }

  /** The leaf the path of `key` ends at (its key may differ), or undefined for an empty map. */
  private find(key: Hash): number | undefined {
    if (this.root === undefined) return undefined
    let ref = this.root
    while (!isLeafRef(ref)) {
      ref = keyBit(key, this.branchDepth[ref]!) === 0 ? this.branchLeft[ref]! : this.branchRight[ref]!
    }
    return leafOf(ref)
  }

  /** The first bit in [from, to) where leaf `leaf`'s key and `key` differ; `to` if none. */
  private firstDifference(leaf: number, key: Hash, from: number, to: number): number {
    const keys = this.leafKeys
    const base = HASH_SIZE * leaf
    for (let byte = from >> 3; byte << 3 < to; byte++) {
      let x = keys[base + byte]! ^ key[byte]!
      // Bits of the first byte before `from` are already known to agree.
      if (byte === from >> 3) x &= 0xff >> (from & 7)
      if (x !== 0) {
        const bit = (byte << 3) + Math.clz32(x) - 24
        return bit < to ? bit : to
      }
    }
    return to
  }

  /** Bit `j` of leaf `leaf`'s key. */
  private leafBit(leaf: number, j: number): number {
    return (this.leafKeys[HASH_SIZE * leaf + (j >> 3)]! >> (7 - (j & 7))) & 1
  }

  private replace(parent: number, side: number, ref: number): void {
    if (parent < 0) this.root = ref
    else if (side === 0) this.branchLeft[parent] = ref
    else this.branchRight[parent] = ref
  }

  private newLeaf(key: Hash, index: number): number {
    const leaf = this.leaves
    if (leaf === this.leafHashed.length) {
      const capacity = Math.ceil(leaf * 1.5)
      this.leafKeys = grownBytes(this.leafKeys, HASH_SIZE * capacity)
      this.leafHashes = grownBytes(this.leafHashes, HASH_SIZE * capacity)
      this.leafHashed = grownBytes(this.leafHashed, capacity)
      this.listAt = grown(this.listAt, capacity)
      this.listLength = grown(this.listLength, capacity)
    }
    this.leaves++
    copyHash(key, 0, this.leafKeys, HASH_SIZE * leaf)
    this.leafHashed[leaf] = 0
    this.makeRoom(1)
    this.listAt[leaf] = this.poolUsed++
    this.listLength[leaf] = 1
    this.pool[this.listAt[leaf]!] = index
    this.poolLive += 1
    return leaf
  }

  private newBranch(depth: number, a: number, b: number): number {
    const branch = this.branches
    if (branch === this.branchHashed.length) {
      const capacity = Math.ceil(branch * 1.5)
      this.branchDepth = grown(this.branchDepth, capacity)
      this.branchLeft = grown(this.branchLeft, capacity)
      this.branchRight = grown(this.branchRight, capacity)
      this.branchLeaf = grown(this.branchLeaf, capacity)
      this.branchHashes = grownBytes(this.branchHashes, HASH_SIZE * capacity)
      this.branchHashed = grownBytes(this.branchHashed, capacity)
    }
    this.branches++
    // b is always the new leaf: its key gives the branch's prefix.
    const leafB = leafOf(b)
    const bOnTheLeft = this.leafBit(leafB, depth) === 0
    this.branchDepth[branch] = depth
    this.branchLeft[branch] = bOnTheLeft ? b : a
    this.branchRight[branch] = bOnTheLeft ? a : b
    this.branchLeaf[branch] = leafB
    this.branchHashed[branch] = 0
    return branch
  }

  private append(leaf: number, index: number): void {
    const length = this.listLength[leaf]!
    let at = this.listAt[leaf]!
    const last = this.pool[at + length - 1]!
    if (index <= last) throw new RangeError(`index ${index} is not above ${last}, the last under its key`)
    if (length === capacityFor(length)) {
      // Full: extend in place when the list ends the pool, else move it to a block twice its size. Room is
      // made first: making it may compact the pool, which moves every list.
      const capacity = capacityFor(length + 1)
      this.makeRoom(capacity)
      at = this.listAt[leaf]!
      if (at + length === this.poolUsed) {
        this.poolUsed += capacity - length
      } else {
        const moved = this.poolUsed
        this.poolUsed += capacity
        this.pool.copyWithin(moved, at, at + length)
        at = moved
        this.listAt[leaf] = at
      }
    }
    this.pool[at + length] = index
    this.listLength[leaf] = length + 1
    this.poolLive += 1
  }

  /** Makes `slots` free slots at the end of the pool, compacting or growing it; may move every list. */
  private makeRoom(slots: number): void {
    if (this.poolUsed + slots <= this.pool.length) return
    if (this.poolUsed > 2 * this.poolLive + 4096) this.compact()
    if (this.poolUsed + slots > this.pool.length) {
      this.pool = grown(this.pool, Math.ceil((this.poolUsed + slots) * 1.5))
    }
  }

  /** Rewrites the pool with every list at its capacity, in leaf order: the moved lists' slots are freed. */
  private compact(): void {
    let total = 0
    for (let leaf = 0; leaf < this.leaves; leaf++) total += capacityFor(this.listLength[leaf]!)
    const pool = new Float64Array(Math.max(this.pool.length, Math.ceil(total * 1.25)))
    let at = 0
    for (let leaf = 0; leaf < this.leaves; leaf++) {
      const from = this.listAt[leaf]!
      const length = this.listLength[leaf]!
      pool.set(this.pool.subarray(from, from + length), at)
      this.listAt[leaf] = at
      at += capacityFor(length)
    }
    this.pool = pool
    this.poolUsed = at
  }

  private valueHash(leaf: number): Hash {
    const out = Buffer.alloc(HASH_SIZE)
    this.writeValueHash(leaf, out, 0)
    return new Uint8Array(out)
  }

  /** vh = H(u64(n) || u64(i_1) || … || u64(i_n)), written to out[offset …]. */
  private writeValueHash(leaf: number, out: Buffer, offset: number): void {
    const length = this.listLength[leaf]!
    const at = this.listAt[leaf]!
    const bytes = 8 * (length + 1)
    if (this.valueInput.length < bytes) this.valueInput = Buffer.alloc(2 * bytes)
    const input = this.valueInput
    input.writeUInt32BE(Math.floor(length / TWO_32), 0)
    input.writeUInt32BE(length >>> 0, 4)
    for (let i = 0; i < length; i++) {
      const value = this.pool[at + i]!
      input.writeUInt32BE(Math.floor(value / TWO_32), 8 * (i + 1))
      input.writeUInt32BE(value >>> 0, 8 * (i + 1) + 4)
    }
    sha256Into(input.subarray(0, bytes), out, offset)
  }

  /** Makes the cached hash of `ref` (leaf hash, or a branch's inner hash at its own depth) valid. */
  private ensureHash(ref: number): void {
    if (isLeafRef(ref)) {
      const leaf = leafOf(ref)
      if (this.leafHashed[leaf] === 1) return
      const input = this.leafInput
      copyHash(this.leafKeys, HASH_SIZE * leaf, input, 1)
      this.writeValueHash(leaf, input, 1 + HASH_SIZE)
      sha256Into(input, this.leafHashes, HASH_SIZE * leaf)
      this.leafHashed[leaf] = 1
      return
    }
    if (this.branchHashed[ref] === 1) return
    const depth = this.branchDepth[ref]!
    const left = this.branchLeft[ref]!
    const right = this.branchRight[ref]!
    this.ensureHash(left)
    this.ensureHash(right)
    // The children are cached now: lifting them to depth + 1 hashes without recursing.
    const input = this.nodeInput
    this.lift(left, depth + 1, input, 1)
    this.lift(right, depth + 1, input, 1 + HASH_SIZE)
    sha256Into(input, this.branchHashes, HASH_SIZE * ref)
    this.branchHashed[ref] = 1
  }

  /** The hash of `ref`'s subtree seen from depth `d`, written to out[offset …]. */
  private hashFrom(ref: number, d: number, out: Buffer, offset: number): void {
    this.ensureHash(ref)
    this.lift(ref, d, out, offset)
  }

  private hashOf(ref: number, d: number): Hash {
    const out = Buffer.alloc(HASH_SIZE)
    this.hashFrom(ref, d, out, 0)
    return new Uint8Array(out)
  }

  private readonly liftInput = Buffer.alloc(1 + 2 * HASH_SIZE)

  /** Writes the cached hash of `ref` raised from its own depth to `d` (inner hashes with EMPTY). */
  private lift(ref: number, d: number, out: Buffer, offset: number): void {
    if (isLeafRef(ref)) {
      // A leaf is lifted to the top of the largest subtree it is alone in: its hash, whatever the depth.
      const leaf = leafOf(ref)
      copyHash(this.leafHashes, HASH_SIZE * leaf, out, offset)
      return
    }
    const depth = this.branchDepth[ref]!
    copyHash(this.branchHashes, HASH_SIZE * ref, out, offset)
    // Most branches sit right below their parent's bit: nothing to add.
    if (d === depth) return
    const prefixLeaf = this.branchLeaf[ref]!
    const input = this.liftInput
    input[0] = NODE_PREFIX
    for (let j = depth - 1; j >= d; j--) {
      // The subtree's hash so far is out[offset …]; its sibling at bit j is EMPTY.
      const side = this.leafBit(prefixLeaf, j) === 0 ? 1 : 1 + HASH_SIZE
      input.fill(0, 1)
      copyHash(out, offset, input, side)
      sha256Into(input, out, offset)
    }
  }
}
