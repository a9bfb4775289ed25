// LevelStore against the LogStore contract: atomic batches, state round trip, dedup rows, and lookups
// (counts, key id filters merged across ranges, cursors) from one snapshot.
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { LevelStore, decodeState, encodeState } from '../src/level-store.js'
import type { IndexedEntry } from '../src/store.js'
import { tempDir } from './helpers.js'

let dir: { path: string; remove: () => Promise<void> }
let store: LevelStore

beforeEach(async () => {
  dir = await tempDir()
  store = await LevelStore.open(dir.path)
})

afterEach(async () => {
  await store.close()
  await dir.remove()
})

const key = (n: number) => n.toString(16).padStart(64, '0')
const state = (size: number) => ({
  size: BigInt(size),
  compactRange: Uint8Array.of(1, 2, 3, size & 0xff),
  checkpoint: new TextEncoder().encode(`checkpoint ${size}\n`),
})

function entry(index: number, keyN: number, digests: string[], commits: string[] = []): IndexedEntry {
  return { index: BigInt(index), keyId: key(keyN), payloadHash: key(1000 + index), digests, commits }
}

describe('LevelStore', () => {
  test('state encoding round-trips', () => {
    const s = state(300)
    expect(decodeState(encodeState(s))).toEqual(s)
    expect(() => decodeState(Uint8Array.of(9, 0, 0))).toThrow()
  })

  test('meta, state, tiles, bundles and dedup rows persist across reopen', async () => {
    expect(await store.readMeta()).toBeUndefined()
    expect(await store.readState()).toBeUndefined()
    await store.writeMeta({
      origin: 'o/x',
      verifierKey: 'o/x+00000000+AQ==',
      createdAt: '2026-01-01T00:00:00.000Z',
    })
    await store.commit({
      state: state(2),
      tiles: [{ level: 0, index: 0n, data: new Uint8Array(64).fill(5) }],
      bundles: [{ level: 0, index: 0n, data: Uint8Array.of(0, 1, 65, 0, 1, 66) }],
      entries: [entry(0, 1, ['sha256:' + key(1)]), entry(1, 2, ['sha256:' + key(1)])],
    })
    await store.close()
    store = await LevelStore.open(dir.path)
    expect((await store.readMeta())?.origin).toBe('o/x')
    expect(await store.readState()).toEqual(state(2))
    expect(await store.readTile(0, 0n)).toEqual(Buffer.alloc(64, 5))
    expect(await store.readTile(0, 1n)).toBeUndefined()
    expect(await store.readEntryBundle(0n)).toEqual(Buffer.from([0, 1, 65, 0, 1, 66]))
    expect(
      await store.findEntries([
        { keyId: key(2), payloadHash: key(1001) },
        { keyId: key(1), payloadHash: key(1001) },
        { keyId: key(1), payloadHash: key(1000) },
      ]),
    ).toEqual([1n, undefined, 0n])
    expect(await store.findEntries([])).toEqual([])
  })

  test('lookups: total ignores filters; key id ranges merge in index order; cursors continue', async () => {
    const d = 'sha256:' + key(0xd)
    const c = key(0xc).slice(0, 40)
    await store.commit({
      state: state(4),
      tiles: [],
      bundles: [],
      entries: [
        entry(0, 1, [d], [c]),
        entry(1, 2, [d, d]),
        entry(2, 3, ['sha256:' + key(9)], [c]),
        entry(3, 1, [d]),
      ],
    })
    await store.commit({
      state: state(6),
      tiles: [],
      bundles: [],
      entries: [entry(4, 2, [d]), entry(5, 3, [d])],
    })
    const q = (over: object) => store.lookup({ kind: 'digest', value: d, from: 0n, limit: 100, ...over })
    const all = await q({})
    expect(all.state.size).toBe(6n)
    expect(all.total).toBe(5)
    expect(all.matches.map((m) => Number(m.index))).toEqual([0, 1, 3, 4, 5])
    expect(all.matches.map((m) => m.keyId)).toEqual([key(1), key(2), key(1), key(2), key(3)])
    expect(all.next).toBeUndefined()
    const page = await q({ limit: 2, from: 1n })
    expect(page.matches.map((m) => Number(m.index))).toEqual([1, 3])
    expect(page.next).toBe(4n)
    const filtered = await q({ keyIds: [key(2), key(1)], limit: 3 })
    expect(filtered.total).toBe(5)
    expect(filtered.matches.map((m) => Number(m.index))).toEqual([0, 1, 3])
    expect(filtered.next).toBe(4n)
    expect((await q({ keyIds: [key(3)], from: 5n })).matches.map((m) => Number(m.index))).toEqual([5])
    const byCommit = await store.lookup({ kind: 'commit', value: c, from: 0n, limit: 1 })
    expect(byCommit.total).toBe(2)
    expect(byCommit.matches.map((m) => Number(m.index))).toEqual([0])
    expect(byCommit.next).toBe(2n)
    expect(
      (await store.lookup({ kind: 'digest', value: 'sha256:' + key(77), from: 0n, limit: 5 })).total,
    ).toBe(0)
  })
})
