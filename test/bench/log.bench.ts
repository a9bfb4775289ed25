// The log server under load, on loopback, in one run so the figures share the machine's state:
// - the unit: raw single-thread ECDSA P-256 verifications/s (node:crypto) over a DSSE PAE of the size of
//   this bench's statements;
// - submissions/s from 64 concurrent keep-alive clients (raw-socket HTTP/1.1, one request in flight each, as
//   for the GETs below) against the server in a CHILD process (its own
//   event loop and verify worker), all submissions signed before the timed phase, with submit-to-receipt
//   latency percentiles, and the ratio to the unit;
// - checkpoint, hash tile, entry bundle and lookup GETs/s (64 keep-alive connections, raw-socket client);
// - the real Sequencer's append path (@ledger/log-server) at 10k and at 1M entries: appends queued, dedup
//   read, leaf hashing, CompactRange appends with the tile-filling callback, the entry bundle, the signed
//   checkpoint and the commit, through a LogStore kept in memory (BenchStore below), so that the figure is
//   the sequencer's and not the disk's. The sequencer resumes each tree from the store as after a restart:
//   its state, edge tiles and edge leaves are made from precomputed leaves in memory (building 1M entries
//   through HTTP and LevelDB would take far longer than a benchmark run).
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  Sequencer,
  TileCache,
  type CommittedState,
  type DedupKey,
  type IntegratedBatch,
  type LogMeta,
  type LogStore,
  type LookupResult,
} from '@ledger/log-server'
import {
  CompactRange,
  TILE_HEIGHT,
  TILE_WIDTH,
  encodeCheckpoint,
  entryBundlePath,
  generateNoteKey,
  hashLeaf,
  parseSignerKey,
  signNote,
  tilePath,
  type Hash,
  type NoteSigner,
} from '@ledger/tlog'
import { getLoad } from '../support/http-load.js'
import { spawnLog } from '../support/log-process.js'
import { newRebuilder, rebuildStatement } from '../support/load.js'
import {
  CLIENTS,
  getRow,
  presign,
  rawVerifyRate,
  realLeafTemplate,
  submitAllTimed,
  submitPhase,
} from './log-load.js'
import { percentile, ratio, row } from './measure.js'

const REBUILDERS = 16
const WARMUP_SUBMISSIONS = 4_000
const LOAD_SECONDS = 12
const GET_SECONDS = 3
const BATCH = 1_000

/**
 * A LogStore in memory for the append benchmark: it serves a resumed tree (state, edge tiles, edge leaves)
 * and takes commits, keeping the state, the tiles, the dedup keys and the leaves of the open entry bundle
 * (what a sequencer resumes from): what a commit costs the sequencer, without the cost of any storage.
 */
class BenchStore implements LogStore {
  private readonly dedup = new Map<string, bigint>()

  constructor(
    private state: CommittedState,
    private readonly tiles: Map<string, Uint8Array>,
    private leaves: Uint8Array[],
    private firstLeaf: bigint,
  ) {}

  async readMeta(): Promise<LogMeta | undefined> {
    return undefined
  }
  async writeMeta(): Promise<void> {}
  async readState(): Promise<CommittedState | undefined> {
    return this.state
  }
  async commit(batch: IntegratedBatch): Promise<void> {
    for (const tile of batch.tiles) this.tiles.set(`${tile.level}/${tile.index}`, tile.data)
    for (const entry of batch.entries) {
      this.dedup.set(`${entry.keyId}/${entry.payloadHash}`, entry.index)
      this.leaves.push(entry.leaf)
    }
    this.state = batch.state
    const open = batch.state.size - (batch.state.size % BigInt(TILE_WIDTH))
    this.leaves = this.leaves.slice(Number(open - this.firstLeaf))
    this.firstLeaf = open
  }
  async readTile(level: number, index: bigint): Promise<Uint8Array | undefined> {
    return this.tiles.get(`${level}/${index}`)
  }
  async readLeaf(index: bigint): Promise<Uint8Array | undefined> {
    return this.leaves[Number(index - this.firstLeaf)]
  }
  async readLeaves(start: bigint, count: number): Promise<Uint8Array[]> {
    const from = Number(start - this.firstLeaf)
    return from < 0 ? [] : this.leaves.slice(from, from + count)
  }
  async findEntries(entries: readonly DedupKey[]): Promise<(bigint | undefined)[]> {
    return entries.map((e) => this.dedup.get(`${e.keyId}/${e.payloadHash}`))
  }
  async lookup(): Promise<LookupResult> {
    throw new Error('not in this benchmark')
  }
  async readWitnessed(): Promise<Uint8Array | undefined> {
    return undefined
  }
  async writeWitnessed(): Promise<void> {}
  async close(): Promise<void> {}
}

/**
 * The store of a log of `size` entries (leaf j is the bytes of `leaf <j>`), as a restarted sequencer reads
 * it: the state (compact range, signed checkpoint), the partial hash tiles at the right edge, and the leaves
 * of the partial entry bundle.
 */
function resumedStore(size: number, signer: NoteSigner): BenchStore {
  const range = CompactRange.empty()
  const open = new Map<number, { index: bigint; hashes: Uint8Array[] }>()
  const onNode = (level: number, index: bigint, hash: Hash) => {
    if (level % TILE_HEIGHT !== 0) return
    const tileLevel = level / TILE_HEIGHT
    const tileIndex = index >> BigInt(TILE_HEIGHT)
    let tile = open.get(tileLevel)
    if (tile === undefined || tile.index !== tileIndex)
      open.set(tileLevel, (tile = { index: tileIndex, hashes: [] }))
    tile.hashes.push(hash)
    if (tile.hashes.length === TILE_WIDTH) open.delete(tileLevel)
  }
  const leafOf = (j: number) => Buffer.from(`leaf ${j}`)
  for (let j = 0; j < size; j++) range.append(hashLeaf(leafOf(j)), onNode)
  const tiles = new Map<string, Uint8Array>()
  for (const [level, tile] of open) tiles.set(`${level}/${tile.index}`, Buffer.concat(tile.hashes))
  const firstLeaf = size - (size % TILE_WIDTH)
  const leaves = Array.from({ length: size - firstLeaf }, (_, k) => leafOf(firstLeaf + k))
  const checkpoint = signNote(
    encodeCheckpoint({ origin: APPEND_ORIGIN, size: BigInt(size), root: range.root(), extensions: [] }),
    [signer],
  )
  return new BenchStore(
    { size: BigInt(size), compactRange: range.serialize(), checkpoint: Buffer.from(checkpoint) },
    tiles,
    leaves,
    BigInt(firstLeaf),
  )
}

const APPEND_ORIGIN = 'bench.example/log'

/** Appends/s of `batches` batches of BATCH real-size leaves through the real Sequencer over `store`. */
async function appendRate(
  store: BenchStore,
  signer: NoteSigner,
  leaves: readonly Uint8Array[],
  batches: number,
  series: number,
): Promise<number> {
  const sequencer = await Sequencer.open(
    store,
    new TileCache(store, 64 * 1024 * 1024),
    signer,
    APPEND_ORIGIN,
    {
      batchSize: BATCH,
      batchWaitMs: 0,
    },
  )
  const entries = (b: number) =>
    leaves.map((leaf, i) => ({
      leaf,
      keyId: 'ab'.repeat(32),
      payloadHash: `${series}-${b}-${i}`.padStart(64, '0'),
      digests: [`sha256:${'cd'.repeat(32)}`],
      commits: ['ef'.repeat(20)],
    }))
  const prepared = Array.from({ length: batches }, (_, b) => entries(b))
  const begin = performance.now()
  for (const batch of prepared) await Promise.all(batch.map((entry) => sequencer.append(entry)))
  return (batches * leaves.length * 1000) / (performance.now() - begin)
}

export async function run(): Promise<void> {
  console.log(`machine: ${availableParallelism()} CPUs, Node ${process.version}`)
  const rebuilders = Array.from({ length: REBUILDERS }, () => newRebuilder('ecdsa-p256'))
  const payloadBytes = Buffer.byteLength(JSON.stringify(rebuildStatement('bench', 123_456)))

  // 1. The unit.
  const rawVerify = rawVerifyRate(payloadBytes)
  row(`raw ECDSA P-256 verify, ${payloadBytes}-byte payload PAE (1 thread)`, rawVerify, 'verifies/s')

  // 2. Submissions against a child-process server with the default configuration.
  const dir = await mkdtemp(join(tmpdir(), 'ledger-bench-log-'))
  const profile = process.env.LOG_BENCH_PROFILE
  const server = spawnLog(
    ['--data', join(dir, 'data'), '--port', '0', '--origin', 'bench.example/log'],
    profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [],
  )
  try {
    const url = await server.listening
    const warmup = presign(rebuilders, 'bench-warmup', WARMUP_SUBMISSIONS)
    const warm = await submitAllTimed(url, warmup)
    const estimate = warm.count / warm.seconds
    // Enough for LOAD_SECONDS at the warm-up rate, plus a margin: the timed phase runs them all.
    const signStart = performance.now()
    const bodies = presign(rebuilders, 'bench', Math.min(400_000, Math.ceil(estimate * LOAD_SECONDS * 1.15)))
    console.log(
      `    (warm-up: ${warm.count} at ${Math.round(estimate)}/s; pre-signed ${bodies.length} in ` +
        `${((performance.now() - signStart) / 1000).toFixed(1)} s)`,
    )
    const pid = server.child.pid!
    const load = await submitPhase(url, pid, bodies, CLIENTS)
    const submitRate = load.count / load.seconds
    ratio('submissions/s : raw verify/s', submitRate, rawVerify, '>= 0.35')
    ratio('p99 latency / 1 s', percentile(load.latencies, 99), 1000, '<= 1')
    // The same with four times the clients: if the rate grows, the 64-client figure is bound by the
    // latency of one submit-to-receipt cycle, not by the server's CPU.
    const wide = presign(rebuilders, 'bench-wide', Math.min(400_000, Math.ceil(submitRate * 6 * 1.5)))
    const wideLoad = await submitPhase(url, pid, wide, CLIENTS * 4)
    ratio(
      `submissions/s with ${CLIENTS * 4} clients : raw verify/s`,
      wideLoad.count / wideLoad.seconds,
      rawVerify,
    )

    // 3. Reads. The tree now holds warm-up + load entries; ask for tiles and bundles across all of it.
    const size = warm.count + load.count + wideLoad.count
    const fullTiles = Math.floor(size / TILE_WIDTH)
    let n = 0
    const checkpoint = await getLoad(url, () => '/checkpoint', CLIENTS, GET_SECONDS)
    const checkpointRate = getRow(`GET /checkpoint, ${CLIENTS} connections`, checkpoint)
    const tilePaths = Array.from(
      { length: fullTiles },
      (_, i) => '/' + tilePath({ level: 0, index: BigInt(i), width: TILE_WIDTH }),
    )
    const tiles = await getLoad(url, () => tilePaths[n++ % tilePaths.length]!, CLIENTS, GET_SECONDS)
    const tileRate = getRow(
      `GET full level-0 hash tiles (${tilePaths.length}), ${CLIENTS} connections`,
      tiles,
    )
    const bundlePaths = Array.from(
      { length: fullTiles },
      (_, i) => '/' + entryBundlePath({ index: BigInt(i), width: TILE_WIDTH }),
    )
    const bundles = await getLoad(url, () => bundlePaths[n++ % bundlePaths.length]!, CLIENTS, GET_SECONDS)
    getRow(`GET full entry bundles (${bundlePaths.length}), ${CLIENTS} connections`, bundles)
    // Every rebuilder signed statement n of the series: each digest has REBUILDERS entries, as an artifact
    // reproduced by that many parties would.
    const perRebuilder = Math.floor(bodies.length / REBUILDERS)
    const digests = Array.from({ length: 1000 }, (_, i) => {
      const statement = rebuildStatement('bench', Math.floor((i * perRebuilder) / 1000))
      return `/api/v1/lookup?digest=sha256:${statement.subject[0]!.digest.sha256}`
    })
    const lookups = await getLoad(url, () => digests[n++ % digests.length]!, CLIENTS, GET_SECONDS)
    getRow(`GET /api/v1/lookup?digest= (${REBUILDERS} matches each), ${CLIENTS} connections`, lookups)
    ratio('checkpoint GETs/s : 20,000', checkpointRate, 20_000, '>= 1')
    ratio('hash tile GETs/s : 20,000', tileRate, 20_000, '>= 1')
  } finally {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  }

  // 4. The append path at 10k and at 1M entries, through the real Sequencer.
  const signer = parseSignerKey(generateNoteKey(APPEND_ORIGIN).signerKey)
  // A real leaf of this bench's statements (DESIGN §4), varied per entry so no two hash alike.
  const leafTemplate = realLeafTemplate(rebuilders[0]!, 'bench-leaf')
  const leaves = Array.from({ length: BATCH }, (_, i) => {
    const leaf = Buffer.from(leafTemplate)
    leaf.writeUInt32BE(i, 20)
    return leaf
  })
  const buildStart = performance.now()
  const at10k = resumedStore(10_000, signer)
  const at1M = resumedStore(1_000_000, signer)
  console.log(
    `    (stores of 10k and 1M entries made in ${((performance.now() - buildStart) / 1000).toFixed(1)} s; leaves of ${leafTemplate.length} bytes, batches of ${BATCH}; the real Sequencer over an in-memory store)`,
  )
  let small = 0
  let large = 0
  // Best of 6 rounds each, in alternating order, so that warm-up and garbage collection favour neither.
  for (let round = 0; round < 6; round++) {
    const order = round % 2 === 0 ? [at10k, at1M] : [at1M, at10k]
    for (const store of order) {
      const rate = await appendRate(store, signer, leaves, 20, 2 * round + (store === at1M ? 1 : 0))
      if (store === at10k) small = Math.max(small, rate)
      else large = Math.max(large, rate)
    }
  }
  row('appends at 10k entries (Sequencer, in-memory store)', small, 'appends/s')
  row('appends at 1M entries (Sequencer, in-memory store)', large, 'appends/s')
  ratio('appends/s at 1M : at 10k', large, small, '>= 0.9')
}
