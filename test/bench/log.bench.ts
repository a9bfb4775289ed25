// The log server under load, on loopback, in one run so the figures share the machine's state:
// - the unit: raw single-thread ECDSA P-256 verifications/s (node:crypto) over a DSSE PAE of the size of
//   this bench's statements;
// - submissions/s from 64 concurrent keep-alive clients against the server in a CHILD process (its own
//   event loop and verify worker), all submissions signed before the timed phase, with submit-to-receipt
//   latency percentiles, and the ratio to the unit;
// - checkpoint, hash tile, entry bundle and lookup GETs/s (64 keep-alive connections, raw-socket client);
// - the sequencer's append path at 10k and at 1M entries. services/log does not export its Sequencer
//   (only LevelStore and startLogServer), so this replays what Sequencer.integrate does per batch, with
//   @ledger/tlog: leaf hashing, CompactRange appends with the tile-filling callback, entry bundle
//   encoding, compact range serialization, root and checkpoint signing. It excludes the dedup read and the
//   LevelDB commit (one synced write per batch). The 1M tree is built from precomputed leaf hashes in
//   memory; building 1M entries through HTTP would take far longer than a benchmark run.
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { IN_TOTO_PAYLOAD_TYPE, dssePAE, encodeLogEntry, publicKeyFromPEM } from '@ledger/attestation'
import {
  CompactRange,
  HASH_SIZE,
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
} from '@ledger/tlog'
import { getLoad, type GetLoadResult } from '../support/http-load.js'
import { keepAliveAgent, postEntry } from '../support/http.js'
import { spawnLog } from '../support/log-process.js'
import { newRebuilder, rebuildStatement, signSubmissionsFast, type Rebuilder } from '../support/load.js'
import { percentile, rate, ratio, row } from './measure.js'

const CLIENTS = 64
const REBUILDERS = 16
const WARMUP_SUBMISSIONS = 4_000
const LOAD_SECONDS = 12
const GET_SECONDS = 3
const BATCH = 1_000

function rawVerifyRate(payloadBytes: number): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pae = dssePAE(IN_TOTO_PAYLOAD_TYPE, Buffer.alloc(payloadBytes, 0x61))
  const signature = sign('sha256', pae, { key: privateKey, dsaEncoding: 'der' })
  return rate(() => {
    if (!verify('sha256', pae, publicKey, signature)) throw new Error('raw verify failed')
  }, 2)
}

interface SubmitRun {
  count: number
  seconds: number
  latencies: number[]
  failures: Map<string, number>
}

/** Sends every body with CLIENTS requests in flight; returns the rate and sorted latencies. */
async function submitAllTimed(url: string, bodies: readonly string[], clients = CLIENTS): Promise<SubmitRun> {
  const agent = keepAliveAgent(clients)
  const latencies: number[] = []
  const failures = new Map<string, number>()
  let next = 0
  const start = performance.now()
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!
        const sent = performance.now()
        const res = await postEntry(agent, url, body)
        latencies.push(performance.now() - sent)
        if (res.status !== 201) {
          const key = `${res.status} ${res.body.toString('utf8').slice(0, 120)}`
          failures.set(key, (failures.get(key) ?? 0) + 1)
        }
      }
    }),
  )
  const seconds = (performance.now() - start) / 1000
  agent.destroy()
  latencies.sort((a, b) => a - b)
  return { count: bodies.length, seconds, latencies, failures }
}

function presign(rebuilders: readonly Rebuilder[], series: string, count: number): string[] {
  const per = Math.ceil(count / rebuilders.length)
  const lists = rebuilders.map((r) => signSubmissionsFast(r, series, 0, per))
  // Interleaved, so consecutive submissions come from different keys as they would from many clients.
  const out: string[] = []
  for (let i = 0; i < per && out.length < count; i++) {
    for (const list of lists) if (out.length < count) out.push(list[i]!)
  }
  return out
}

function getRow(label: string, result: GetLoadResult): number {
  const perSecond = result.requests / result.seconds
  const ok = result.statuses.get(200) ?? 0
  if (ok !== result.requests) {
    throw new Error(`${label}: non-200 answers ${JSON.stringify([...result.statuses])}`)
  }
  row(label, perSecond, 'req/s')
  console.log(
    `${''.padEnd(4)}p50 ${percentile(result.latencies, 50).toFixed(2)} ms, p99 ${percentile(result.latencies, 99).toFixed(2)} ms, ` +
      `${((result.bytes / result.seconds) * 1e-6).toFixed(1)} MB/s of bodies`,
  )
  return perSecond
}

/** CPU seconds used so far by process `pid` (all its threads), from /proc; undefined off Linux. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime, in clock ticks of 1/100 s (USER_HZ on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

/** Busy and total CPU time of the whole machine so far (all processes), from /proc/stat; undefined off Linux. */
function machineCpu(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    const total = fields.reduce((a, b) => a + b, 0)
    // idle and iowait are not busy.
    return { busy: total - fields[3]! - (fields[4] ?? 0), total }
  } catch {
    return undefined
  }
}

/** Runs `bodies` and prints the rate, latency and the CPU both sides used. */
async function submitPhase(
  url: string,
  pid: number,
  bodies: readonly string[],
  clients: number,
): Promise<SubmitRun> {
  const serverCpu = processCpuSeconds(pid)
  const clientCpu = process.cpuUsage()
  const machine = machineCpu()
  const load = await submitAllTimed(url, bodies, clients)
  if (load.failures.size > 0) throw new Error(`submissions failed: ${JSON.stringify([...load.failures])}`)
  const used = process.cpuUsage(clientCpu)
  const rate = load.count / load.seconds
  row(
    `submissions, ${clients} concurrent clients, ${load.count} in ${load.seconds.toFixed(1)} s`,
    rate,
    'submissions/s',
  )
  row('  submit -> receipt latency p50', percentile(load.latencies, 50), 'ms')
  row('  submit -> receipt latency p99', percentile(load.latencies, 99), 'ms')
  const serverAfter = processCpuSeconds(pid)
  if (serverCpu !== undefined && serverAfter !== undefined) {
    row('  server process CPU (all threads), cores busy', (serverAfter - serverCpu) / load.seconds, 'cores')
  }
  row('  load generator CPU, cores busy', (used.user + used.system) / 1e6 / load.seconds, 'cores')
  const machineAfter = machineCpu()
  if (machine !== undefined && machineAfter !== undefined) {
    // Other processes on a shared machine take CPU too: this says how much of it was left.
    const share = (machineAfter.busy - machine.busy) / (machineAfter.total - machine.total)
    row('  whole machine CPU busy (all processes)', share * availableParallelism(), 'cores')
  }
  return load
}

/** A tile or bundle at the right edge, as sequencer.ts keeps it between batches. */
interface EdgeTile {
  index: bigint
  data: Uint8Array
  width: number
}

interface AppendState {
  range: CompactRange
  tiles: Map<number, EdgeTile>
  bundle: { index: bigint; data: Uint8Array; width: number } | undefined
}

function cloneState(state: AppendState): AppendState {
  return { range: state.range.clone(), tiles: new Map(state.tiles), bundle: state.bundle }
}

/**
 * One batch as Sequencer.integrate does it (services/log/src/sequencer.ts), minus the dedup read and the
 * store commit: leaf hashes into the compact range, level-8k nodes into their hash tiles, leaves into entry
 * bundles, then the new edge, the serialized range, the root and the signed checkpoint.
 * `leafHashes` instead of `leaves`: the tree-building mode (no bundles, no checkpoint).
 */
function integrate(
  state: AppendState,
  leaves: readonly Uint8Array[] | undefined,
  leafHashes: readonly Hash[] | undefined,
  signer: ReturnType<typeof parseSignerKey> | undefined,
): AppendState {
  const range = state.range.clone()
  const first = range.size
  const working = new Map<number, EdgeTile>()
  const full: EdgeTile[] = []
  const onNode = (level: number, index: bigint, hash: Hash) => {
    if (level % TILE_HEIGHT !== 0) return
    const tileLevel = level / TILE_HEIGHT
    const tileIndex = index >> BigInt(TILE_HEIGHT)
    const position = Number(index & BigInt(TILE_WIDTH - 1))
    let tile = working.get(tileLevel)
    if (tile === undefined || tile.index !== tileIndex) {
      const data = new Uint8Array(TILE_WIDTH * HASH_SIZE)
      const edge = state.tiles.get(tileLevel)
      if (edge !== undefined && edge.index === tileIndex) {
        data.set(edge.data)
        tile = { index: tileIndex, data, width: edge.width }
      } else tile = { index: tileIndex, data, width: 0 }
      working.set(tileLevel, tile)
    }
    if (position !== tile.width) throw new Error('tile nodes out of order')
    tile.data.set(hash, position * HASH_SIZE)
    tile.width++
    if (tile.width === TILE_WIDTH) full.push(tile)
  }
  let bundle: { index: bigint; parts: Uint8Array[]; width: number } | undefined
  const bundles: Uint8Array[] = []
  const count = leaves?.length ?? leafHashes!.length
  for (let i = 0; i < count; i++) {
    const leaf = leaves?.[i]
    range.append(leaf !== undefined ? hashLeaf(leaf) : leafHashes![i]!, onNode)
    if (leaf === undefined) continue
    const index = first + BigInt(i)
    const bundleIndex = index >> BigInt(TILE_HEIGHT)
    if (bundle === undefined) {
      const edge = state.bundle
      bundle =
        edge !== undefined && edge.index === bundleIndex
          ? { index: bundleIndex, parts: [edge.data], width: edge.width }
          : { index: bundleIndex, parts: [], width: 0 }
    }
    bundle.parts.push(Uint8Array.of(leaf.length >> 8, leaf.length & 0xff), leaf)
    bundle.width++
    if (bundle.width === TILE_WIDTH) {
      bundles.push(Buffer.concat(bundle.parts))
      bundle = undefined
    }
  }
  const tiles = new Map(state.tiles)
  for (const [level, tile] of working) {
    if (tile.width === TILE_WIDTH) tiles.delete(level)
    else
      tiles.set(level, {
        index: tile.index,
        data: tile.data.slice(0, tile.width * HASH_SIZE),
        width: tile.width,
      })
  }
  let nextBundle = state.bundle
  if (leaves !== undefined) {
    nextBundle =
      bundle === undefined
        ? undefined
        : { index: bundle.index, data: Buffer.concat(bundle.parts), width: bundle.width }
    range.serialize()
    const root = range.root()
    if (signer !== undefined) {
      signNote(encodeCheckpoint({ origin: 'bench.example/log', size: range.size, root, extensions: [] }), [
        signer,
      ])
    }
  }
  return { range, tiles, bundle: nextBundle }
}

/** A tree of `size` leaves built from precomputed leaf hashes, in batches, with its edge tiles. */
function buildTree(size: number): AppendState {
  let state: AppendState = { range: CompactRange.empty(), tiles: new Map(), bundle: undefined }
  const hashes: Hash[] = []
  for (let i = 0; i < size; i += 65_536) {
    hashes.length = 0
    for (let j = i; j < Math.min(size, i + 65_536); j++) {
      hashes.push(createHash('sha256').update(`leaf ${j}`).digest())
    }
    state = integrate(state, undefined, hashes, undefined)
  }
  return state
}

/** Appends/s of `batches` batches of BATCH real-size leaves, from a copy of `start`. */
function appendRate(
  start: AppendState,
  leaves: readonly Uint8Array[],
  batches: number,
  signer: ReturnType<typeof parseSignerKey>,
): number {
  let state = cloneState(start)
  const begin = performance.now()
  for (let b = 0; b < batches; b++) state = integrate(state, leaves, undefined, signer)
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

  // 4. The append path at 10k and at 1M entries.
  const signer = parseSignerKey(generateNoteKey('bench.example/log').signerKey)
  // A real leaf of this bench's statements (DESIGN §4), varied per entry so no two hash alike.
  const submitted = JSON.parse(signSubmissionsFast(rebuilders[0]!, 'bench-leaf', 0, 1)[0]!) as {
    bundle: { dsseEnvelope: { payload: string; signatures: { sig: string }[] } }
    publicKey: string
  }
  const key = publicKeyFromPEM(submitted.publicKey)
  const leafTemplate = Buffer.from(
    encodeLogEntry({
      payload: Buffer.from(submitted.bundle.dsseEnvelope.payload, 'base64'),
      signature: Buffer.from(submitted.bundle.dsseEnvelope.signatures[0]!.sig, 'base64'),
      spkiDer: key.spkiDer,
      keyDetails: key.keyDetails,
    }),
  )
  const leaves = Array.from({ length: BATCH }, (_, i) => {
    const leaf = Buffer.from(leafTemplate)
    leaf.writeUInt32BE(i, 20)
    return leaf
  })
  const buildStart = performance.now()
  const at10k = buildTree(10_000)
  const at1M = buildTree(1_000_000)
  console.log(
    `    (trees of 10k and 1M built from precomputed leaf hashes in ${((performance.now() - buildStart) / 1000).toFixed(1)} s; leaves of ${leafTemplate.length} bytes, batches of ${BATCH})`,
  )
  console.log(
    '    (@ledger/log-server does not export its Sequencer: this replays Sequencer.integrate with @ledger/tlog,',
  )
  console.log('     without the dedup read and the LevelDB commit)')
  let small = 0
  let large = 0
  for (let round = 0; round < 5; round++) {
    small = Math.max(small, appendRate(at10k, leaves, 20, signer))
    large = Math.max(large, appendRate(at1M, leaves, 20, signer))
  }
  row('appends at 10k entries (sequencer path, no store)', small, 'appends/s')
  row('appends at 1M entries (sequencer path, no store)', large, 'appends/s')
  ratio('appends/s at 1M : at 10k', large, small, '>= 0.9')
}
