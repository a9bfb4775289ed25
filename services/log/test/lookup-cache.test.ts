import { describe, expect, it } from 'vitest'
import { LookupCache } from '../src/lookup-cache.js'

const body = (text: string) => Buffer.from(text)
const tree = (size: bigint, checkpoint = `note ${size}`) => ({ size, checkpoint })

describe('LookupCache', () => {
  it('answers only for the tree size the answer was computed for', () => {
    const cache = new LookupCache()
    cache.set('/api/v1/lookup?digest=a', tree(10n), body('ten'))
    expect(cache.get('/api/v1/lookup?digest=a', tree(10n))?.toString()).toBe('ten')
    expect(cache.get('/api/v1/lookup?digest=a', tree(11n))).toBeUndefined()
    expect(cache.get('/api/v1/lookup?digest=b', tree(10n))).toBeUndefined()
  })

  it('answers only while the checkpoint it carries is the one served (a re-cosigned note of the same size)', () => {
    const cache = new LookupCache()
    cache.set('u', tree(10n, 'note a'), body('a'))
    expect(cache.get('u', tree(10n, 'note a'))?.toString()).toBe('a')
    expect(cache.get('u', tree(10n, 'note b'))).toBeUndefined()
  })

  it('never replaces an answer for a newer tree with an older one', () => {
    const cache = new LookupCache()
    cache.set('u', tree(11n), body('eleven'))
    cache.set('u', tree(10n), body('ten'))
    expect(cache.get('u', tree(11n))?.toString()).toBe('eleven')
    cache.set('u', tree(12n), body('twelve'))
    expect(cache.get('u', tree(11n))).toBeUndefined()
    expect(cache.get('u', tree(12n))?.toString()).toBe('twelve')
  })

  it('stays within its bounds, least recently used out first, and keeps no oversized answer', () => {
    const cache = new LookupCache(2, 10, 6)
    cache.set('a', tree(1n), body('aaa'))
    cache.set('b', tree(1n), body('bbb'))
    cache.get('a', tree(1n))
    cache.set('c', tree(1n), body('ccc'))
    expect(cache.get('b', tree(1n))).toBeUndefined()
    expect(cache.get('a', tree(1n))).toBeDefined()
    cache.set('d', tree(1n), body('ddddddd'))
    expect(cache.get('d', tree(1n))).toBeUndefined()
    cache.set('e', tree(1n), body('eeeeee'))
    expect(cache.get('c', tree(1n))).toBeUndefined()
  })
})
