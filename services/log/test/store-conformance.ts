// THE conformance suite of the storage contract (LogStore and WitnessedStore in src/store.ts): one set of
// tests, run against every backend (store-contract.test.ts: the in-memory store, LevelDB, PostgreSQL).
// Only the public interface is used: a backend passes by meeting the contract, whatever its layout.
import {
  TreeEdge,
  bytesEqual,
  generateNoteKey,
  parseSignerKey,
  tilesForSize,
  type TileContent,
} from '@ledger/tlog'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { signCheckpoint } from '../src/log-tree.js'
import type { CommittedState, IndexedEntry, IntegratedBatch, LogBackend } from '../src/store.js'

/** Called by a backend before it makes a commit durable; a throw fails that commit, as a failing disk would. */
export type BeforeWrite = () => void

/** How the suite gets a backend: a fresh empty one, the same one reopened, and cleanup. */
export interface BackendFactory {
  /** A new, empty store (its own directory or database) that calls `beforeWrite` before each commit's write. */
  create(beforeWrite: BeforeWrite): Promise<LogBackend>
  /**
   * Closes `store` and opens the same storage again, as a restart does; undefined for a store that does not
   * outlive its process (the in-memory one).
   */
  reopen?(store: LogBackend, beforeWrite: BeforeWrite): Promise<LogBackend>
  /** Removes what create() made (after the store is closed). */
  cleanup(): Promise<void>
}

const ORIGIN = 'conformance.test/log'
const signer = parseSignerKey(generateNoteKey(ORIGIN, new Uint8Array(32).fill(3)).signerKey)
const hex = (n: number, width = 64) => n.toString(16).padStart(width, '0')

/** Builds batches the way the sequencer does: real leaves, tiles from TreeEdge, a signed checkpoint. */
export class BatchBuilder {
  edge = TreeEdge.empty()
  readonly leaves: Uint8Array[] = []

  next(
    entries: readonly Omit<IndexedEntry, 'index' | 'leaf'>[],
  ): IntegratedBatch & { bundles: TileContent[] } {
    const first = this.edge.size
    const indexed: IndexedEntry[] = entries.map((e, i) => {
      const index = first + BigInt(i)
      // Leaves of uneven lengths, so that bundles have uneven offsets.
      const leaf = new TextEncoder().encode(`leaf ${index} ${'x'.repeat(Number(index * 37n) % 300)}`)
      return { ...e, index, leaf }
    })
    const growth = this.edge.append(indexed)
    this.edge = growth.edge
    this.leaves.push(...indexed.map((e) => e.leaf))
    const state: CommittedState = {
      size: growth.edge.size,
      compactRange: growth.edge.compactRange().serialize(),
      checkpoint: new TextEncoder().encode(
        signCheckpoint(signer, ORIGIN, growth.edge.size, growth.edge.root()),
      ),
    }
    return { state, tiles: growth.tiles, entries: indexed, bundles: growth.bundles }
  }
}

/** An entry's index keys: key id `k`, payload `p`, digests and commits as given. */
function keys(k: number, p: number, digests: string[] = [], commits: string[] = []) {
  return { keyId: hex(k), payloadHash: hex(p), digests, commits }
}

const bytes = (data: Uint8Array | undefined) =>
  data === undefined ? undefined : Buffer.from(data).toString('hex')

/** Registers the conformance tests of one backend under `name`. */
export function describeStoreContract(name: string, factory: BackendFactory): void {
  describe(`storage contract: ${name}`, () => {
    let store: LogBackend
    // Commits to fail, from the next one on (each failed commit takes one).
    let failing = 0
    const beforeWrite = () => {
      if (failing > 0) {
        failing--
        throw new Error('a failure injected by the test')
      }
    }
    beforeEach(async () => {
      failing = 0
      store = await factory.create(beforeWrite)
    })
    afterEach(async () => {
      await store.close()
      await factory.cleanup()
    })
    const reopen = async () => {
      if (factory.reopen !== undefined) store = await factory.reopen(store, beforeWrite)
    }

    test('a new store holds nothing', async () => {
      expect(await store.readMeta()).toBeUndefined()
      expect(await store.readState()).toBeUndefined()
      expect(await store.readTile(0, 0n)).toBeUndefined()
      expect(await store.readLeaf(0n)).toBeUndefined()
      expect(await store.readLeaves(0n, 256)).toEqual([])
      expect(await store.findEntries([{ keyId: hex(1), payloadHash: hex(2) }])).toEqual([undefined])
      expect(await store.findEntries([])).toEqual([])
      const none = await store.lookup({
        kind: 'digest',
        value: `sha256:${hex(1)}`,
        from: 0n,
        limit: 10,
        size: 0n,
      })
      expect(none).toEqual({ total: 0, matches: [], next: undefined })
      expect(await store.readWitnessed()).toBeUndefined()
    })

    test('meta and the empty state persist', async () => {
      const meta = {
        origin: ORIGIN,
        verifierKey: `${ORIGIN}+01020304+AQ==`,
        createdAt: '2026-01-01T00:00:00.000Z',
      }
      await store.writeMeta(meta)
      const empty = new BatchBuilder().next([])
      await store.commit({ state: empty.state, tiles: [], entries: [] })
      await reopen()
      expect(await store.readMeta()).toEqual(meta)
      const state = await store.readState()
      expect(state?.size).toBe(0n)
      expect(bytes(state?.checkpoint)).toBe(bytes(empty.state.checkpoint))
      expect(bytes(state?.compactRange)).toBe(bytes(empty.state.compactRange))
    })

    test('batches over three tile boundaries: state, every tile and leaf, ranges of leaves', async () => {
      const builder = new BatchBuilder()
      // 1, 255, 1, 300, 700 entries: partial tiles grow, fill, and level-1 tiles start.
      for (const count of [1, 255, 1, 300, 700]) {
        const batch = builder.next(
          Array.from({ length: count }, (_, i) => keys(i % 3, Number(builder.edge.size) + i)),
        )
        await store.commit(batch)
        const state = await store.readState()
        expect(state?.size).toBe(batch.state.size)
        expect(bytes(state?.compactRange)).toBe(bytes(batch.state.compactRange))
        expect(bytes(state?.checkpoint)).toBe(bytes(batch.state.checkpoint))
      }
      await reopen()
      const size = builder.edge.size
      expect(size).toBe(1257n)
      // Every tile of the tree, at its final width, is what TreeEdge computed.
      const expected = new Map<string, Uint8Array>()
      const replay = new BatchBuilder()
      for (const count of [1, 255, 1, 300, 700]) {
        for (const tile of replay.next(Array.from({ length: count }, () => keys(0, 0))).tiles) {
          expected.set(`${tile.level}/${tile.index}`, tile.data)
        }
      }
      for (const tile of tilesForSize(size)) {
        const stored = await store.readTile(tile.level, tile.index)
        expect(stored?.length, `tile ${tile.level}/${tile.index}`).toBe(tile.width * 32)
        expect(bytes(stored)).toBe(bytes(expected.get(`${tile.level}/${tile.index}`)))
      }
      expect(await store.readTile(0, 5n)).toBeUndefined()
      expect(await store.readTile(2, 0n)).toBeUndefined()
      for (const i of [0, 1, 255, 256, 1000, 1256]) {
        expect(bytes(await store.readLeaf(BigInt(i)))).toBe(bytes(builder.leaves[i]))
      }
      expect(await store.readLeaf(1257n)).toBeUndefined()
      // Many reads at once (a backend may read them together): each answer is its own leaf, or none.
      const asked = [...Array.from({ length: 1300 }, (_, i) => 1299 - i), 0, 7, 7, 1257, 99_999]
      const together = await Promise.all(asked.map((i) => store.readLeaf(BigInt(i))))
      expect(together.map(bytes)).toEqual(asked.map((i) => bytes(builder.leaves[i])))
      const bundle = await store.readLeaves(256n, 256)
      expect(bundle.map(bytes)).toEqual(builder.leaves.slice(256, 512).map(bytes))
      const edge = await store.readLeaves(1024n, 256)
      expect(edge.map(bytes)).toEqual(builder.leaves.slice(1024).map(bytes))
      expect(await store.readLeaves(1257n, 10)).toEqual([])
      expect((await store.readLeaves(1250n, 0)).length).toBe(0)
    })

    test('a partial tile is replaced by the content that extends it, and reads see the widest', async () => {
      const builder = new BatchBuilder()
      await store.commit(builder.next([keys(1, 1)]))
      expect((await store.readTile(0, 0n))?.length).toBe(32)
      const grown = builder.next([keys(1, 2), keys(1, 3)])
      await store.commit(grown)
      const stored = await store.readTile(0, 0n)
      expect(stored?.length).toBe(96)
      expect(bytesEqual(stored!, grown.tiles.find((t) => t.level === 0)!.data)).toBe(true)
    })

    test('dedup: each committed (key id, payload hash) gives its index, in the order asked', async () => {
      const builder = new BatchBuilder()
      await store.commit(builder.next([keys(1, 10), keys(2, 10), keys(1, 11)]))
      await store.commit(builder.next([keys(3, 12)]))
      await reopen()
      const asked = [
        { keyId: hex(2), payloadHash: hex(10) },
        { keyId: hex(2), payloadHash: hex(11) },
        { keyId: hex(1), payloadHash: hex(10) },
        { keyId: hex(3), payloadHash: hex(12) },
        { keyId: hex(1), payloadHash: hex(10) },
      ]
      expect(await store.findEntries(asked)).toEqual([1n, undefined, 0n, 3n, 0n])
    })

    test('lookups: totals ignore filters, repeats count once, key id filters merge, cursors continue', async () => {
      const d = `sha256:${hex(0xd)}`
      const d512 = `sha512:${hex(0xd, 128)}`
      const c = hex(0xc, 40)
      const builder = new BatchBuilder()
      await store.commit(
        builder.next([
          keys(1, 0, [d, d512], [c]),
          keys(2, 1, [d, d]),
          keys(3, 2, [`sha256:${hex(9)}`], [c, c]),
          keys(1, 3, [d]),
        ]),
      )
      await store.commit(builder.next([keys(2, 4, [d]), keys(3, 5, [d])]))
      await reopen()
      const q = (over: object) =>
        store.lookup({ kind: 'digest', value: d, from: 0n, limit: 100, size: 6n, ...over })
      const all = await q({})
      expect(all.total).toBe(5)
      expect(all.matches.map((m) => Number(m.index))).toEqual([0, 1, 3, 4, 5])
      expect(all.matches.map((m) => m.keyId)).toEqual([hex(1), hex(2), hex(1), hex(2), hex(3)])
      expect(all.next).toBeUndefined()
      const page = await q({ limit: 2, from: 1n })
      expect(page.matches.map((m) => Number(m.index))).toEqual([1, 3])
      expect(page.next).toBe(4n)
      const filtered = await q({ keyIds: [hex(2), hex(1)], limit: 3 })
      expect(filtered.total).toBe(5)
      expect(filtered.matches.map((m) => Number(m.index))).toEqual([0, 1, 3])
      expect(filtered.next).toBe(4n)
      expect((await q({ keyIds: [hex(3)], from: 5n })).matches.map((m) => Number(m.index))).toEqual([5])
      expect((await q({ keyIds: [hex(3), hex(3)] })).matches.map((m) => Number(m.index))).toEqual([5])
      // Another algorithm is another value.
      const other = await store.lookup({ kind: 'digest', value: d512, from: 0n, limit: 10, size: 6n })
      expect(other.total).toBe(1)
      expect(other.matches).toEqual([{ index: 0n, keyId: hex(1) }])
      const byCommit = await store.lookup({ kind: 'commit', value: c, from: 0n, limit: 1, size: 6n })
      expect(byCommit.total).toBe(2)
      expect(byCommit.matches.map((m) => Number(m.index))).toEqual([0])
      expect(byCommit.next).toBe(2n)
      // A digest is not a commit.
      expect((await store.lookup({ kind: 'commit', value: d, from: 0n, limit: 5, size: 6n })).total).toBe(0)
      expect(
        (await store.lookup({ kind: 'digest', value: `sha256:${hex(77)}`, from: 0n, limit: 5, size: 6n }))
          .total,
      ).toBe(0)
      // As of an older tree: later entries neither match nor count.
      const older = await q({ size: 4n })
      expect(older.total).toBe(3)
      expect(older.matches.map((m) => Number(m.index))).toEqual([0, 1, 3])
      expect(older.next).toBeUndefined()
      const olderFiltered = await q({ size: 4n, keyIds: [hex(2)] })
      expect(olderFiltered.total).toBe(3)
      expect(olderFiltered.matches.map((m) => Number(m.index))).toEqual([1])
      expect((await q({ size: 1n, from: 1n })).matches).toEqual([])
      expect((await q({ from: 6n })).matches).toEqual([])
      expect((await store.lookup({ kind: 'commit', value: c, from: 0n, limit: 5, size: 2n })).total).toBe(1)
    })

    test('lookups as of an older tree: rows past it, few or many, neither match nor count', async () => {
      const d = `sha256:${hex(0xe1)}`
      const builder = new BatchBuilder()
      // Entries 0-9 name d, then 60 more do (a tree of 10 asked about long after).
      await store.commit(builder.next(Array.from({ length: 10 }, (_, i) => keys(1 + (i % 2), i, [d]))))
      await store.commit(builder.next(Array.from({ length: 60 }, (_, i) => keys(3, 100 + i, [d]))))
      await reopen()
      for (const limit of [1, 3, 9, 10, 11, 50, 1000]) {
        for (const from of [0n, 4n, 9n]) {
          const result = await store.lookup({ kind: 'digest', value: d, from, limit, size: 10n })
          const expected = Array.from({ length: 10 - Number(from) }, (_, i) => Number(from) + i)
          expect(result.total).toBe(10)
          expect(result.matches.map((m) => Number(m.index))).toEqual(expected.slice(0, limit))
          expect(result.next).toBe(expected.length > limit ? BigInt(expected[limit]!) : undefined)
        }
      }
      // A few rows past the tree, with every limit.
      for (const limit of [1, 5, 1000]) {
        const result = await store.lookup({ kind: 'digest', value: d, from: 0n, limit, size: 65n })
        expect(result.total).toBe(65)
        expect(result.matches.length).toBe(Math.min(limit, 65))
      }
      const whole = await store.lookup({ kind: 'digest', value: d, from: 0n, limit: 1000, size: 70n })
      expect(whole.total).toBe(70)
      expect(whole.matches.length).toBe(70)
      expect((await store.lookup({ kind: 'digest', value: d, from: 12n, limit: 5, size: 10n })).total).toBe(
        10,
      )
    })

    test('a read during a commit sees the batch whole or not at all; after it, always', async () => {
      const d = `sha256:${hex(0xabc)}`
      const builder = new BatchBuilder()
      await store.commit(builder.next([keys(1, 1, [d])]))
      const batch = builder.next(Array.from({ length: 200 }, (_, i) => keys(2, 100 + i, [d])))
      let settled = false
      const commit = store.commit(batch).finally(() => {
        settled = true
      })
      do {
        const [result, state] = await Promise.all([
          store.lookup({ kind: 'digest', value: d, from: 0n, limit: 1000, size: 201n }),
          store.readState(),
        ])
        // One lookup is one view: its total and its matches agree, and they are one batch or the other.
        expect(result.matches.length).toBe(result.total)
        expect([1, 201]).toContain(result.total)
        expect([1n, 201n]).toContain(state!.size)
        // Yield to the event loop's other phases: a store may finish its commit in any of them.
        await new Promise((resolve) => setImmediate(resolve))
      } while (!settled)
      await commit
      const after = await store.lookup({ kind: 'digest', value: d, from: 0n, limit: 1000, size: 201n })
      expect(after.total).toBe(201)
      expect((await store.readState())?.size).toBe(201n)
      expect(await store.findEntries([{ keyId: hex(2), payloadHash: hex(299) }])).toEqual([200n])
    })

    test('overlapping commits land in call order, and reads see each whole', async () => {
      const d = `sha256:${hex(0xd1)}`
      const builder = new BatchBuilder()
      await store.commit(builder.next([keys(1, 1, [d])]))
      const batches = [1, 2, 3].map((b) =>
        builder.next(Array.from({ length: 100 }, (_, i) => keys(b, 1000 * b + i, [d], [hex(b, 40)]))),
      )
      // All three called before the first settles, as a sequencer with commits in flight calls them.
      const commits = batches.map((batch) => store.commit(batch))
      const sizes = new Set<bigint>()
      let settled = false
      const all = Promise.all(commits).finally(() => (settled = true))
      do {
        const result = await store.lookup({ kind: 'digest', value: d, from: 0n, limit: 1000, size: 301n })
        expect([1, 101, 201, 301]).toContain(result.total)
        expect(result.matches.length).toBe(result.total)
        sizes.add((await store.readState())!.size)
        await new Promise((resolve) => setImmediate(resolve))
      } while (!settled)
      await all
      for (const size of sizes) expect([1n, 101n, 201n, 301n]).toContain(size)
      expect((await store.readState())?.size).toBe(301n)
      expect((await store.readLeaves(0n, 400)).length).toBe(301)
      for (const b of [1, 2, 3]) {
        const byCommit = await store.lookup({
          kind: 'commit',
          value: hex(b, 40),
          from: 0n,
          limit: 5,
          size: 301n,
        })
        expect(byCommit.total).toBe(100)
        expect(byCommit.matches[0]!.index).toBe(BigInt(1 + (b - 1) * 100))
      }
      expect(await store.findEntries([{ keyId: hex(3), payloadHash: hex(3099) }])).toEqual([300n])
    })

    test('counts stay exact as of every tree when commits of one value overlap, round after round', async () => {
      const d = `sha256:${hex(0xd3)}`
      const builder = new BatchBuilder()
      const sizes: bigint[] = []
      let payload = 0
      for (let round = 0; round < 12; round++) {
        // Three batches in flight at once, each naming d on some of its entries (and one not at all).
        const batches = [20, 0, 7].map((named) =>
          builder.next(
            Array.from({ length: 10 + named }, (_, i) => keys(1 + (i % 3), payload++, i < named ? [d] : [])),
          ),
        )
        await Promise.all(batches.map((batch) => store.commit(batch)))
        sizes.push(...batches.map((b) => b.state.size))
      }
      // Entry k names d when it is among the first `named` of its batch: count them up to each size.
      const named: number[] = []
      for (let round = 0; round < 12; round++)
        for (const n of [20, 0, 7]) for (let i = 0; i < 10 + n; i++) named.push(i < n ? 1 : 0)
      for (const size of sizes) {
        const expected = named.slice(0, Number(size)).reduce((a, b) => a + b, 0)
        const result = await store.lookup({ kind: 'digest', value: d, from: 0n, limit: 1000, size })
        expect(result.total, `size ${size}`).toBe(expected)
        expect(result.matches.length).toBe(expected)
      }
    })

    test('a commit called while an earlier one was in flight writes nothing when that one fails', async () => {
      const d = `sha256:${hex(0xd2)}`
      const builder = new BatchBuilder()
      await store.commit(builder.next([keys(1, 1, [d])]))
      const failed = builder.next([keys(2, 2, [d])])
      const after = builder.next([keys(3, 3, [d])])
      failing = 1
      const results = await Promise.allSettled([store.commit(failed), store.commit(after)])
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected'])
      expect((await store.readState())?.size).toBe(1n)
      expect(await store.readLeaf(1n)).toBeUndefined()
      expect(await store.readLeaf(2n)).toBeUndefined()
      expect(await store.findEntries([{ keyId: hex(3), payloadHash: hex(3) }])).toEqual([undefined])
      expect((await store.lookup({ kind: 'digest', value: d, from: 0n, limit: 5, size: 3n })).total).toBe(1)
      // The writer starts again from the committed state: the same batches, rebuilt, land.
      const again = new BatchBuilder()
      again.next([keys(1, 1, [d])])
      await store.commit(again.next([keys(2, 2, [d])]))
      await store.commit(again.next([keys(3, 3, [d])]))
      expect((await store.lookup({ kind: 'digest', value: d, from: 0n, limit: 5, size: 3n })).total).toBe(3)
      expect(await store.findEntries([{ keyId: hex(3), payloadHash: hex(3) }])).toEqual([2n])
    })

    test('the witnessed checkpoint is replaced and persists', async () => {
      await store.writeWitnessed(new TextEncoder().encode('first\n'))
      await store.writeWitnessed(new TextEncoder().encode('second\n'))
      await reopen()
      expect(Buffer.from((await store.readWitnessed())!).toString()).toBe('second\n')
    })
  })
}
