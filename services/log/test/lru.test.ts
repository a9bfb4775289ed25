import { describe, expect, test } from 'vitest'
import { ByteLRU } from '../src/lru.js'

describe('ByteLRU', () => {
  test('evicts least recently used values to stay within its byte budget', () => {
    const lru = new ByteLRU<Uint8Array>(10)
    lru.set('a', new Uint8Array(4))
    lru.set('b', new Uint8Array(4))
    expect(lru.get('a')?.length).toBe(4)
    lru.set('c', new Uint8Array(4))
    expect(lru.get('b')).toBeUndefined()
    expect(lru.get('a')).toBeDefined()
    expect(lru.get('c')).toBeDefined()
    expect(lru.totalBytes).toBe(8)
    lru.set('a', new Uint8Array(6))
    expect(lru.totalBytes).toBe(10)
    lru.set('huge', new Uint8Array(11))
    expect(lru.get('huge')).toBeUndefined()
    lru.delete('a')
    expect(lru.size).toBe(1)
    expect(lru.totalBytes).toBe(4)
  })
})
