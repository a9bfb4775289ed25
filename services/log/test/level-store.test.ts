// LevelStore against the LogStore contract: atomic batches, state round trip, leaves, dedup rows, lookups
// (counts, key id filters merged across ranges, cursors, an older tree's view) from one snapshot, and the
// index counts read ahead by findEntries.
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
  return {
    index: BigInt(index),
    leaf: Uint8Array.of(65 + index),
    keyId: key(keyN),
    payloadHash: key(1000 + index),
    digests,
    commits,
  }
}

describe('LevelStore', () => {
  test('state encoding round-trips; the version-1 layout (entry bundles) is refused', () => {
    const s = state(300)
    expect(decodeState(encodeState(s))).toEqual(s)
    expect(encodeState(s)[0]).toBe(2)
    expect(() => decodeState(Uint8Array.of(9, 0, 0))).toThrow()
    const v1 = encodeState(s)
    v1[0] = 1
    expect(() => decodeState(v1)).toThrow(/older version/)
  })

  test('meta, state, tiles, leaves, dedup rows and the witnessed checkpoint persist across reopen', async () => {
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
      entries: [entry(0, 1, ['sha256:' + key(1)]), entry(1, 2, ['sha256:' + key(1)])],
    })
    expect(await store.readWitnessed()).toBeUndefined()
    await store.writeWitnessed(new TextEncoder().encode('witnessed\n'))
    await store.close()
    store = await LevelStore.open(dir.path)
    expect((await store.readMeta())?.origin).toBe('o/x')
    expect(await store.readState()).toEqual(state(2))
    expect(await store.readTile(0, 0n)).toEqual(Buffer.alloc(64, 5))
    expect(await store.readTile(0, 1n)).toBeUndefined()
    expect(await store.readLeaf(0n)).toEqual(Buffer.from([65]))
    expect(await store.readLeaf(1n)).toEqual(Buffer.from([66]))
    expect(await store.readLeaf(2n)).toBeUndefined()
    expect(await store.readLeaves(0n, 256)).toEqual([Buffer.from([65]), Buffer.from([66])])
    expect(await store.readLeaves(1n, 1)).toEqual([Buffer.from([66])])
    expect(await store.readLeaves(2n, 256)).toEqual([])
    expect(Buffer.from((await store.readWitnessed())!).toString()).toBe('witnessed\n')
    expect(
      await store.findEntries([
        { keyId: key(2), payloadHash: key(1001), digests: [], commits: [] },
        { keyId: key(1), payloadHash: key(1001), digests: [], commits: [] },
        { keyId: key(1), payloadHash: key(1000), digests: [], commits: [] },
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
      entries: [entry(4, 2, [d]), entry(5, 3, [d])],
    })
    const q = (over: object) =>
      store.lookup({ kind: 'digest', value: d, from: 0n, limit: 100, size: 6n, ...over })
    const all = await q({})
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
    const byCommit = await store.lookup({ kind: 'commit', value: c, from: 0n, limit: 1, size: 6n })
    expect(byCommit.total).toBe(2)
    expect(byCommit.matches.map((m) => Number(m.index))).toEqual([0])
    expect(byCommit.next).toBe(2n)
    expect(
      (await store.lookup({ kind: 'digest', value: 'sha256:' + key(77), from: 0n, limit: 5, size: 6n }))
        .total,
    ).toBe(0)
    // As of an older tree (a witnessed checkpoint behind the head): later entries neither match nor count.
    const older = await q({ size: 4n })
    expect(older.total).toBe(3)
    expect(older.matches.map((m) => Number(m.index))).toEqual([0, 1, 3])
    expect(older.next).toBeUndefined()
    const olderFiltered = await q({ size: 4n, keyIds: [key(2)] })
    expect(olderFiltered.total).toBe(3)
    expect(olderFiltered.matches.map((m) => Number(m.index))).toEqual([1])
    expect((await q({ size: 1n, from: 1n })).matches).toEqual([])
    expect((await store.lookup({ kind: 'commit', value: c, from: 0n, limit: 5, size: 2n })).total).toBe(1)
  })

  test('counts read ahead by findEntries are exact, also across commits and after a failed one', async () => {
    const d = 'sha256:' + key(0xd)
    const keys = (index: number, keyN: number) => ({ ...entry(index, keyN, [d], [key(0xc).slice(0, 40)]) })
    // Read ahead (counts unknown, 0), then committed: 1.
    expect(await store.findEntries([keys(0, 1)])).toEqual([undefined])
    await store.commit({ state: state(1), tiles: [], entries: [keys(0, 1)] })
    // A read ahead that runs during a commit touching the same count must not bring back the old value.
    const during = store.findEntries([keys(1, 2)])
    await store.commit({ state: state(2), tiles: [], entries: [keys(1, 2)] })
    expect(await during).toEqual([undefined])
    await store.commit({ state: state(3), tiles: [], entries: [keys(2, 3)] })
    const q = () => store.lookup({ kind: 'digest', value: d, from: 0n, limit: 10, size: 3n })
    expect((await q()).total).toBe(3)
    expect(await store.findEntries([keys(1, 2), keys(9, 9)])).toEqual([1n, undefined])

    // A commit that fails after its counts were computed: the next one counts from the disk again.
    const inner = (store as unknown as { db: { batch: () => unknown } }).db
    const realBatch = inner.batch.bind(inner)
    inner.batch = () => {
      const chained = realBatch() as { write: (o: object) => Promise<void> }
      chained.write = async () => {
        throw new Error('disk full')
      }
      return chained
    }
    await expect(store.commit({ state: state(4), tiles: [], entries: [keys(3, 4)] })).rejects.toThrow(
      'disk full',
    )
    inner.batch = realBatch
    await store.commit({ state: state(4), tiles: [], entries: [keys(3, 4)] })
    expect((await store.lookup({ kind: 'digest', value: d, from: 0n, limit: 10, size: 4n })).total).toBe(4)
    await store.close()
    store = await LevelStore.open(dir.path)
    expect((await store.lookup({ kind: 'digest', value: d, from: 0n, limit: 10, size: 4n })).total).toBe(4)
  })
  test('the key filter, filled from disk on open, spares the reads of new keys and misses no logged one', async () => {
    const d = 'sha256:' + key(0xd)
    const c = key(0xc).slice(-40)
    const logged = Array.from({ length: 300 }, (_, i) => entry(i, i % 7, [d], [c]))
    await store.commit({ state: state(300), tiles: [], entries: logged })
    await store.close()
    store = await LevelStore.open(dir.path)
    expect(await store.keyFilterFilled()).toBe(true)

    const inner = (store as unknown as { db: { getMany: (keys: string[]) => Promise<unknown[]> } }).db
    const realGetMany = inner.getMany.bind(inner)
    const read: string[] = []
    inner.getMany = (keys: string[]) => {
      read.push(...keys)
      return realGetMany(keys)
    }
    // New entries about a new digest and commit: nothing to read, nothing found.
    const fresh = Array.from({ length: 50 }, (_, i) =>
      entry(1000 + i, 9, ['sha256:' + key(0xe)], [key(0xf).slice(-40)]),
    )
    expect(await store.findEntries(fresh)).toEqual(fresh.map(() => undefined))
    expect(read).toEqual([])
    // Every logged entry is found (each is read: the filter has seen it).
    expect(await store.findEntries(logged)).toEqual(logged.map((e) => e.index))
    expect(read.filter((k) => k.startsWith('x/'))).toHaveLength(300)
    // The new digest's count was known to be 0 without a read; the logged digest's is read and added to.
    await store.commit({
      state: state(301),
      tiles: [],
      entries: [{ ...fresh[0]!, index: 300n, digests: [d, 'sha256:' + key(0xe)] }],
    })
    const total = async (value: string) =>
      (await store.lookup({ kind: 'digest', value, from: 0n, limit: 1, size: 301n })).total
    expect(await total(d)).toBe(301)
    expect(await total('sha256:' + key(0xe))).toBe(1)
    expect(read.some((k) => k === `n/d/sha256:${key(0xe)}`)).toBe(false)
    // And an entry committed since the reopen is found by the next read.
    expect(await store.findEntries([fresh[0]!])).toEqual([300n])
  })
})
