// Test helper: loads the reference vectors of test/vectors/ (see its README.md) and provides an
// INDEPENDENT reference model of RFC 6962 trees (node:crypto directly, the RFC's recursive definitions), so
// that expected values never come from the code under test.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { TlogError } from '../src/errors.js'

const VECTORS_DIR = new URL('../../../test/vectors/', import.meta.url)

/** Fields every vector case has (README "Conventions"); the rest depends on `kind`. */
export interface VectorCase {
  comment: string
  kind: string
  valid: boolean
  reason?: string
  mutation?: string
  error_kind?: 'invalid_input' | 'proof_failed'
}

export interface RootCase extends VectorCase {
  tree_size: string
  leaves_hex?: string[]
  leaves_from_rule?: boolean
  root: string
}

export interface LeafRuleCase extends VectorCase {
  seed: string
  seed_hex: string
  length_rule: { mul: number; add: number; mod: number }
  samples: { index: string; length: number; data_hex: string; leaf_hash: string }[]
}

export interface InclusionCase extends VectorCase {
  tree_size: string
  index: string
  leaf_hex?: string
  leaf_hash: string
  proof: string[]
  root: string
}

export interface ConsistencyCase extends VectorCase {
  old_size: string
  new_size: string
  old_root: string
  new_root: string
  proof: string[]
}

export interface TileCase extends VectorCase {
  path?: string
  resource?: 'hash_tile' | 'entry_bundle'
  level?: number
  n?: string
  width?: number
  partial?: boolean
  tree_size?: string
  levels?: {
    level: number
    hashes: string
    full_tiles: string
    partial_width: number
    partial_path?: string
  }[]
  tile_paths?: string[]
  entry_bundle_paths?: string[]
  tile_paths_omitted?: boolean
  partial_tile_paths?: string[]
  last_full_tile_paths?: string[]
  last_entry_bundle_path?: string
  old_size?: string
  new_size?: string
  new_tiles_all_widths?: string[]
  new_tiles_final?: string[]
  new_entry_bundles_final?: string[]
  root?: string
  content_hex?: string
  first_index?: string
}

export function loadVectors<T extends VectorCase>(file: string): T[] {
  return JSON.parse(readFileSync(new URL(file, VECTORS_DIR), 'utf8')) as T[]
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

export function unhex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'))
}

function sha(...parts: Uint8Array[]): Uint8Array {
  const hasher = createHash('sha256')
  for (const part of parts) hasher.update(part)
  return new Uint8Array(hasher.digest())
}

/** Reference RFC 6962 leaf hash, SHA-256(0x00 || leaf), written independently of src/hash.ts. */
export function refLeafHash(leaf: Uint8Array): Uint8Array {
  return sha(new Uint8Array([0]), leaf)
}

/** Reference RFC 6962 node hash, SHA-256(0x01 || left || right). */
export function refNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha(new Uint8Array([1]), left, right)
}

export const REF_EMPTY_ROOT = sha()

const SEED = new TextEncoder().encode('tlog test vectors: leaves')

/** The README's leaf rule: leaf(i), the first (13*i) mod 71 bytes of SHA-256(S||be64(i)||be32(k)), k = 0, 1, ... */
export function ruleLeaf(i: number): Uint8Array {
  const length = (13 * i) % 71
  const blocks: Uint8Array[] = []
  for (let k = 0; k * 32 < length; k++) {
    const suffix = new Uint8Array(12)
    const view = new DataView(suffix.buffer)
    view.setBigUint64(0, BigInt(i))
    view.setUint32(8, k)
    blocks.push(sha(SEED, suffix))
  }
  return new Uint8Array(Buffer.concat(blocks)).slice(0, length)
}

/** Largest power of two strictly below n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

/**
 * A reference model of the rule tree: every complete subtree hash up to `maxSize` leaves, built level by
 * level, and the RFC 6962 / RFC 9162 recursive definitions of MTH, PATH and PROOF over it. A complete
 * subtree's hash does not depend on the tree size, so one model serves every size up to maxSize.
 */
export class ReferenceTree {
  readonly levels: Uint8Array[][]

  constructor(readonly leafHashes: readonly Uint8Array[]) {
    this.levels = [leafHashes.slice()]
    for (let level = 0; this.levels[level]!.length >= 2; level++) {
      const below = this.levels[level]!
      const above: Uint8Array[] = []
      for (let i = 0; i + 1 < below.length; i += 2) above.push(refNodeHash(below[i]!, below[i + 1]!))
      this.levels.push(above)
    }
  }

  get maxSize(): number {
    return this.leafHashes.length
  }

  subtree(level: number, index: number): Uint8Array {
    const hash = this.levels[level]?.[index]
    if (hash === undefined) throw new Error(`reference tree has no subtree ${level}/${index}`)
    return hash
  }

  /** A SubtreeHashReader over the model (synchronous, as the type allows). */
  readonly reader = (ids: readonly { level: number; index: bigint }[]): Uint8Array[] =>
    ids.map((id) => this.subtree(id.level, Number(id.index)))

  /** MTH(D[lo:hi]) by the RFC 6962 §2.1 recursion, with complete aligned subtrees from the model. */
  mth(lo: number, hi: number): Uint8Array {
    const n = hi - lo
    if (n === 0) return REF_EMPTY_ROOT
    if ((n & (n - 1)) === 0 && lo % n === 0) return this.subtree(Math.log2(n), lo / n)
    const k = splitPoint(n)
    return refNodeHash(this.mth(lo, lo + k), this.mth(lo + k, hi))
  }

  root(size: number): Uint8Array {
    return this.mth(0, size)
  }

  /** RFC 6962 §2.1.1 PATH(m, D[lo:hi]), and for each element whether it is the left sibling. */
  path(m: number, lo: number, hi: number): { proof: Uint8Array[]; leftSide: boolean[] } {
    const n = hi - lo
    if (n <= 1) return { proof: [], leftSide: [] }
    const k = splitPoint(n)
    if (m < k) {
      const sub = this.path(m, lo, lo + k)
      return { proof: [...sub.proof, this.mth(lo + k, hi)], leftSide: [...sub.leftSide, false] }
    }
    const sub = this.path(m - k, lo + k, hi)
    return { proof: [...sub.proof, this.mth(lo, lo + k)], leftSide: [...sub.leftSide, true] }
  }

  inclusionProof(index: number, size: number): Uint8Array[] {
    return this.path(index, 0, size).proof
  }

  /** RFC 6962 §2.1.2 SUBPROOF(m, D[lo:hi], b). */
  subproof(m: number, lo: number, hi: number, whole: boolean): Uint8Array[] {
    const n = hi - lo
    if (m === n) return whole ? [] : [this.mth(lo, hi)]
    const k = splitPoint(n)
    if (m <= k) return [...this.subproof(m, lo, lo + k, whole), this.mth(lo + k, hi)]
    return [...this.subproof(m - k, lo + k, hi, false), this.mth(lo, lo + k)]
  }

  consistencyProof(oldSize: number, newSize: number): Uint8Array[] {
    if (oldSize === 0 || oldSize === newSize) return []
    return this.subproof(oldSize, 0, newSize, true)
  }
}

const ruleLeafCache: Uint8Array[] = []
const ruleHashCache: Uint8Array[] = []

/** The first `count` rule leaves (computed once, shared by every test file in a worker). */
export function ruleLeaves(count: number): Uint8Array[] {
  for (let i = ruleLeafCache.length; i < count; i++) ruleLeafCache.push(ruleLeaf(i))
  return ruleLeafCache.slice(0, count)
}

/** Leaf hashes of the first `count` rule leaves, by the reference leaf hash. */
export function ruleLeafHashes(count: number): Uint8Array[] {
  const leaves = ruleLeaves(count)
  for (let i = ruleHashCache.length; i < count; i++) ruleHashCache.push(refLeafHash(leaves[i]!))
  return ruleHashCache.slice(0, count)
}

let ruleTree: ReferenceTree | undefined

/** The reference model of the rule tree with `atLeast` leaves (65793, the largest vector tree, by default). */
export function ruleReferenceTree(atLeast = 65793): ReferenceTree {
  if (ruleTree === undefined || ruleTree.maxSize < atLeast) {
    ruleTree = new ReferenceTree(ruleLeafHashes(Math.max(atLeast, 65793)))
  }
  return ruleTree
}

/** The TlogError code `fn` throws, or a marker: tests assert codes, never messages. */
export function codeOf(fn: () => unknown): string {
  try {
    fn()
    return 'no error'
  } catch (err) {
    return err instanceof TlogError ? err.code : `not a TlogError: ${String(err)}`
  }
}

/** Like codeOf, for an async function. */
export async function asyncCodeOf(fn: () => unknown): Promise<string> {
  try {
    await fn()
    return 'no error'
  } catch (err) {
    return err instanceof TlogError ? err.code : `not a TlogError: ${String(err)}`
  }
}
