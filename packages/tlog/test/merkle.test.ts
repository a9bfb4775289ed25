import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_TREE_SIZE } from '../src/bytes.js'
import type { Hash } from '../src/hash.js'
import {
  consistencyProofSubtrees,
  inclusionProofSubtrees,
  proveConsistency,
  InclusionMemo,
  proveInclusion,
  rootFromInclusionProof,
  rootFromLeafHashes,
  rootSubtrees,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
  type SubtreeHashReader,
  type SubtreeId,
} from '../src/merkle.js'
import {
  asyncCodeOf,
  codeOf,
  hex,
  loadVectors,
  REF_EMPTY_ROOT,
  refLeafHash,
  ruleLeafHashes,
  ruleReferenceTree,
  unhex,
  type ConsistencyCase,
  type InclusionCase,
  type RootCase,
} from './vectors.js'

const rootCases = loadVectors<RootCase>('merkle-roots.json').filter((c) => c.kind === 'root')
const inclusionCases = loadVectors<InclusionCase>('inclusion-proofs.json')
const consistencyCases = loadVectors<ConsistencyCase>('consistency-proofs.json')
// One reference model (65,793 rule leaves) serves every vector tree: they are all prefixes of it.
const ref = ruleReferenceTree()
const hexes = (hashes: readonly Uint8Array[]) => hashes.map(hex)

function leavesOf(c: RootCase): Uint8Array[] {
  if (c.leaves_from_rule) return ruleLeafHashes(Number(c.tree_size))
  return c.leaves_hex!.map((leaf) => refLeafHash(unhex(leaf)))
}

/** Wraps a reader to count its calls and the subtrees asked for. */
function counting(read: SubtreeHashReader) {
  const stats = { calls: 0, ids: 0 }
  const wrapped: SubtreeHashReader = (ids) => {
    stats.calls++
    stats.ids += ids.length
    return read(ids)
  }
  return { stats, read: wrapped }
}

describe('merkle-roots.json', () => {
  it('has the cases the README lists', () => {
    expect(rootCases.length).toBe(92)
  })

  for (const c of rootCases) {
    const label = `size ${c.tree_size}: ${c.valid ? 'valid' : c.reason}`
    it(label, async () => {
      const leafHashes = leavesOf(c)
      expect(leafHashes.length).toBe(Number(c.tree_size))
      const computed = hex(rootFromLeafHashes(leafHashes))
      const fromSubtrees = hex(await treeRoot(BigInt(c.tree_size), ref.reader))
      if (c.valid) {
        expect(computed).toBe(c.root)
        // The reference model is built from the rule leaves; listed leaves are the same leaves.
        expect(fromSubtrees).toBe(c.root)
      } else {
        expect(computed).not.toBe(c.root)
      }
    })
  }
})

describe('rootFromLeafHashes', () => {
  it('does not return a caller-owned buffer for one leaf, nor the shared empty root', () => {
    const leaf = new Uint8Array(32).fill(7)
    const root = rootFromLeafHashes([leaf])
    expect(hex(root)).toBe(hex(leaf))
    expect(root).not.toBe(leaf)
    const empty = rootFromLeafHashes([])
    empty[0] = 0
    expect(hex(rootFromLeafHashes([]))).toBe(hex(REF_EMPTY_ROOT))
  })

  it('rejects elements that are not 32-byte hashes', () => {
    expect(codeOf(() => rootFromLeafHashes([new Uint8Array(31)]))).toBe('INVALID_ARGUMENT')
  })
})

const inclusionErrorCode = { invalid_input: 'INDEX_OUT_OF_RANGE', proof_failed: 'PROOF_MISMATCH' }

describe('inclusion-proofs.json', () => {
  it('has the cases the README lists', () => {
    expect(inclusionCases.length).toBe(1079)
  })

  it('every valid proof verifies, and proveInclusion produces it byte for byte', async () => {
    const valid = inclusionCases.filter((c) => c.valid)
    expect(valid.length).toBe(634)
    for (const c of valid) {
      const at = `size ${c.tree_size} index ${c.index}`
      const proof = c.proof.map(unhex)
      const leafHash = unhex(c.leaf_hash)
      if (c.leaf_hex !== undefined) expect(hex(refLeafHash(unhex(c.leaf_hex))), at).toBe(c.leaf_hash)
      expect(
        codeOf(() => verifyInclusion(leafHash, BigInt(c.index), BigInt(c.tree_size), proof, unhex(c.root))),
        at,
      ).toBe('no error')
      expect(hex(rootFromInclusionProof(leafHash, BigInt(c.index), BigInt(c.tree_size), proof)), at).toBe(
        c.root,
      )
      const generated = await proveInclusion(BigInt(c.index), BigInt(c.tree_size), ref.reader)
      expect(hexes(generated), at).toEqual(c.proof)
    }
  })

  it('every invalid case is rejected with the code of its error kind', () => {
    const invalid = inclusionCases.filter((c) => !c.valid)
    expect(invalid.length).toBe(445)
    for (const c of invalid) {
      const at = `size ${c.tree_size} index ${c.index}: ${c.reason}`
      const code = codeOf(() =>
        verifyInclusion(
          unhex(c.leaf_hash),
          BigInt(c.index),
          BigInt(c.tree_size),
          c.proof.map(unhex),
          unhex(c.root),
        ),
      )
      expect(code, at).toBe(inclusionErrorCode[c.error_kind!])
    }
  })
})

const consistencyErrorCode = { invalid_input: 'SIZE_OUT_OF_RANGE', proof_failed: 'PROOF_MISMATCH' }

describe('consistency-proofs.json', () => {
  it('has the cases the README lists', () => {
    expect(consistencyCases.length).toBe(1268)
  })

  it('every valid proof verifies, and proveConsistency produces it byte for byte', async () => {
    const valid = consistencyCases.filter((c) => c.valid)
    expect(valid.length).toBe(508)
    for (const c of valid) {
      const at = `${c.old_size} -> ${c.new_size}`
      const [oldSize, newSize] = [BigInt(c.old_size), BigInt(c.new_size)]
      const code = codeOf(() =>
        verifyConsistency(oldSize, newSize, c.proof.map(unhex), unhex(c.old_root), unhex(c.new_root)),
      )
      expect(code, at).toBe('no error')
      expect(hexes(await proveConsistency(oldSize, newSize, ref.reader)), at).toEqual(c.proof)
    }
  })

  it('every invalid case is rejected with the code of its error kind, except old size 0 (our rule)', () => {
    const invalid = consistencyCases.filter((c) => !c.valid)
    expect(invalid.length).toBe(760)
    for (const c of invalid.filter((c) => c.mutation !== 'old_size_zero')) {
      const at = `${c.old_size} -> ${c.new_size}: ${c.reason}`
      const code = codeOf(() =>
        verifyConsistency(
          BigInt(c.old_size),
          BigInt(c.new_size),
          c.proof.map(unhex),
          unhex(c.old_root),
          unhex(c.new_root),
        ),
      )
      expect(code, at).toBe(consistencyErrorCode[c.error_kind!])
    }
  })

  it('old size 0: x/mod rejects these as invalid input; we document that any tree extends the empty one', async () => {
    const zero = consistencyCases.filter((c) => c.mutation === 'old_size_zero')
    expect(zero.length).toBe(9)
    for (const c of zero) {
      const newSize = BigInt(c.new_size)
      // Our rule: an empty proof from the empty tree's root is accepted...
      expect(codeOf(() => verifyConsistency(0n, newSize, [], unhex(c.old_root), unhex(c.new_root)))).toBe(
        'no error',
      )
      expect(await proveConsistency(0n, newSize, ref.reader)).toEqual([])
      // ...but not a non-empty proof, nor an old root that is not the empty tree's.
      expect(
        codeOf(() =>
          verifyConsistency(0n, newSize, [unhex(c.new_root)], unhex(c.old_root), unhex(c.new_root)),
        ),
      ).toBe('PROOF_MISMATCH')
      expect(codeOf(() => verifyConsistency(0n, newSize, [], unhex(c.new_root), unhex(c.new_root)))).toBe(
        'PROOF_MISMATCH',
      )
    }
    expect(codeOf(() => verifyConsistency(0n, 0n, [], REF_EMPTY_ROOT, REF_EMPTY_ROOT))).toBe('no error')
    expect(codeOf(() => verifyConsistency(0n, 0n, [], REF_EMPTY_ROOT, ref.root(1)))).toBe('PROOF_MISMATCH')
  })
})

describe('argument checks', () => {
  const h = new Uint8Array(32)
  it('rejects sizes outside [0, 2^63-1] and indexes outside the tree', async () => {
    expect(codeOf(() => inclusionProofSubtrees(0n, MAX_TREE_SIZE + 1n))).toBe('SIZE_OUT_OF_RANGE')
    expect(codeOf(() => inclusionProofSubtrees(0n, -1n))).toBe('SIZE_OUT_OF_RANGE')
    expect(codeOf(() => inclusionProofSubtrees(-1n, 5n))).toBe('INDEX_OUT_OF_RANGE')
    expect(codeOf(() => inclusionProofSubtrees(5n, 5n))).toBe('INDEX_OUT_OF_RANGE')
    expect(codeOf(() => inclusionProofSubtrees(0n, 0n))).toBe('INDEX_OUT_OF_RANGE')
    expect(codeOf(() => rootSubtrees(MAX_TREE_SIZE + 1n))).toBe('SIZE_OUT_OF_RANGE')
    expect(codeOf(() => inclusionProofSubtrees(0 as never, 5n))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => consistencyProofSubtrees(6n, 5n))).toBe('SIZE_OUT_OF_RANGE')
    expect(await asyncCodeOf(() => proveInclusion(3n, 3n, ref.reader))).toBe('INDEX_OUT_OF_RANGE')
    expect(await asyncCodeOf(() => proveConsistency(4n, 3n, ref.reader))).toBe('SIZE_OUT_OF_RANGE')
    expect(await asyncCodeOf(() => treeRoot(-1n, ref.reader))).toBe('SIZE_OUT_OF_RANGE')
    expect(codeOf(() => verifyInclusion(h, 0n, MAX_TREE_SIZE + 1n, [], h))).toBe('SIZE_OUT_OF_RANGE')
    expect(codeOf(() => verifyConsistency(1n, MAX_TREE_SIZE + 1n, [h], h, h))).toBe('SIZE_OUT_OF_RANGE')
    expect(codeOf(() => verifyInclusion(new Uint8Array(31), 0n, 1n, [], h))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => verifyInclusion(h, 0n, 2n, [new Uint8Array(31)], h))).toBe('PROOF_MISMATCH')
    expect(codeOf(() => verifyConsistency(1n, 2n, [new Uint8Array(33)], h, h))).toBe('PROOF_MISMATCH')
  })

  it('rejects a reader that answers the wrong number of hashes or non-hashes', async () => {
    expect(await asyncCodeOf(() => proveInclusion(0n, 8n, () => []))).toBe('INVALID_ARGUMENT')
    expect(await asyncCodeOf(() => treeRoot(8n, () => [new Uint8Array(5)]))).toBe('INVALID_ARGUMENT')
  })

  it('handles the largest tree: proofs need at most 2*log2(n) subtrees, all inside the tree', () => {
    for (const [index, size] of [
      [0n, MAX_TREE_SIZE],
      [MAX_TREE_SIZE - 1n, MAX_TREE_SIZE],
      [1n << 62n, MAX_TREE_SIZE],
      [12345678901234567n, (1n << 60n) + 3n],
    ] as const) {
      const ids = inclusionProofSubtrees(index, size)
      expect(ids.length).toBeLessThanOrEqual(2 * 63)
      for (const id of ids) expect((id.index + 1n) << BigInt(id.level)).toBeLessThanOrEqual(size)
    }
    expect(rootSubtrees(MAX_TREE_SIZE).length).toBe(63)
    const cons = consistencyProofSubtrees((1n << 40n) + 1n, MAX_TREE_SIZE)
    expect(cons.length).toBeGreaterThan(0)
    expect(cons.length).toBeLessThanOrEqual(2 * 63)
  })
})

describe('proof generation', () => {
  it('reads every subtree it needs in one call, O(log n) of them', async () => {
    for (const [index, size] of [
      [0n, 65793n],
      [65792n, 65793n],
      [1000n, 65537n],
      [30000n, 65535n],
    ] as const) {
      const { stats, read } = counting(ref.reader)
      await proveInclusion(index, size, read)
      expect(stats.calls).toBe(1)
      expect(stats.ids).toBe(inclusionProofSubtrees(index, size).length)
      expect(stats.ids).toBeLessThanOrEqual(2 * 17)
    }
    const { stats, read } = counting(ref.reader)
    await proveConsistency(1000n, 65793n, read)
    expect(stats.calls).toBe(1)
    expect(stats.ids).toBe(consistencyProofSubtrees(1000n, 65793n).length)
    expect(stats.ids).toBeLessThanOrEqual(2 * 17)
  })

  it('rootSubtrees splits [0, size) into complete subtrees, largest first', () => {
    expect(rootSubtrees(0n)).toEqual([])
    expect(rootSubtrees(13n)).toEqual<SubtreeId[]>([
      { level: 3, index: 0n },
      { level: 2, index: 2n },
      { level: 0, index: 12n },
    ])
  })

  it('accepts an async reader', async () => {
    const proof = await proveInclusion(5n, 70n, async (ids) => ref.reader(ids))
    expect(hexes(proof)).toEqual(hexes(ref.inclusionProof(5, 70)))
  })
})

// Properties over random trees of the rule leaves (sizes up to a few thousand), against the RFC's own
// recursive definitions (test/vectors.ts), not against the code under test.
const MAX_PROPERTY_SIZE = 3000
const sizeAndIndex = fc
  .integer({ min: 1, max: MAX_PROPERTY_SIZE })
  .chain((size) => fc.tuple(fc.constant(size), fc.integer({ min: 0, max: size - 1 })))
const sizePair = fc
  .integer({ min: 1, max: MAX_PROPERTY_SIZE })
  .chain((newSize) => fc.tuple(fc.integer({ min: 1, max: newSize }), fc.constant(newSize)))

function flip(proof: readonly Hash[], element: number, byte: number, bit: number): Hash[] {
  const out = proof.map((h) => h.slice())
  out[element]![byte]! ^= 1 << bit
  return out
}

const sameHashes = (a: readonly Uint8Array[], b: readonly Uint8Array[]) =>
  a.length === b.length && a.every((h, i) => hex(h) === hex(b[i]!))

describe('inclusion proof properties', () => {
  it('generated proofs equal RFC 6962 PATH and verify', async () => {
    await fc.assert(
      fc.asyncProperty(sizeAndIndex, async ([size, index]) => {
        const proof = await proveInclusion(BigInt(index), BigInt(size), ref.reader)
        expect(hexes(proof)).toEqual(hexes(ref.inclusionProof(index, size)))
        verifyInclusion(ref.subtree(0, index), BigInt(index), BigInt(size), proof, ref.root(size))
      }),
      { numRuns: 300 },
    )
  })

  it('any flipped bit, wrong index, truncation or extension fails', async () => {
    await fc.assert(
      fc.asyncProperty(
        sizeAndIndex.filter(([size]) => size > 1),
        fc.nat(),
        fc.nat({ max: 31 }),
        fc.nat({ max: 7 }),
        fc.nat(),
        async ([size, index], element, byte, bit, other) => {
          const [n, i] = [BigInt(size), BigInt(index)]
          const leaf = ref.subtree(0, index)
          const root = ref.root(size)
          const proof = await proveInclusion(i, n, ref.reader)
          const check = (p: readonly Hash[], at = i, l = leaf) =>
            codeOf(() => verifyInclusion(l, at, n, p, root))
          expect(check(flip(proof, element % proof.length, byte, bit))).toBe('PROOF_MISMATCH')
          expect(check(proof.slice(0, -1))).toBe('PROOF_MISMATCH')
          expect(check(proof.slice(1))).toBe('PROOF_MISMATCH')
          expect(check([...proof, proof[0]!])).toBe('PROOF_MISMATCH')
          expect(check([leaf, ...proof])).toBe('PROOF_MISMATCH')
          const wrongIndex = (index + 1 + (other % (size - 1))) % size
          expect(check(proof, BigInt(wrongIndex))).toBe('PROOF_MISMATCH')
          expect(check(proof, i, flip([leaf], 0, byte, bit)[0]!)).toBe('PROOF_MISMATCH')
          expect(codeOf(() => verifyInclusion(leaf, i, n, proof, flip([root], 0, byte, bit)[0]!))).toBe(
            'PROOF_MISMATCH',
          )
        },
      ),
      { numRuns: 200 },
    )
  })

  it('a wrong size verifies only where the RFC path for that size is the same proof', async () => {
    await fc.assert(
      fc.asyncProperty(
        sizeAndIndex,
        fc.integer({ min: 1, max: MAX_PROPERTY_SIZE }),
        async ([size, index], other) => {
          fc.pre(other !== size && index < other)
          const proof = await proveInclusion(BigInt(index), BigInt(size), ref.reader)
          const code = codeOf(() =>
            verifyInclusion(ref.subtree(0, index), BigInt(index), BigInt(other), proof, ref.root(other)),
          )
          const expected = sameHashes(proof, ref.inclusionProof(index, other)) ? 'no error' : 'PROOF_MISMATCH'
          expect(code).toBe(expected)
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('consistency proof properties', () => {
  it('generated proofs equal RFC 6962 PROOF and verify', async () => {
    await fc.assert(
      fc.asyncProperty(sizePair, async ([oldSize, newSize]) => {
        const proof = await proveConsistency(BigInt(oldSize), BigInt(newSize), ref.reader)
        expect(hexes(proof)).toEqual(hexes(ref.consistencyProof(oldSize, newSize)))
        verifyConsistency(BigInt(oldSize), BigInt(newSize), proof, ref.root(oldSize), ref.root(newSize))
      }),
      { numRuns: 300 },
    )
  })

  it('any flipped bit, truncation, extension or wrong root fails', async () => {
    await fc.assert(
      fc.asyncProperty(
        sizePair.filter(([m, n]) => m < n),
        fc.nat(),
        fc.nat({ max: 31 }),
        fc.nat({ max: 7 }),
        async ([oldSize, newSize], element, byte, bit) => {
          const [m, n] = [BigInt(oldSize), BigInt(newSize)]
          const [oldRoot, newRoot] = [ref.root(oldSize), ref.root(newSize)]
          const proof = await proveConsistency(m, n, ref.reader)
          const check = (p: readonly Hash[], o = oldRoot, r = newRoot) =>
            codeOf(() => verifyConsistency(m, n, p, o, r))
          expect(check(flip(proof, element % proof.length, byte, bit))).toBe('PROOF_MISMATCH')
          expect(check(proof.slice(0, -1))).toBe('PROOF_MISMATCH')
          expect(check(proof.slice(1))).toBe('PROOF_MISMATCH')
          expect(check([...proof, proof[0]!])).toBe('PROOF_MISMATCH')
          expect(check([oldRoot, ...proof])).toBe('PROOF_MISMATCH')
          expect(check(proof, flip([oldRoot], 0, byte, bit)[0]!)).toBe('PROOF_MISMATCH')
          expect(check(proof, oldRoot, flip([newRoot], 0, byte, bit)[0]!)).toBe('PROOF_MISMATCH')
          expect(check(proof, newRoot, oldRoot)).toBe('PROOF_MISMATCH')
        },
      ),
      { numRuns: 200 },
    )
  })

  it('wrong sizes verify only where the RFC proof for those sizes is the same proof', async () => {
    await fc.assert(
      fc.asyncProperty(sizePair, sizePair, async ([oldSize, newSize], [otherOld, otherNew]) => {
        fc.pre(otherOld !== oldSize || otherNew !== newSize)
        const proof = await proveConsistency(BigInt(oldSize), BigInt(newSize), ref.reader)
        const code = codeOf(() =>
          verifyConsistency(
            BigInt(otherOld),
            BigInt(otherNew),
            proof,
            ref.root(otherOld),
            ref.root(otherNew),
          ),
        )
        const expected = sameHashes(proof, ref.consistencyProof(otherOld, otherNew))
          ? 'no error'
          : 'PROOF_MISMATCH'
        expect(code).toBe(expected)
      }),
      { numRuns: 200 },
    )
  })
})

describe('InclusionMemo: many proofs against one tree, proven nodes remembered', () => {
  it('accepts and refuses exactly what verifyInclusion does, whatever was proven before', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: MAX_PROPERTY_SIZE }),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat({ max: 31 }), fc.nat({ max: 7 }), fc.nat({ max: 5 })), {
          minLength: 1,
          maxLength: 40,
        }),
        async (size, cases) => {
          const n = BigInt(size)
          const root = ref.root(size)
          const memo = new InclusionMemo(n, root, 64)
          for (const [at, element, byte, bit, how] of cases) {
            const index = at % size
            const i = BigInt(index)
            const leaf = ref.subtree(0, index)
            const proof = await proveInclusion(i, n, ref.reader)
            // An honest proof, or one tampered with in a way verifyInclusion must refuse.
            const given =
              how === 0 || proof.length === 0
                ? proof
                : how === 1
                  ? flip(proof, element % proof.length, byte, bit)
                  : how === 2
                    ? proof.slice(0, -1)
                    : how === 3
                      ? [...proof, proof[0]!]
                      : proof
            const leafGiven = how === 4 ? flip([leaf], 0, byte, bit)[0]! : leaf
            const index_ = how === 5 && size > 1 ? BigInt((index + 1 + (element % (size - 1))) % size) : i
            const expected = codeOf(() => verifyInclusion(leafGiven, index_, n, given, root))
            expect(codeOf(() => memo.verify(leafGiven, index_, given))).toBe(expected)
          }
        },
      ),
      { numRuns: 200 },
    )
  })

  it('checks a tree of 2^53 leaves or more as verifyInclusion does (past exact doubles)', () => {
    const size = 2n ** 60n
    const leaf = new Uint8Array(32).fill(1)
    const proof = Array.from({ length: 60 }, (_, i) => new Uint8Array(32).fill(i))
    // The root that this proof of leaf 2^53 + 1 gives: accepted; any other: refused, as verifyInclusion.
    const index = 2n ** 53n + 1n
    const root = rootFromInclusionProof(leaf, index, size, proof)
    new InclusionMemo(size, root).verify(leaf, index, proof)
    const other = new InclusionMemo(size, new Uint8Array(32))
    expect(codeOf(() => other.verify(leaf, index, proof))).toBe('PROOF_MISMATCH')
    expect(codeOf(() => other.verify(leaf, size, proof))).toBe(
      codeOf(() => verifyInclusion(leaf, size, size, proof, new Uint8Array(32))),
    )
  })

  it('refuses a proof through a proven node whose upper elements are not the proven siblings', async () => {
    const size = 1000
    const memo = new InclusionMemo(BigInt(size), ref.root(size))
    const proof10 = await proveInclusion(10n, 1000n, ref.reader)
    memo.verify(ref.subtree(0, 10), 10n, proof10)
    const proof11 = await proveInclusion(11n, 1000n, ref.reader)
    // Leaf 11 meets leaf 10's proven path at once; every element above must still be what was proven.
    for (let element = 1; element < proof11.length; element++)
      expect(codeOf(() => memo.verify(ref.subtree(0, 11), 11n, flip(proof11, element, 0, 0)))).toBe(
        'PROOF_MISMATCH',
      )
    memo.verify(ref.subtree(0, 11), 11n, proof11)
  })
})
