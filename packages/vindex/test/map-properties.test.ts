// Property tests of the map and its proofs: a proof of every present key and of absent keys verifies; the
// root does not depend on insertion order; any flipped bit of a proof, a wrong value or a wrong root fails.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { sha256 } from '@ledger/tlog'
import {
  encodeMapProof,
  decodeMapProof,
  EMPTY,
  innerHash,
  keyBit,
  mapLeafHash,
  valueHash,
  verifyMapProof,
  VerifiableMap,
} from '../src/index.js'

const key = (n: number) => sha256(new Uint8Array([n >> 8, n & 0xff, 7]))

/** The map root straight from the definition (docs/design/verifiable-index.md §2), by recursion. */
function definitionRoot(items: { key: Uint8Array; vh: Uint8Array }[], depth = 0): Uint8Array {
  if (items.length === 0) return EMPTY
  if (items.length === 1) return mapLeafHash(items[0]!.key, items[0]!.vh)
  return innerHash(
    definitionRoot(
      items.filter((i) => keyBit(i.key, depth) === 0),
      depth + 1,
    ),
    definitionRoot(
      items.filter((i) => keyBit(i.key, depth) === 1),
      depth + 1,
    ),
  )
}

const listsArb = fc.dictionary(
  fc.integer({ min: 0, max: 2000 }).map(String),
  fc.uniqueArray(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 5 }),
  { maxKeys: 60 },
)

function mapOf(lists: Record<string, number[]>, order: string[]): VerifiableMap {
  const map = new VerifiableMap()
  for (const name of order)
    for (const index of [...lists[name]!].sort((a, b) => a - b)) map.add(key(Number(name)), index)
  return map
}

describe('map properties', () => {
  test('root matches the definition, in any insertion order; every key proves present, others absent', () => {
    fc.assert(
      fc.property(listsArb, fc.integer(), (lists, seed) => {
        const names = Object.keys(lists)
        const shuffled = [...names].sort(
          (a, b) => ((Number(a) * 7919 + seed) % 101) - ((Number(b) * 7919 + seed) % 101),
        )
        const map = mapOf(lists, names)
        const other = mapOf(lists, shuffled)
        const root = map.rootHash()
        expect(other.rootHash()).toEqual(root)
        const items = names.map((name) => ({
          key: key(Number(name)),
          vh: valueHash([...lists[name]!].sort((a, b) => a - b)),
        }))
        expect(root).toEqual(definitionRoot(items))
        for (const item of items) verifyMapProof(root, item.key, map.prove(item.key), item.vh)
        for (let n = 3000; n < 3010; n++) verifyMapProof(root, key(n), map.prove(key(n)))
      }),
      { numRuns: 60 },
    )
  })

  test('interleaved appends keep lists, roots and proofs right through list moves and pool compaction', () => {
    // Keys that share long prefixes (deep, lifted branches) next to random ones; appends interleave across
    // keys so lists outgrow their slots and move, and the pool fills with garbage and is compacted.
    const prefixed = (n: number) => {
      const k = new Uint8Array(32).fill(0xa5)
      k[31] = n
      k[30] = n & 1 ? 0x5a : 0xa5
      return k
    }
    const keys = [
      ...Array.from({ length: 40 }, (_, n) => prefixed(n)),
      ...Array.from({ length: 460 }, (_, n) => key(n)),
    ]
    const lists = keys.map(() => [] as number[])
    const map = new VerifiableMap()
    let index = 0
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 1500; i++) {
        // A skewed choice: a few keys get long lists, most stay short.
        const k = (i * i * 7 + round * 131) % (i % 3 === 0 ? 8 : keys.length)
        map.add(keys[k]!, index)
        lists[k]!.push(index++)
      }
      const root = map.rootHash()
      const items = keys.flatMap((k, n) => (lists[n]!.length ? [{ key: k, vh: valueHash(lists[n]!) }] : []))
      expect(root).toEqual(definitionRoot(items))
      keys.forEach((k, n) => {
        if (lists[n]!.length === 0) {
          expect(map.get(k)).toBeUndefined()
          verifyMapProof(root, k, map.prove(k))
        } else {
          expect(map.get(k)).toEqual(lists[n])
          verifyMapProof(root, k, map.prove(k), valueHash(lists[n]!))
        }
      })
    }
    expect(map.size).toBe(lists.filter((l) => l.length > 0).length)
  })

  test('any flipped bit of a proof fails, as do a wrong value, a wrong claim and a wrong root', () => {
    const map = new VerifiableMap()
    for (let n = 0; n < 200; n++) map.add(key(n), n)
    const root = map.rootHash()
    for (const n of [0, 57, 199, 5000, 5001, 5002]) {
      const k = key(n)
      const proof = map.prove(k)
      const vh = n < 200 ? valueHash([n]) : undefined
      verifyMapProof(root, k, proof, vh)
      // Every single-bit change anywhere in the proof.
      for (let bit = 0; bit < proof.length * 8; bit++) {
        const bad = proof.slice()
        bad[bit >> 3]! ^= 0x80 >> (bit & 7)
        expect(() => verifyMapProof(root, k, bad, vh), `key ${n} bit ${bit}`).toThrow()
      }
      expect(() => verifyMapProof(root, k, proof, vh === undefined ? valueHash([n]) : undefined)).toThrow()
      if (vh !== undefined) expect(() => verifyMapProof(root, k, proof, valueHash([n, n + 1]))).toThrow()
      const otherRoot = root.slice()
      otherRoot[0]! ^= 1
      expect(() => verifyMapProof(otherRoot, k, proof, vh)).toThrow()
      // Encoding is canonical: decode then encode gives the same bytes.
      expect(encodeMapProof(decodeMapProof(proof))).toEqual(proof)
    }
  })

  test('the empty map and a map of one key', () => {
    const empty = new VerifiableMap()
    expect(empty.rootHash()).toEqual(EMPTY)
    verifyMapProof(EMPTY, key(1), empty.prove(key(1)))
    const one = new VerifiableMap()
    one.add(key(1), 5)
    one.add(key(1), 9)
    const root = one.rootHash()
    expect(root).toEqual(mapLeafHash(key(1), valueHash([5, 9])))
    verifyMapProof(root, key(1), one.prove(key(1)), valueHash([5, 9]))
    verifyMapProof(root, key(2), one.prove(key(2)))
    expect(() => one.add(key(1), 9)).toThrow(/not above/)
  })

  test("generated maps: a random bit flipped in a present or absent proof fails; another key's proof fails", () => {
    fc.assert(
      fc.property(
        listsArb,
        fc.integer({ min: 0, max: 4000 }),
        fc.integer({ min: 0, max: 4000 }),
        fc.nat(),
        (lists, asked, otherAsked, bitSeed) => {
          const names = Object.keys(lists)
          fc.pre(names.length > 0)
          const map = mapOf(lists, names)
          const root = map.rootHash()
          const claim = (n: number) => {
            const list = lists[String(n)]
            return list === undefined ? undefined : valueHash([...list].sort((a, b) => a - b))
          }
          // Half the time a key of the map (presence), else any key (mostly absence).
          const n = asked % 2 === 0 ? Number(names[asked % names.length]) : asked
          const k = key(n)
          const proof = map.prove(k)
          verifyMapProof(root, k, proof, claim(n))
          const bit = bitSeed % (proof.length * 8)
          const bad = proof.slice()
          bad[bit >> 3]! ^= 0x80 >> (bit & 7)
          expect(() => verifyMapProof(root, k, bad, claim(n))).toThrow()
          // Another key's proof, claimed for this key with this key's value: refused, unless the two keys
          // share their proof (both absent in one empty subtree, or both beside one other leaf).
          const m = otherAsked === n ? otherAsked + 1 : otherAsked
          const theirs = map.prove(key(m))
          const same = Buffer.from(theirs).equals(Buffer.from(proof))
          if (!same) expect(() => verifyMapProof(root, k, theirs, claim(n))).toThrow()
          else expect(claim(n)).toBeUndefined()
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('map snapshots', () => {
  const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts))

  test('a loaded snapshot has the same root, lists and proofs, and goes on like the original', () => {
    fc.assert(
      fc.property(listsArb, (lists) => {
        const names = Object.keys(lists)
        const map = mapOf(lists, names)
        const loaded = VerifiableMap.fromSnapshot(concat(map.snapshot()))
        expect(loaded.size).toBe(map.size)
        expect(loaded.rootHash()).toEqual(map.rootHash())
        for (const name of names) expect(loaded.get(key(Number(name)))).toEqual(map.get(key(Number(name))))
        for (let n = 0; n < 2010; n += 97) expect(loaded.prove(key(n))).toEqual(map.prove(key(n)))
        // Both go on alike: appends to existing lists (their slots were laid out again) and new keys.
        for (const [i, name] of names.entries()) {
          map.add(key(Number(name)), 20_000 + i)
          loaded.add(key(Number(name)), 20_000 + i)
        }
        map.add(key(4000), 30_000)
        loaded.add(key(4000), 30_000)
        expect(loaded.rootHash()).toEqual(map.rootHash())
      }),
      { numRuns: 40 },
    )
    const empty = VerifiableMap.fromSnapshot(concat(new VerifiableMap().snapshot()))
    expect(empty.rootHash()).toEqual(EMPTY)
  })

  test('a snapshot that is not well formed is refused; a changed key shows in the root', () => {
    const map = new VerifiableMap()
    for (let n = 0; n < 300; n++) map.add(key(n), n)
    const bytes = concat(map.snapshot())
    expect(() => VerifiableMap.fromSnapshot(bytes.subarray(0, bytes.length - 1))).toThrow(RangeError)
    expect(() => VerifiableMap.fromSnapshot(concat([bytes, new Uint8Array(4)]))).toThrow(RangeError)
    expect(() => VerifiableMap.fromSnapshot(new Uint8Array(64))).toThrow(/not a map snapshot/)
    // A branch pointing at a node outside the map: the references are range-checked.
    const branchesAt = bytes.length - 3 * 4 * 299
    const outOfRange = new Uint8Array(bytes)
    new DataView(outOfRange.buffer).setInt32(branchesAt, 100_000, true)
    expect(() => VerifiableMap.fromSnapshot(outOfRange)).toThrow(RangeError)
    // A flipped bit in a key: still well formed, but the root differs.
    const flipped = new Uint8Array(bytes)
    flipped[32 + 5]! ^= 1
    expect(VerifiableMap.fromSnapshot(flipped).rootHash()).not.toEqual(map.rootHash())
  })
})

test('rootHashSteps gives rootHash, in steps, after a load and after more keys', () => {
  const map = new VerifiableMap()
  for (let n = 0; n < 3000; n++) map.add(key(n), n)
  const expected = map.rootHash()
  const loaded = VerifiableMap.fromSnapshot(new Uint8Array(Buffer.concat(map.snapshot())))
  const steps = loaded.rootHashSteps(100)
  let yields = 0
  let step = steps.next()
  for (; !step.done; step = steps.next()) yields++
  expect(step.value).toEqual(expected)
  expect(yields).toBeGreaterThan(50)
  for (let n = 3000; n < 3100; n++) {
    map.add(key(n), n)
    loaded.add(key(n), n)
  }
  const more = loaded.rootHashSteps(7)
  let last = more.next()
  while (!last.done) last = more.next()
  expect(last.value).toEqual(map.rootHash())
  expect(new VerifiableMap().rootHashSteps().next()).toEqual({ done: true, value: EMPTY })
})
