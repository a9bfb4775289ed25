import { describe, expect, it } from 'vitest'
import { logRoute } from '../src/operations.js'

describe('route templates', () => {
  it('names every route by its template, never by what the client sent', () => {
    expect(logRoute('GET', '/tile/0/x001/234')).toBe('/tile/:level/:n')
    expect(logRoute('GET', '/tile/entries/000.p/3')).toBe('/tile/entries/:n')
    expect(logRoute('GET', '/index/checkpoint')).toBe('/index/checkpoint')
    expect(logRoute('GET', '/index/tile/1/000')).toBe('/index/tile/:level/:n')
    expect(logRoute('GET', '/api/v1/entries/12')).toBe('/api/v1/entries/:index')
    expect(logRoute('POST', '/api/v1/entries')).toBe('/api/v1/entries')
    expect(logRoute('GET', '/api/v1/entries')).toBe('unmatched')
    expect(logRoute('GET', '/ui/digest/sha256:<script>')).toBe('/ui/digest/:digest')
    expect(logRoute('GET', '/anything/else')).toBe('unmatched')
  })
})
