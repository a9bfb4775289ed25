// The sequencer and the tiles it writes, without HTTP: a tree past 65,536 entries (three tile levels),
// checked against an independent recomputation with @ledger/tlog, through a store that enforces the
// storage contract (full tiles never rewritten, partial ones only extended).
import {
  bytesEqual,
  decodeEntryBundle,
  bundlePrefixLength,
  entryBundlesForSize,
  generateNoteKey,
  hashLeaf,
  openCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  rootFromLeafHashes,
  tilesForSize,
  verifyConsistency,
  verifyInclusion,
  type Hash,
} from '@ledger/tlog'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { LogReader } from '../src/log-reader.js'
import { Sequencer } from '../src/sequencer.js'
import { ExpandedTile, TileCache } from '../src/tile-cache.js'
import type { DedupKey, IntegratedBatch } from '../src/store.js'
import { MemoryStore } from './memory-store.js'

const ORIGIN = 'sequencer.test/log'
const { signerKey, verifierKey } = generateNoteKey(ORIGIN, new Uint8Array(32).fill(7))
const signer = parseSignerKey(signerKey)

function leaf(i: number): Uint8Array {
  // Lengths vary (0..300 bytes) so that entry bundles have uneven offsets.
  const text = `leaf ${i} ` + 'x'.repeat((i * 37) % 300)
  return new TextEncoder().encode(text)
}

function entry(i: number) {
  return {
    leaf: leaf(i),
    keyId: (i % 5).toString(16).padStart(64, '0'),
    payloadHash: i.toString(16).padStart(64, '0'),
    digests: [`sha256:${(i % 97).toString(16).padStart(64, '0')}`],
    commits: [(i % 13).toString(16).padStart(40, '0')],
  }
}

async function open(store: MemoryStore, batchSize = 1000, batchWaitMs = 0, commitsInFlight = 1) {
  const tiles = new TileCache(store, 1 << 20)
  const sequencer = await Sequencer.open(store, tiles, signer, ORIGIN, {
    batchSize,
    batchWaitMs,
    commitsInFlight,
  })
  return { sequencer, reader: new LogReader(tiles) }
}

/**
 * Checks every stored tile and leaf of a tree of `size` against hashes recomputed from the leaves, and
 * every entry bundle as a fresh cache assembles it from the store.
 */
async function checkStoredTree(store: MemoryStore, size: number, leafHashes: readonly Hash[]): Promise<void> {
  expect(store.leaves.length).toBe(size)
  store.leaves.forEach((l, i) => expect(bytesEqual(l, leaf(i))).toBe(true))
  const fresh = new TileCache(store, 1 << 20)
  for (const bundle of entryBundlesForSize(BigInt(size))) {
    const assembled = (await fresh.entryBundle(bundle.index, bundle.width))!
    const leaves = decodeEntryBundle(
      assembled.subarray(0, bundlePrefixLength(assembled, bundle.width)),
      bundle.width,
    )
    leaves.forEach((l, i) => expect(bytesEqual(l, leaf(Number(bundle.index) * 256 + i))).toBe(true))
  }
  for (const tile of tilesForSize(BigInt(size))) {
    const stored = store.tiles.get(`${tile.level}/${tile.index}`)!
    expect(stored.length, `tile ${tile.level}/${tile.index}`).toBe(tile.width * 32)
    const span = 256 ** tile.level
    for (let i = 0; i < tile.width; i++) {
      const first = (Number(tile.index) * 256 + i) * span
      const expected = rootFromLeafHashes(leafHashes.slice(first, first + span))
      expect(bytesEqual(stored.subarray(i * 32, (i + 1) * 32), expected)).toBe(true)
    }
  }
  // Nothing beyond the tree.
  expect(store.tiles.size).toBe(tilesForSize(BigInt(size)).length)
}

describe('Sequencer', () => {
  test('an empty log commits the signed checkpoint of the empty tree', async () => {
    const store = new MemoryStore()
    const { sequencer } = await open(store)
    expect(sequencer.head.size).toBe(0n)
    const { checkpoint } = openCheckpoint(sequencer.head.checkpoint, parseVerifierKey(verifierKey))
    expect(checkpoint.size).toBe(0n)
    expect(bytesEqual(checkpoint.root, rootFromLeafHashes([]))).toBe(true)
    expect(store.commits).toBe(1)
  })

  test('three tile levels, restarts at tile boundaries, and proofs from tiles', async () => {
    const store = new MemoryStore()
    let { sequencer, reader } = await open(store)
    const leafHashes: Hash[] = []
    const roots = new Map<number, Hash>()
    const grow = async (to: number) => {
      const from = leafHashes.length
      const results = await Promise.all(
        Array.from({ length: to - from }, (_, k) => sequencer.append(entry(from + k))),
      )
      results.forEach((r, k) => expect(r.index).toBe(BigInt(from + k)))
      for (let i = from; i < to; i++) leafHashes.push(hashLeaf(leaf(i)))
      expect(sequencer.head.size).toBe(BigInt(to))
      const root = rootFromLeafHashes(leafHashes)
      roots.set(to, root)
      const { checkpoint } = openCheckpoint(sequencer.head.checkpoint, parseVerifierKey(verifierKey))
      expect(checkpoint.size).toBe(BigInt(to))
      expect(bytesEqual(checkpoint.root, root)).toBe(true)
    }
    // Sizes around tile boundaries, restarting (reloading the right edge from the store) in between.
    for (const size of [1, 255, 256, 257, 511, 4096, 65_535, 65_536, 65_537, 66_000]) {
      await grow(size)
      ;({ sequencer, reader } = await open(store, 1 + (size % 700)))
      expect(sequencer.head.size).toBe(BigInt(size))
    }
    await checkStoredTree(store, 66_000, leafHashes)
    expect(store.tiles.get('2/0')!.length).toBe(32)

    for (const [index, size] of [
      [0, 1],
      [254, 256],
      [255, 256],
      [256, 257],
      [300, 4096],
      [65_535, 65_536],
      [65_536, 65_537],
      [12_345, 66_000],
      [65_999, 66_000],
    ] as const) {
      const proof = await reader.inclusionProof(BigInt(index), BigInt(size))
      verifyInclusion(leafHashes[index]!, BigInt(index), BigInt(size), proof, roots.get(size)!)
      expect(bytesEqual(await reader.leaf(BigInt(index)), leaf(index))).toBe(true)
    }
    for (const [from, to] of [
      [1, 66_000],
      [255, 257],
      [256, 65_536],
      [4096, 65_537],
      [65_535, 66_000],
    ] as const) {
      const proof = await reader.consistencyProof(BigInt(from), BigInt(to))
      verifyConsistency(BigInt(from), BigInt(to), proof, roots.get(from)!, roots.get(to)!)
    }
  }, 120_000)

  test('inclusion proofs that reuse the path shared by a tile are every proof of every leaf', async () => {
    const store = new MemoryStore()
    const { sequencer, reader } = await open(store)
    const sizes = [1, 2, 255, 256, 257, 300, 511, 512, 513, 700, 767, 768, 769, 1024, 1300]
    const leafHashes = Array.from({ length: 1300 }, (_, i) => hashLeaf(leaf(i)))
    await Promise.all(leafHashes.map((_, i) => sequencer.append(entry(i))))
    const roots = new Map(sizes.map((size) => [size, rootFromLeafHashes(leafHashes.slice(0, size))]))
    let checked = 0
    const check = async (index: number, size: number) => {
      const proof = await reader.inclusionProof(BigInt(index), BigInt(size))
      verifyInclusion(leafHashes[index]!, BigInt(index), BigInt(size), proof, roots.get(size)!)
      checked++
    }
    // In order (one tile after another, as a batch's receipts come), then in an order that keeps
    // switching tree and tile, so that the shared part is taken for the wrong (size, tile) if it can be.
    for (const size of sizes) for (let index = 0; index < size; index++) await check(index, size)
    const pairs = sizes.flatMap((size) => Array.from({ length: size }, (_, index) => [index, size] as const))
    for (let k = 0; k < pairs.length; k++) {
      const [index, size] = pairs[(k * 7919) % pairs.length]!
      await check(index, size)
    }
    // All at once, as a batch's receipts ask: the first of each (tree, tile) computes the shared part while
    // the others wait for it; and all sizes at once, so that the shared part keeps changing under them.
    for (const size of sizes)
      await Promise.all(Array.from({ length: size }, (_, index) => check(index, size)))
    await Promise.all(pairs.map(([index, size]) => check(index, size)))
    expect(checked).toBe(4 * pairs.length)
  })

  test('a cache that did not write the tiles reads each from the store once when many ask at once', async () => {
    const store = new MemoryStore()
    const { sequencer } = await open(store)
    await Promise.all(Array.from({ length: 300 }, (_, i) => sequencer.append(entry(i))))
    // A process that does not sequence: its cache is empty and every tile comes from the store.
    let reads = 0
    const counting = Object.assign(Object.create(store) as MemoryStore, {
      readTile: (level: number, index: bigint) => {
        reads++
        return store.readTile(level, index)
      },
    })
    const reader = new LogReader(new TileCache(counting, 1 << 20))
    const proofs = await Promise.all(
      Array.from({ length: 300 }, (_, i) => reader.inclusionProof(BigInt(i), 300n)),
    )
    expect(proofs).toHaveLength(300)
    // Tiles 0/0 (full), 0/1 (partial) and 1/0: one read each, not one per receipt.
    expect(reads).toBe(3)
  })

  test('batches group: appends queued during a commit go into the next batch together', async () => {
    const store = new MemoryStore()
    const { sequencer } = await open(store, 100, 50)
    const before = store.commits
    await Promise.all(Array.from({ length: 250 }, (_, i) => sequencer.append(entry(i))))
    // 250 entries, at most 100 per batch: three commits, not 250.
    expect(store.commits - before).toBe(3)

    // With no wait, the first entry goes alone; those appended while it commits gather behind it.
    const gated = new GatedStore()
    const eager = await open(gated, 100, 0)
    const start = gated.commits
    gated.hold()
    const first = eager.sequencer.append(entry(0))
    await gated.waitForCommit()
    const rest = Array.from({ length: 249 }, (_, i) => eager.sequencer.append(entry(i + 1)))
    // Give the 249 time to be read and queued: they wait for the held commit, not for each other.
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(gated.commits - start).toBe(0)
    gated.release()
    await Promise.all([first, ...rest])
    // 1, then 100, 100 and 49: four commits for 250 entries.
    expect(gated.commits - start).toBe(4)
    expect(gated.sizes.slice(-4)).toEqual([1n, 101n, 201n, 250n])
  })
})

/** A MemoryStore whose commits can be held at a gate, to see what gathers behind a commit in flight. */
class GatedStore extends MemoryStore {
  readonly sizes: bigint[] = []
  private gate: Promise<void> | undefined
  private open: (() => void) | undefined
  private arrived: (() => void) | undefined

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve))
  }

  release(): void {
    this.open?.()
    this.gate = undefined
  }

  waitForCommit(): Promise<void> {
    return new Promise((resolve) => (this.arrived = resolve))
  }

  override async commit(batch: IntegratedBatch): Promise<void> {
    this.arrived?.()
    await this.gate
    await super.commit(batch)
    this.sizes.push(batch.state.size)
  }
}

describe('Sequencer dedup (one entry per key id and payload hash)', () => {
  test('against the log, within a batch, and after a restart', async () => {
    const store = new MemoryStore()
    let { sequencer } = await open(store, 100, 30)
    const first = await sequencer.append(entry(1))
    expect(first).toMatchObject({ index: 0n, existing: false })
    const commits = store.commits
    // The same key and payload hash with another leaf (another signature) is the logged entry.
    const again = await sequencer.append({ ...entry(1), leaf: leaf(999) })
    expect(again).toMatchObject({ index: 0n, existing: true })
    expect(store.commits).toBe(commits)
    // Twice in one batch: one entry.
    const [a, b, c] = await Promise.all([
      sequencer.append(entry(2)),
      sequencer.append(entry(3)),
      sequencer.append(entry(2)),
    ])
    expect(a).toMatchObject({ index: 1n, existing: false })
    expect(b).toMatchObject({ index: 2n, existing: false })
    expect(c).toMatchObject({ index: 1n, existing: true })
    expect(c!.head.size).toBe(3n)
    expect(sequencer.head.size).toBe(3n)
    ;({ sequencer } = await open(store))
    expect(await sequencer.append(entry(3))).toMatchObject({ index: 2n, existing: true })
    expect(sequencer.head.size).toBe(3n)
    // Same payload hash by another key is another entry.
    expect(await sequencer.append({ ...entry(3), keyId: 'f'.repeat(64) })).toMatchObject({
      index: 3n,
      existing: false,
    })
  })
})

describe('Sequencer dedup against batches that commit while an entry is being read', () => {
  test('a read that ran during the commit of the same entry: the logged entry, from memory', async () => {
    const gated = new GatedStore()
    const { sequencer } = await open(gated, 100, 0)
    gated.hold()
    const first = sequencer.append(entry(5))
    await gated.waitForCommit()
    // Read while the first commits: the store does not show it yet.
    const again = sequencer.append({ ...entry(5), leaf: leaf(555) })
    await new Promise((resolve) => setTimeout(resolve, 20))
    gated.release()
    expect(await first).toMatchObject({ index: 0n, existing: false })
    expect(await again).toMatchObject({ index: 0n, existing: true })
    expect(gated.leaves).toHaveLength(1)
  })

  test('a read older than the batches remembered is done again', async () => {
    const slow = new SlowReadStore()
    const { sequencer } = await open(slow, 1, 0)
    // This entry's read is held while 70 batches commit, one of them the same entry.
    slow.holdNextRead()
    const held = sequencer.append({ ...entry(7), leaf: leaf(777) })
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(await sequencer.append(entry(7))).toMatchObject({ index: 0n, existing: false })
    for (let i = 0; i < 70; i++) await sequencer.append(entry(100 + i))
    slow.releaseRead()
    expect(await held).toMatchObject({ index: 0n, existing: true })
    expect(slow.leaves).toHaveLength(71)
  })
})

/** A MemoryStore whose next dedup read can be held (it then answers from the state at its start). */
class SlowReadStore extends MemoryStore {
  private holding = false
  private release: (() => void) | undefined

  holdNextRead(): void {
    this.holding = true
  }

  releaseRead(): void {
    this.release?.()
  }

  override async findEntries(entries: readonly DedupKey[]): Promise<(bigint | undefined)[]> {
    const answer = await super.findEntries(entries)
    if (this.holding) {
      this.holding = false
      await new Promise<void>((resolve) => (this.release = resolve))
    }
    return answer
  }
}

/** Commits held one by one: each waits for its own release (or failure), in the order they were called. */
class CommitSteps {
  readonly called: bigint[] = []
  private readonly gates: { open: () => void; fail: (err: Error) => void }[] = []
  private waiting: { count: number; wake: () => void }[] = []

  /** Off until started: the commits of a log's opening pass. */
  private started = false

  start(): void {
    this.started = true
  }

  readonly hold = (batch: IntegratedBatch): Promise<void> => {
    if (!this.started) return Promise.resolve()
    this.called.push(batch.state.size)
    const gate = new Promise<void>((open, fail) => this.gates.push({ open, fail }))
    for (const w of this.waiting.filter((w) => this.called.length >= w.count)) w.wake()
    this.waiting = this.waiting.filter((w) => this.called.length < w.count)
    return gate
  }

  /** Resolves once `count` commits have been called. */
  calledAtLeast(count: number): Promise<void> {
    if (this.called.length >= count) return Promise.resolve()
    return new Promise((wake) => this.waiting.push({ count, wake }))
  }

  release(n: number): void {
    this.gates[n]!.open()
  }

  fail(n: number): void {
    this.gates[n]!.fail(new Error('a failure injected by the test'))
  }
}

/** Whether `promise` has settled, after the event loop has run what was ready. */
async function settledYet(promise: Promise<unknown>): Promise<boolean> {
  let settled = false
  promise.then(
    () => (settled = true),
    () => (settled = true),
  )
  await new Promise((resolve) => setTimeout(resolve, 20))
  return settled
}

/**
 * A log of batches of 10 with two commits in flight, over a store whose commits wait for the test: commit
 * n (from 0, counted after the log's opening) lands on `steps.release(n)`, fails on `steps.fail(n)`.
 */
async function openHeld() {
  const steps = new CommitSteps()
  const store = new MemoryStore({ holdCommit: steps.hold })
  const opened = await open(store, 10, 0, 2)
  steps.start()
  return { steps, store, ...opened }
}

describe('Sequencer with two commits in flight', () => {
  test('the next batch reaches the store while the one before commits; each is answered after its own', async () => {
    const { steps, store, sequencer, reader } = await openHeld()
    const first = sequencer.append(entry(0))
    await steps.calledAtLeast(1)
    const rest = Array.from({ length: 30 }, (_, i) => sequencer.append(entry(i + 1)))
    // The second batch is handed to the store while the first is held; a third waits for a free slot.
    await steps.calledAtLeast(2)
    expect(await settledYet(Promise.race(rest))).toBe(false)
    expect(steps.called).toEqual([1n, 11n])
    steps.release(0)
    expect(await first).toMatchObject({ index: 0n, existing: false })
    expect(store.leaves).toHaveLength(1)
    // The second batch has not landed: its entries are not answered yet.
    expect(await settledYet(rest[0]!)).toBe(false)
    for (let n = 1; n < 4; n++) {
      await steps.calledAtLeast(n + 1)
      steps.release(n)
    }
    const answers = await Promise.all(rest)
    expect(steps.called).toEqual([1n, 11n, 21n, 31n])
    answers.forEach((answer, i) => {
      expect(answer.index).toBe(BigInt(i + 1))
      expect(answer.head.size).toBeGreaterThan(answer.index)
    })
    // Every answer's checkpoint is one the store committed, and proves its entry.
    const leafHashes = Array.from({ length: 31 }, (_, i) => hashLeaf(leaf(i)))
    await checkStoredTree(store, 31, leafHashes)
    for (const answer of answers) {
      const proof = await reader.inclusionProof(answer.index, answer.head.size)
      const root = rootFromLeafHashes(leafHashes.slice(0, Number(answer.head.size)))
      expect(bytesEqual(answer.head.root, root)).toBe(true)
      verifyInclusion(leafHashes[Number(answer.index)]!, answer.index, answer.head.size, proof, root)
    }
  })

  test('a repeat of an entry in a batch still committing gets its index once that batch lands', async () => {
    const { steps, store, sequencer } = await openHeld()
    const first = sequencer.append(entry(0))
    await steps.calledAtLeast(1)
    const again = sequencer.append({ ...entry(0), leaf: leaf(500) })
    const other = sequencer.append(entry(1))
    await steps.calledAtLeast(2)
    steps.release(0)
    steps.release(1)
    expect(await first).toMatchObject({ index: 0n, existing: false })
    expect(await again).toMatchObject({ index: 0n, existing: true })
    expect(await other).toMatchObject({ index: 1n, existing: false })
    expect(store.leaves).toHaveLength(2)
  })

  test('a failed commit fails the batch in flight behind it; the log goes on from the committed tree', async () => {
    const { steps, store, sequencer } = await openHeld()
    const zero = sequencer.append(entry(0))
    await steps.calledAtLeast(1)
    steps.release(0)
    expect(await zero).toMatchObject({ index: 0n })
    const doomed = sequencer.append(entry(1))
    await steps.calledAtLeast(2)
    const behind = [sequencer.append(entry(2)), sequencer.append(entry(3))]
    await steps.calledAtLeast(3)
    steps.fail(1)
    steps.release(2)
    const results = await Promise.allSettled([doomed, ...behind])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(store.leaves).toHaveLength(1)
    // Sent again, the same entries land after the committed tree, as if the failure never happened.
    const retried = [1, 2, 3].map((i) => sequencer.append(entry(i)))
    for (let n = 3; n < 6; n++) {
      await steps.calledAtLeast(n + 1).then(() => steps.release(n))
      if ((await Promise.allSettled(retried)).every((r) => r.status === 'fulfilled')) break
    }
    expect((await Promise.all(retried)).map((r) => r.index)).toEqual([1n, 2n, 3n])
    await checkStoredTree(
      store,
      4,
      [0, 1, 2, 3].map((i) => hashLeaf(leaf(i))),
    )
  })
})

describe('Sequencer settling', () => {
  test('a commit listener that throws does not stop later batches from being answered', async () => {
    for (const commitsInFlight of [1, 2]) {
      const store = new MemoryStore()
      const { sequencer } = await open(store, 10, 0, commitsInFlight)
      let throws = true
      sequencer.onCommit(() => {
        if (throws) {
          throws = false
          throw new Error('a listener bug')
        }
      })
      expect(await sequencer.append(entry(0))).toMatchObject({ index: 0n })
      const later = await Promise.all([1, 2, 3].map((i) => sequencer.append(entry(i))))
      expect(later.map((r) => r.index)).toEqual([1n, 2n, 3n])
      expect(store.leaves).toHaveLength(4)
    }
  })
})

describe('ExpandedTile', () => {
  test('every complete node is the root of its hashes, also when grown from a narrower expansion', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 256 }), fc.integer({ min: 0, max: 256 }), (width, narrower) => {
        const hashes = Array.from({ length: width }, (_, i) => hashLeaf(Uint8Array.of(i, width)))
        const data = new Uint8Array(width * 32)
        hashes.forEach((h, i) => data.set(h, i * 32))
        const base = Math.min(narrower, width)
        const previous = base > 0 ? ExpandedTile.expand(data.slice(0, base * 32)) : undefined
        for (const tile of [ExpandedTile.expand(data), ExpandedTile.expand(data, previous)]) {
          for (let k = 0; k <= 8; k++) {
            const count = width >> k
            for (let o = 0; o < count; o++) {
              const expected = rootFromLeafHashes(hashes.slice(o << k, (o + 1) << k))
              expect(bytesEqual(tile.node(k, o)!, expected)).toBe(true)
            }
            expect(tile.node(k, count)).toBeUndefined()
          }
        }
      }),
      { numRuns: 60 },
    )
  })
})
