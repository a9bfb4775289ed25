import { randomBytes } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { KeyFilter } from '../src/key-filter.js'

// Keys shaped like the store's: a dedup row (two lowercase hex SHA-256) or a count (a digest).
const dedupKey = () => `x/${randomBytes(32).toString('hex')}/${randomBytes(32).toString('hex')}`

describe('KeyFilter', () => {
  test('never forgets a key it was given, across layers, and rarely claims one it was not', () => {
    const filter = new KeyFilter()
    const added = Array.from({ length: 400_000 }, dedupKey)
    for (const key of added) filter.add(key)
    expect(filter.size).toBe(400_000)
    // 400k keys fill the first layers (128k, 256k) and start a third.
    expect(filter.bytes).toBe(((1 << 17) + (1 << 18) + (1 << 19)) * 2)
    expect(added.every((key) => filter.mightContain(key))).toBe(true)
    const absent = Array.from({ length: 200_000 }, dedupKey)
    const falsePositives = absent.filter((key) => filter.mightContain(key)).length
    // 16 bits and 11 probes per key: about 5 in 10,000 per full layer, three layers.
    expect(falsePositives / absent.length).toBeLessThan(0.002)
  })

  test('keys that differ in one character, or only in length, are told apart', () => {
    const filter = new KeyFilter()
    const base = `n/d/sha256:${'ab'.repeat(32)}`
    filter.add(base)
    expect(filter.mightContain(base)).toBe(true)
    let claimed = 0
    for (let i = 0; i < base.length; i++) {
      for (const c of '0123456789abcdef/:') {
        if (c === base[i]) continue
        if (filter.mightContain(base.slice(0, i) + c + base.slice(i + 1))) claimed++
      }
    }
    expect(claimed).toBe(0)
    expect(filter.mightContain(base.slice(0, -1))).toBe(false)
    expect(filter.mightContain(base + '0')).toBe(false)
    expect(new KeyFilter().mightContain('')).toBe(false)
  })
})
