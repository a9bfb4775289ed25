// What is LevelDB's own beyond the storage contract (store-contract.test.ts checks that): the state
// encoding, the count cache across a failed write, and the key filter that spares reads.
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

  test('counts stay exact across commits, and after a commit that failed to write', async () => {
    const d = 'sha256:' + key(0xd)
    const keys = (index: number, keyN: number) => entry(index, keyN, [d], [key(0xc).slice(0, 40)])
    await store.close()
    let failing = false
    store = await LevelStore.open(dir.path, {
      beforeWrite: () => {
        if (failing) throw new Error('disk full')
      },
    })
    await store.commit({ state: state(1), tiles: [], entries: [keys(0, 1)] })
    await store.commit({ state: state(2), tiles: [], entries: [keys(1, 2)] })
    await store.commit({ state: state(3), tiles: [], entries: [keys(2, 3)] })
    const q = (size: number) =>
      store.lookup({ kind: 'digest', value: d, from: 0n, limit: 10, size: BigInt(size) })
    expect((await q(3)).total).toBe(3)
    // A commit that fails after its counts were computed: the next one counts from the disk again.
    failing = true
    await expect(store.commit({ state: state(4), tiles: [], entries: [keys(3, 4)] })).rejects.toThrow(
      'disk full',
    )
    failing = false
    expect((await store.readState())?.size).toBe(3n)
    await store.commit({ state: state(4), tiles: [], entries: [keys(3, 4)] })
    expect((await q(4)).total).toBe(4)
    await store.close()
    store = await LevelStore.open(dir.path)
    expect((await q(4)).total).toBe(4)
  })

  test('the key filter, filled from disk on open, spares the reads of new keys and misses no logged one', async () => {
    const d = 'sha256:' + key(0xd)
    const c = key(0xc).slice(-40)
    const logged = Array.from({ length: 300 }, (_, i) => entry(i, i % 7, [d], [c]))
    await store.commit({ state: state(300), tiles: [], entries: logged })
    await store.close()
    store = await LevelStore.open(dir.path)
    expect(await store.keyFilterFilled()).toBe(true)

    await store.close()
    const read: string[] = []
    store = await LevelStore.open(dir.path, { onRead: (keys) => read.push(...keys) })
    expect(await store.keyFilterFilled()).toBe(true)
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
