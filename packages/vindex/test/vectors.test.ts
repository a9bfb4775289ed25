// The map against vectors computed from docs/design/verifiable-index.md by an independent program
// (test/vectors/vindex/generate.py), not from this package's output.
import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import {
  encodeOutputLeaf,
  decodeOutputLeaf,
  mapFn,
  mapKey,
  valueHash,
  verifyMapProof,
  VerifiableMap,
  type MapFnInput,
} from '../src/index.js'

interface Vectors {
  cases: {
    name: string
    entries: MapFnInput[]
    values: Record<string, number[]>
    root: string
    queries: { key: string; indexes: number[]; proof: string }[]
  }[]
  outputLeaves: { inputSize: number; inputRoot: string; mapRoot: string; leaf: string }[]
  badProofs: { why: string; key: string; indexes: number[]; proof: string }[]
}

const vectors = JSON.parse(
  readFileSync(new URL('../../../test/vectors/vindex/map.json', import.meta.url), 'utf8'),
) as Vectors
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
const unhex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'))

function build(entries: MapFnInput[]): VerifiableMap {
  const map = new VerifiableMap()
  entries.forEach((entry, index) => map.addEntry(index, entry))
  return map
}

describe('verifiable index vectors', () => {
  for (const c of vectors.cases) {
    test(c.name, () => {
      // MapFn files every entry under the keys the vectors list.
      const values: Record<string, number[]> = {}
      c.entries.forEach((entry, index) => {
        for (const key of mapFn(entry)) (values[key] ??= []).push(index)
      })
      expect(values).toEqual(c.values)
      const map = build(c.entries)
      expect(map.size).toBe(Object.keys(c.values).length)
      expect(hex(map.rootHash())).toBe(c.root)
      for (const q of c.queries) {
        const key = mapKey(q.key)
        expect(hex(map.prove(key)), q.key).toBe(q.proof)
        expect(map.get(key) ?? []).toEqual(q.indexes)
        const claimed = q.indexes.length > 0 ? valueHash(q.indexes) : undefined
        expect(() => verifyMapProof(unhex(c.root), key, unhex(q.proof), claimed)).not.toThrow()
      }
    })
  }

  test('the same map whatever order keys are inserted in', () => {
    const c = vectors.cases[2]!
    const map = new VerifiableMap()
    const byKey = Object.entries(c.values).reverse()
    for (const [key, indexes] of byKey) for (const index of indexes) map.add(mapKey(key), index)
    expect(hex(map.rootHash())).toBe(c.root)
  })

  test('output leaves', () => {
    for (const leaf of vectors.outputLeaves) {
      const encoded = encodeOutputLeaf({
        inputSize: BigInt(leaf.inputSize),
        inputRoot: unhex(leaf.inputRoot),
        mapRoot: unhex(leaf.mapRoot),
      })
      expect(hex(encoded)).toBe(leaf.leaf)
      expect(decodeOutputLeaf(encoded).inputSize).toBe(BigInt(leaf.inputSize))
    }
  })

  test('every bad proof is refused', () => {
    const root = unhex(vectors.cases[2]!.root)
    for (const bad of vectors.badProofs) {
      const claimed = bad.indexes.length > 0 ? valueHash(bad.indexes) : undefined
      expect(() => verifyMapProof(root, mapKey(bad.key), unhex(bad.proof), claimed), bad.why).toThrow()
    }
  })
})
