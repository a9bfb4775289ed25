import { describe, expect, it } from 'vitest'
import { LookupCache } from '../src/lookup-cache.js'

const body = (text: string) => Buffer.from(text)

describe('LookupCache', () => {
  it('answers only for the tree size the answer was computed for', () => {
    const cache = new LookupCache()
    cache.set('/api/v1/lookup?digest=a', 10n, body('ten'))
    expect(cache.get('/api/v1/lookup?digest=a', 10n)?.toString()).toBe('ten')
    expect(cache.get('/api/v1/lookup?digest=a', 11n)).toBeUndefined()
    expect(cache.get('/api/v1/lookup?digest=b', 10n)).toBeUndefined()
  })

  it('never replaces an answer for a newer tree with an older one', () => {
    const cache = new LookupCache()
    cache.set('u', 11n, body('eleven'))
    cache.set('u', 10n, body('ten'))
    expect(cache.get('u', 11n)?.toString()).toBe('eleven')
    cache.set('u', 12n, body('twelve'))
    expect(cache.get('u', 11n)).toBeUndefined()
    expect(cache.get('u', 12n)?.toString()).toBe('twelve')
  })

  it('stays within its bounds, least recently used out first, and keeps no oversized answer', () => {
    const cache = new LookupCache(2, 10, 6)
    cache.set('a', 1n, body('aaa'))
    cache.set('b', 1n, body('bbb'))
    cache.get('a', 1n)
    cache.set('c', 1n, body('ccc'))
    expect(cache.get('b', 1n)).toBeUndefined()
    expect(cache.get('a', 1n)).toBeDefined()
    cache.set('d', 1n, body('ddddddd'))
    expect(cache.get('d', 1n)).toBeUndefined()
    cache.set('e', 1n, body('eeeeee'))
    expect(cache.get('c', 1n)).toBeUndefined()
  })
})
