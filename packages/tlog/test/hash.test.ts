import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EMPTY_ROOT, HASH_SIZE, hashChildren, hashLeaf, sha256 } from '../src/hash.js'
import {
  codeOf,
  hex,
  loadVectors,
  refLeafHash,
  refNodeHash,
  ruleLeaf,
  unhex,
  type LeafRuleCase,
  type RootCase,
} from './vectors.js'

const rootCases = loadVectors<RootCase>('merkle-roots.json')
const leafRule = rootCases.find((c) => c.kind === 'leaf_rule') as unknown as LeafRuleCase

describe('leaf rule helper (test/vectors README)', () => {
  it('reproduces every sample leaf of the leaf_rule case', () => {
    expect(leafRule.samples.length).toBeGreaterThan(5)
    for (const sample of leafRule.samples) {
      const leaf = ruleLeaf(Number(sample.index))
      expect(leaf.length).toBe(sample.length)
      expect(hex(leaf)).toBe(sample.data_hex)
    }
  })
})

describe('hashLeaf', () => {
  it('matches the leaf hash of every sample of the vectors', () => {
    for (const sample of leafRule.samples) {
      expect(hex(hashLeaf(unhex(sample.data_hex)))).toBe(sample.leaf_hash)
    }
  })

  it('hashes the empty leaf to SHA-256(0x00)', () => {
    expect(hex(hashLeaf(new Uint8Array(0)))).toBe(
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    )
  })

  it('agrees with an independent SHA-256(0x00 || leaf) for short and long leaves', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 9000 }), (leaf) => {
        expect(hex(hashLeaf(leaf))).toBe(hex(refLeafHash(leaf)))
      }),
      { numRuns: 200 },
    )
  })

  it('returns plain Uint8Arrays that later calls do not overwrite', () => {
    const first = hashLeaf(new Uint8Array([1, 2, 3]))
    const copy = hex(first)
    hashLeaf(new Uint8Array([4, 5, 6]))
    expect(hex(first)).toBe(copy)
    expect(Object.getPrototypeOf(first)).toBe(Uint8Array.prototype)
    expect(first.length).toBe(HASH_SIZE)
  })
})

describe('hashChildren', () => {
  it('gives the vectors root of the two-leaf tree from its leaf hashes', () => {
    const two = rootCases.find((c) => c.kind === 'root' && c.valid && c.tree_size === '2')!
    const [a, b] = two.leaves_hex!.map((leaf) => refLeafHash(unhex(leaf)))
    expect(hex(hashChildren(a!, b!))).toBe(two.root)
  })

  it('agrees with an independent SHA-256(0x01 || left || right) and is not aliased', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (left, right) => {
          const h = hashChildren(left, right)
          const expected = hex(refNodeHash(left, right))
          hashChildren(right, left)
          expect(hex(h)).toBe(expected)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('rejects children that are not 32 bytes', () => {
    const h = new Uint8Array(32)
    expect(codeOf(() => hashChildren(new Uint8Array(31), h))).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => hashChildren(h, new Uint8Array(33)))).toBe('INVALID_ARGUMENT')
  })
})

describe('sha256 and EMPTY_ROOT', () => {
  it('EMPTY_ROOT is SHA-256 of the empty string, the vectors empty-tree root', () => {
    const empty = rootCases.find((c) => c.kind === 'root' && c.valid && c.tree_size === '0')!
    expect(hex(EMPTY_ROOT)).toBe(empty.root)
    expect(hex(EMPTY_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('hashes the concatenation of its parts', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 5 }), (parts) => {
        const expected = createHash('sha256').update(Buffer.concat(parts)).digest('hex')
        expect(hex(sha256(...parts))).toBe(expected)
      }),
      { numRuns: 100 },
    )
  })
})

describe('package entry point', () => {
  it('exports the Merkle half of the API', async () => {
    const api = await import('../src/index.js')
    for (const name of [
      'sha256',
      'hashLeaf',
      'hashChildren',
      'EMPTY_ROOT',
      'HASH_SIZE',
      'rootFromLeafHashes',
      'inclusionProofSubtrees',
      'proveInclusion',
      'consistencyProofSubtrees',
      'proveConsistency',
      'treeRoot',
      'verifyInclusion',
      'rootFromInclusionProof',
      'verifyConsistency',
      'rootSubtrees',
      'CompactRange',
      'TILE_HEIGHT',
      'TILE_WIDTH',
      'tilePath',
      'entryBundlePath',
      'parseTilePath',
      'tilesForSize',
      'partialTilesForSize',
      'entryBundlesForSize',
      'newTilesForGrowth',
      'newEntryBundlesForGrowth',
      'tileForSubtree',
      'subtreeHashFromTile',
      'readTileData',
      'encodeEntryBundle',
      'decodeEntryBundle',
      'verifyEntryBundle',
      'tileHashReader',
      'trustedTileHashReader',
    ]) {
      expect(api, name).toHaveProperty(name)
    }
  })
})
