// The verifiable index's builder over real sequencers (in-memory stores): it follows the log's commits,
// each output leaf states the log's size and root and the map of exactly those entries; a restart rebuilds
// the map from the log's leaves and checks it against the last output leaf; an output log that does not
// describe the log is refused.
import { sign } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  buildStatement,
  canonicalJSON,
  dssePAE,
  encodeLogEntry,
  generateKeyPair,
  IN_TOTO_PAYLOAD_TYPE,
  privateKeyFromPEM,
} from '@ledger/attestation'
import { generateNoteKey, hashLeaf, parseSignerKey, sha256, toHex } from '@ledger/tlog'
import {
  decodeOutputLeaf,
  mapFn,
  mapKey,
  valueHash,
  VerifiableMap,
  verifyMapProof,
  type MapFnInput,
} from '@ledger/vindex'
import { describe, expect, test } from 'vitest'
import { IndexBuilder, loggedLeafMapInput } from '../src/index-builder.js'
import { indexedEntryOf } from '../src/migrate.js'
import { Sequencer } from '../src/sequencer.js'
import { TileCache } from '../src/tile-cache.js'
import { MemoryStore } from './memory-store.js'

const ORIGIN = 'index-builder.test/log'
const signer = parseSignerKey(generateNoteKey(ORIGIN, new Uint8Array(32).fill(3)).signerKey)
const indexSigner = parseSignerKey(generateNoteKey(`${ORIGIN}/index`, new Uint8Array(32).fill(4)).signerKey)

function input(i: number): MapFnInput {
  return {
    keyId: toHex(sha256(new Uint8Array([i % 4]))),
    digests: [
      `sha256:${toHex(sha256(new Uint8Array([i % 50, 1])))}`,
      `sha512:${'ab'.repeat(32)}${i % 7}`.padEnd(135, '0'),
    ],
    commits: [toHex(sha256(new Uint8Array([i % 9, 2]))).slice(0, 40)],
  }
}

/** The leaf carries its MapFn input as JSON, so that a rebuild can read it back (entryOf below). */
function entry(i: number) {
  const fields = input(i)
  const leaf = new TextEncoder().encode(JSON.stringify({ i, ...fields }))
  return { leaf, leafHash: hashLeaf(leaf), payloadHash: toHex(sha256(leaf)), ...fields }
}
const entryOf = (_index: bigint, leaf: Uint8Array) => JSON.parse(new TextDecoder().decode(leaf)) as MapFnInput

async function openLog(store: MemoryStore, key = signer, origin = ORIGIN) {
  return Sequencer.open(store, new TileCache(store, 1 << 20), key, origin, { batchSize: 50, batchWaitMs: 0 })
}

async function openIndex(
  logStore: MemoryStore,
  log: Sequencer,
  outputStore: MemoryStore,
  more: Partial<Parameters<typeof IndexBuilder.open>[0]> = {},
) {
  const output = await openLog(outputStore, indexSigner, `${ORIGIN}/index`)
  const builder = await IndexBuilder.open({
    input: logStore,
    inputHead: log.head,
    output: outputStore,
    sequencer: output,
    entryOf,
    ...more,
  })
  log.onCommit((head, batch) => builder.onCommit(head, batch))
  return { builder, output }
}

function expectedMap(count: number): VerifiableMap {
  const map = new VerifiableMap()
  for (let i = 0; i < count; i++) map.addEntry(i, input(i))
  return map
}

describe('IndexBuilder', () => {
  test('each output leaf states the log size and root and the map of exactly those entries', async () => {
    const logStore = new MemoryStore()
    const outputStore = new MemoryStore()
    const log = await openLog(logStore)
    const { builder, output } = await openIndex(logStore, log, outputStore)
    // The empty log's leaf first.
    expect(decodeOutputLeaf(outputStore.leaves[0]!).inputSize).toBe(0n)
    for (let round = 0; round < 4; round++) {
      await Promise.all(Array.from({ length: 120 }, (_, k) => log.append(entry(round * 120 + k))))
    }
    await builder.settled()
    await output.drain()
    const last = decodeOutputLeaf(outputStore.leaves[outputStore.leaves.length - 1]!)
    expect(last.inputSize).toBe(480n)
    expect(last.inputRoot).toEqual(log.head.root)
    const map = expectedMap(480)
    expect(last.mapRoot).toEqual(map.rootHash())
    // Every output leaf: input sizes strictly increase, each a committed size of the log.
    const sizes = outputStore.leaves.map((leaf) => decodeOutputLeaf(leaf).inputSize)
    expect([...sizes].sort((a, b) => (a < b ? -1 : 1))).toEqual(sizes)
    expect(new Set(sizes).size).toBe(sizes.length)
    // Proofs from the builder's map verify against the published root.
    const key = mapKey(`subject:${input(7).digests[0]}`)
    const indexes = builder.current.get(key)!
    expect(indexes).toEqual(Array.from({ length: 480 }, (_, i) => i).filter((i) => i % 50 === 7))
    verifyMapProof(last.mapRoot, key, builder.current.prove(key), valueHash(indexes))
    expect(builder.trailing(log.head.size)).toBe(0n)
  })

  test('a restart rebuilds the map from the log and covers what was committed while it was down', async () => {
    const logStore = new MemoryStore()
    const outputStore = new MemoryStore()
    let log = await openLog(logStore)
    const first = await openIndex(logStore, log, outputStore)
    await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(entry(i))))
    await first.builder.settled()
    await first.output.drain()
    const before = outputStore.leaves.length
    // The index is down while 200 more entries are committed.
    log = await openLog(logStore)
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(entry(300 + i))))
    const second = await openIndex(logStore, log, outputStore)
    await second.output.drain()
    expect(outputStore.leaves.length).toBe(before + 1)
    const last = decodeOutputLeaf(outputStore.leaves[before]!)
    expect(last.inputSize).toBe(500n)
    expect(last.mapRoot).toEqual(expectedMap(500).rootHash())
    expect(second.builder.published).toEqual(last)
  })

  test('a clean close saves the map; a start loads it instead of re-reading the log; a stale or damaged one is not used', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'index-snapshot-'))
    try {
      const snapshotPath = join(dir, 'map.snapshot')
      const logStore = new MemoryStore()
      const outputStore = new MemoryStore()
      let log = await openLog(logStore)
      const reports: string[] = []
      let reads = 0
      const counting = {
        snapshotPath,
        report: (m: string) => reports.push(m),
        entryOf: (i: bigint, leaf: Uint8Array) => (reads++, entryOf(i, leaf)),
      }
      const first = await openIndex(logStore, log, outputStore, counting)
      await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(entry(i))))
      await first.builder.settled()
      expect(await first.builder.writeSnapshot()).toBe(true)
      await first.output.drain()

      // The next start: the map comes from the snapshot, not one leaf of the log is read.
      reads = 0
      log = await openLog(logStore)
      const second = await openIndex(logStore, log, outputStore, counting)
      expect(reads).toBe(0)
      expect(reports).toEqual([])
      expect(second.builder.current.rootHash()).toEqual(expectedMap(300).rootHash())
      // It goes on from there like a rebuilt one.
      await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(entry(300 + i))))
      await second.builder.settled()
      await second.output.drain()
      expect(second.builder.published!.mapRoot).toEqual(expectedMap(350).rootHash())

      // The snapshot (of size 300) is now older than the output log: the log is read again, all of it.
      reads = 0
      log = await openLog(logStore)
      const third = await openIndex(logStore, log, outputStore, counting)
      expect(reads).toBe(350)
      expect(reports.join('\n')).toMatch(/older than the output log/)
      expect(third.builder.current.rootHash()).toEqual(expectedMap(350).rootHash())
      await third.output.drain()

      // A damaged snapshot of the right leaf: the recomputed root differs, the log is read again.
      expect(await third.builder.writeSnapshot()).toBe(true)
      const bytes = await readFile(snapshotPath)
      bytes[16 + 32 + 40]! ^= 1
      await writeFile(snapshotPath, bytes)
      reads = 0
      reports.length = 0
      log = await openLog(logStore)
      const fourth = await openIndex(logStore, log, outputStore, counting)
      expect(reads).toBe(350)
      expect(reports.join('\n')).toMatch(/does not give the output leaf's map root/)
      expect(fourth.builder.current.rootHash()).toEqual(expectedMap(350).rootHash())
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('start() rebuilds in the background: lookups wait with INDEX_UNAVAILABLE, commits meanwhile are filed after', async () => {
    const logStore = new MemoryStore()
    const outputStore = new MemoryStore()
    let log = await openLog(logStore)
    const first = await openIndex(logStore, log, outputStore)
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(entry(i))))
    await first.builder.settled()
    await first.output.drain()

    // The log's leaves are held back until released: the rebuild is under way for as long as we like.
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const gated = Object.assign(Object.create(logStore) as MemoryStore, {
      readLeaves: async (start: bigint, count: number) => (await gate, logStore.readLeaves(start, count)),
    })
    log = await openLog(logStore)
    const output = await openLog(outputStore, indexSigner, `${ORIGIN}/index`)
    const builder = await IndexBuilder.start({
      input: gated,
      inputHead: log.head,
      output: outputStore,
      sequencer: output,
      entryOf,
    })
    log.onCommit((head, batch) => builder.onCommit(head, batch))
    await expect(builder.atPublished(() => 1)).rejects.toMatchObject({ code: 'INDEX_UNAVAILABLE' })
    expect(builder.trailing(log.head.size)).toBe(200n)
    await Promise.all(Array.from({ length: 40 }, (_, i) => log.append(entry(200 + i))))
    release()
    await builder.settled()
    await output.drain()
    expect(builder.published!.inputSize).toBe(240n)
    expect(builder.published!.mapRoot).toEqual(expectedMap(240).rootHash())
    expect(await builder.atPublished((map) => map.rootHash())).toEqual(expectedMap(240).rootHash())

    // A close during the rebuild ends it, quietly: no snapshot, nothing reported.
    let release2!: () => void
    const gate2 = new Promise<void>((resolve) => (release2 = resolve))
    const gated2 = Object.assign(Object.create(logStore) as MemoryStore, {
      readLeaves: async (start: bigint, count: number) => (await gate2, logStore.readLeaves(start, count)),
    })
    const reports: string[] = []
    const output2 = await openLog(outputStore, indexSigner, `${ORIGIN}/index`)
    const stopped = await IndexBuilder.start({
      input: gated2,
      inputHead: log.head,
      output: outputStore,
      sequencer: output2,
      entryOf,
      report: (m) => reports.push(m),
    })
    stopped.stopRebuild()
    release2()
    await expect(stopped.settled()).rejects.toMatchObject({ code: 'INDEX_UNAVAILABLE' })
    expect(await stopped.writeSnapshot()).toBe(false)
    expect(reports).toEqual([])
  })

  test('an output log that does not describe the log is refused', async () => {
    const logStore = new MemoryStore()
    const log = await openLog(logStore)
    await Promise.all(Array.from({ length: 60 }, (_, i) => log.append(entry(i))))
    // Another log's index (other entries at the same size).
    const otherStore = new MemoryStore()
    const other = await openLog(otherStore)
    await Promise.all(Array.from({ length: 60 }, (_, i) => other.append(entry(1000 + i))))
    const outputStore = new MemoryStore()
    await openIndex(otherStore, other, outputStore)
    await expect(openIndex(logStore, log, outputStore)).rejects.toMatchObject({ code: 'DATA_MISMATCH' })
    // An index ahead of the log.
    const shortStore = new MemoryStore()
    const short = await openLog(shortStore)
    await expect(openIndex(shortStore, short, outputStore)).rejects.toMatchObject({ code: 'DATA_MISMATCH' })
  })

  test('with witnesses: one leaf waits for the quorum, lookups answer from the served leaf’s map, a restart too', async () => {
    const logStore = new MemoryStore()
    const outputStore = new MemoryStore()
    const log = await openLog(logStore)
    await Promise.all(Array.from({ length: 40 }, (_, i) => log.append(entry(i))))
    // The witnesses, played by hand: `served` is the output size they cosigned; awaitServed waits for it.
    let served = 0n
    let cosign: (() => void) | undefined
    const witnessed = {
      served: () => ({ ...log.head, size: served }),
      awaitServed: (size: bigint) =>
        new Promise<boolean>((resolve) => {
          const check = () => (served >= size ? resolve(true) : (cosign = check))
          check()
        }),
    }
    const open = async () => {
      const output = await openLog(outputStore, indexSigner, `${ORIGIN}/index`)
      const builder = await IndexBuilder.open({
        input: logStore,
        inputHead: log.head,
        output: outputStore,
        sequencer: output,
        entryOf,
        ...witnessed,
      })
      return { builder, output }
    }
    const first = await open()
    log.onCommit((head, batch) => first.builder.onCommit(head, batch))
    // Leaf 0 (40 entries) is published at open and waits for the quorum.
    await first.output.drain()
    expect(outputStore.leaves.length).toBe(1)
    served = 1n
    cosign?.()
    // 30 more entries: leaf 1 covers them; then 30 more, filed but not published while leaf 1 waits.
    await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(entry(40 + i))))
    while (outputStore.leaves.length < 2) await first.output.drain()
    await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(entry(70 + i))))
    // Filed as they are committed (waited for: the builder files between its own steps).
    const newest = mapKey(`key:${input(99).keyId}`)
    while (!(first.builder.current.get(newest) ?? []).includes(99)) {
      await new Promise((resolve) => setImmediate(resolve))
    }
    await first.output.drain()
    expect(outputStore.leaves.length).toBe(2)
    // The served leaf is still leaf 0: its map answers for 40 entries, whatever was filed since.
    const key = mapKey(`subject:${input(7).digests[0]}`)
    const check = async (builder: IndexBuilder, leafIndex: bigint, size: number) => {
      const state = await builder.atServed((s) => ({
        ...s,
        indexes: s.map.get(key)!,
        proof: s.map.prove(key),
      }))
      expect(state.leafIndex).toBe(leafIndex)
      const indexes = state.indexes
      expect(indexes).toEqual(Array.from({ length: size }, (_, i) => i).filter((i) => i % 50 === 7))
      expect(state.leaf.mapRoot).toEqual(expectedMap(size).rootHash())
      verifyMapProof(state.leaf.mapRoot, key, state.proof, valueHash(indexes))
    }
    await check(first.builder, 0n, 40)
    // Leaf 1 cosigned: leaf 2 covers everything filed meanwhile.
    served = 2n
    cosign?.()
    await check(first.builder, 1n, 70)
    while (outputStore.leaves.length < 3) await first.output.drain()
    expect(decodeOutputLeaf(outputStore.leaves[2]!).inputSize).toBe(100n)
    first.builder.stopRebuild()
    served = 3n
    cosign?.()
    await first.builder.settled()

    // A restart whose witnessed checkpoint is the one before the last leaf: both are checked and answer.
    served = 2n
    const second = await open()
    await check(second.builder, 1n, 70)
    served = 3n
    await check(second.builder, 2n, 100)
  })
})

describe('loggedLeafMapInput', () => {
  test('reads the same key id, digests and commits from a logged leaf as the strict decoder', () => {
    for (const type of ['ecdsa-p256', 'ed25519'] as const) {
      const pair = generateKeyPair(type)
      const { keyObject, publicKey } = privateKeyFromPEM(pair.privateKeyPem)
      const statement = buildStatement({
        artifacts: [
          { name: 'a.tgz', sha256: toHex(sha256(new Uint8Array([1]))) },
          { name: 'b.tgz', bytes: new Uint8Array([2]), algorithms: ['sha256', 'sha512', 'blake2b'] },
          { name: 'c.tgz', digest: { sha384: 'cd'.repeat(48) } },
        ],
        source: { uri: 'git+https://example.com/r', commit: 'ab'.repeat(20) },
        builderId: 'https://rebuilders.example/x',
        dependencies: [{ name: 'rustc', digest: { sha256: 'ef'.repeat(32) } }],
      })
      const payload = Buffer.from(canonicalJSON(statement), 'utf8')
      const pae = dssePAE(IN_TOTO_PAYLOAD_TYPE, payload)
      const leaf = encodeLogEntry({
        payload,
        signature:
          type === 'ed25519'
            ? sign(null, pae, keyObject)
            : sign('sha256', pae, { key: keyObject, dsaEncoding: 'der' }),
        spkiDer: publicKey.spkiDer,
        keyDetails: publicKey.keyDetails,
      })
      const strict = indexedEntryOf(7n, leaf)
      expect(loggedLeafMapInput(7n, leaf)).toEqual({
        keyId: strict.keyId,
        digests: strict.digests,
        commits: strict.commits,
      })
      expect(strict.digests).toHaveLength(5)
      expect(mapFn(loggedLeafMapInput(7n, leaf))).toEqual(mapFn(strict))
    }
  })
})
