// toHashes with a memo of decoded texts (a batch page's shared proof nodes): the same hashes and the same
// errors as without it.
import { describe, expect, it } from 'vitest'
import type { Hash } from '@ledger/tlog'
import { toHashes } from '../src/wire.js'

const b64 = (fill: number, length = 32) => Buffer.alloc(length, fill).toString('base64')

function outcome(run: () => Hash[]) {
  try {
    return { hashes: run().map((h) => Buffer.from(h).toString('hex')) }
  } catch (err) {
    return { error: (err as Error).message, kind: (err as { evidence?: { kind?: string } }).evidence?.kind }
  }
}

describe('toHashes with a memo', () => {
  it('decodes each text once, with the same answers and errors as without it', () => {
    const decoded = new Map<string, Hash>()
    const lists: unknown[] = [
      [b64(1), b64(2), b64(1)],
      [b64(2), b64(3)],
      [b64(1), b64(4, 31)],
      [b64(1), b64(5).replace(/=$/, '')],
      [b64(1), 7],
      'not a list',
      Array.from({ length: 64 }, () => b64(1)),
    ]
    for (const list of lists) {
      expect(outcome(() => toHashes(list, 'proof', decoded))).toEqual(outcome(() => toHashes(list, 'proof')))
    }
    expect([...decoded.keys()].sort()).toEqual([b64(1), b64(2), b64(3)].sort())
    // One text, one hash object: shared by the lists that name it.
    const [first] = toHashes([b64(1)], 'proof', decoded)
    expect(first).toBe(decoded.get(b64(1)))
  })
})
