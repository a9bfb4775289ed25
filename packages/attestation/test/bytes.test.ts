import { describe, expect, it } from 'vitest'
import { decodeBase64 } from '../src/bytes.js'

// RFC 4648 §4 with padding, written as a grammar: the reference decodeBase64's round trip must agree with.
const CANONICAL_SHAPE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** True when the unused low bits of the last symbol before padding are zero (RFC 4648 §3.5). */
function paddingBitsZero(text: string): boolean {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  if (text.endsWith('==')) return (alphabet.indexOf(text[text.length - 3]!) & 0x0f) === 0
  if (text.endsWith('=')) return (alphabet.indexOf(text[text.length - 2]!) & 0x03) === 0
  return true
}

describe('decodeBase64 accepts exactly canonical standard base64', () => {
  const good = [
    '',
    'AA==',
    'AAA=',
    'AAAA',
    'YWJj',
    'YWI=',
    'YQ==',
    '+/+/',
    Buffer.alloc(1000, 7).toString('base64'),
  ]
  it.each(good)('accepts %j with the bytes Buffer decodes', (text) => {
    expect(decodeBase64(text)).toEqual(Buffer.from(text, 'base64'))
  })

  const bad = [
    'YQ', // padding missing
    'YQ=', // padding short
    'YR==', // padding bits set
    'YWJ=', // ditto, one pad
    'YW Jj', // a space
    'YWJj\n', // a line break
    '-_-_', // URL-safe alphabet
    'YWJj====', // too much padding
    'Y===',
    '=YWJ',
    'YWJj!',
    'é',
    'A',
  ]
  it.each(bad)('refuses %j', (text) => {
    expect(decodeBase64(text)).toBeUndefined()
  })

  it('agrees with the RFC grammar and the padding-bit rule on every string of up to 4 symbols from a small alphabet', () => {
    const symbols = ['A', 'B', 'Q', 'g', '/', '+', '=', '-', ' ']
    let strings = ['']
    let checked = 0
    for (let length = 1; length <= 4; length++) {
      strings = strings.flatMap((prefix) => symbols.map((c) => prefix + c))
      for (const text of strings) {
        const expected = CANONICAL_SHAPE.test(text) && paddingBitsZero(text)
        expect(decodeBase64(text) !== undefined, text).toBe(expected)
        checked++
      }
    }
    expect(checked).toBe(9 + 81 + 729 + 6561)
  })
})
