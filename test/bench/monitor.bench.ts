// Monitor catch-up throughput: entries audited per second (fetch tiles and bundles, authenticate them,
// re-verify every leaf in the worker pool, index, write) on a 100k-entry log, beside the raw ECDSA
// verification rate of the same leaves on one thread. The log is built directly with @ledger/tlog and
// @ledger/attestation and served as static tiles by a tiny node:http server (packages/monitor/test/
// static-log.ts): submitting 100k entries through the log server's HTTP API would take minutes. Then the
// audit of a verifiable index over the same log, on the state the catch-up left (issue 14's "map rebuild
// by the monitor >= 20,000 entries/s"), beside the map alone in memory.
import { verify } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeLogEntry, dssePAE, IN_TOTO_PAYLOAD_TYPE, publicKeyFromDER } from '@ledger/attestation'
import { defaultConfig, LevelMonitorStore, Monitor } from '@ledger/monitor'
import { encodeOutputLeaf, VerifiableMap } from '@ledger/vindex'
import {
  buildStaticLog,
  defaultEntry,
  makeEntry,
  makeKeys,
  serveStaticLog,
} from '../../packages/monitor/test/static-log.js'
import { ratio, row } from './measure.js'
import { rootFromLeafHashes } from '@ledger/tlog'

const SIZE = Number(process.env.MONITOR_BENCH_SIZE ?? 100_000)

export async function run(): Promise<void> {
  const keys = makeKeys(8)
  let start = performance.now()
  const entries = Array.from({ length: SIZE }, (_, i) => {
    const spec = defaultEntry(i)
    return makeEntry(spec, keys[i % keys.length]!)
  })
  const log = buildStaticLog(entries, 'bench.example/log')
  row(`build a ${SIZE.toLocaleString('en-US')}-entry static log`, (performance.now() - start) / 1000, 's')

  // Raw signature verification of the same leaves, one thread: the floor of the per-entry cost.
  const sample = entries.slice(0, 20_000).map((e) => decodeLogEntry(e.leaf))
  const keyObjects = new Map<string, ReturnType<typeof publicKeyFromDER>>()
  start = performance.now()
  for (const entry of sample) {
    let key = keyObjects.get(entry.keyId)
    if (key === undefined) keyObjects.set(entry.keyId, (key = publicKeyFromDER(entry.spkiDer)))
    if (
      !verify(
        'sha256',
        dssePAE(IN_TOTO_PAYLOAD_TYPE, entry.payload),
        { key: key.keyObject, dsaEncoding: 'der' },
        entry.signature,
      )
    ) {
      throw new Error('a benchmark leaf does not verify')
    }
  }
  const rawRate = (sample.length * 1000) / (performance.now() - start)

  const server = await serveStaticLog(log)
  const dir = await mkdtemp(join(tmpdir(), 'monitor-bench-'))
  // The monitor's default: one verify worker per CPU (the main thread mostly waits).
  const workers = Number(process.env.MONITOR_BENCH_WORKERS ?? defaultConfig().workers)
  const monitor = await Monitor.open(
    { ...defaultConfig(), logUrl: server.url, logKey: log.verifierKey, dataDir: dir, workers, sample: 16 },
    { stdout: { write: () => undefined }, stderr: { write: () => undefined } },
  )
  try {
    start = performance.now()
    const result = await monitor.pass()
    const seconds = (performance.now() - start) / 1000
    if (result.indexed !== BigInt(SIZE) || result.alerts.length > 0) {
      throw new Error(`monitor pass: indexed ${result.indexed}, ${result.alerts.length} alerts`)
    }
    const rate = SIZE / seconds
    row(`monitor catch-up, ${workers} verify worker(s), ${availableParallelism()} CPUs`, rate, 'entries/s')
    row('raw ECDSA P-256 DSSE verification, 1 thread', rawRate, 'verifies/s')
    ratio('monitor entries/s over raw verifies/s (1 thread)', rate, rawRate)
    console.log(`target: >= 10,000 entries/s on 2 cores: ${rate >= 10_000 ? 'met' : 'NOT met'}`)
  } finally {
    await monitor.close()
    await server.close()
  }
  try {
    await indexAudit(log, dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * The monitor's audit of a verifiable index over the same log, on the state the catch-up above left (every
 * entry re-verified and recorded): one pass that only rebuilds the map (MapFn inputs from its records,
 * leaf hashes from the log's tiles) and checks the one output leaf that states all of it.
 */
async function indexAudit(log: ReturnType<typeof buildStaticLog>, dir: string): Promise<void> {
  const map = new VerifiableMap()
  const mapStart = performance.now()
  log.entries.forEach((e, i) => map.addEntry(i, e))
  const mapRate = SIZE / ((performance.now() - mapStart) / 1000)
  const leaf = encodeOutputLeaf({
    inputSize: BigInt(log.entries.length),
    inputRoot: rootFromLeafHashes(log.hashes[0]!),
    mapRoot: map.rootHash(),
  })
  const index = buildStaticLog([{ leaf, keyId: '', digests: [], commits: [] }], `${log.origin}/index`)
  const server = await serveStaticLog(log, { index })
  const monitor = await Monitor.open(
    { ...defaultConfig(), logUrl: server.url, logKey: log.verifierKey, dataDir: dir, workers: 1, sample: 0 },
    { stdout: { write: () => undefined }, stderr: { write: () => undefined } },
  )
  try {
    const start = performance.now()
    const result = await monitor.pass()
    const seconds = (performance.now() - start) / 1000
    if (result.alerts.length > 0) throw new Error(`index audit: ${result.alerts.length} alerts`)
    const rate = SIZE / seconds
    row('monitor index audit: map rebuilt from records and tiles, one leaf checked', rate, 'entries/s')
    row('the map alone (VerifiableMap.addEntry, in memory)', mapRate, 'entries/s')
    ratio('index audit over the map alone', rate, mapRate)
    console.log(`target: >= 20,000 entries/s: ${rate >= 20_000 ? 'met' : 'NOT met'}`)
  } finally {
    await monitor.close()
    await server.close()
  }
  const store = await LevelMonitorStore.open(join(dir, 'db'))
  const state = await store.readIndexState()
  await store.close()
  if (state?.checked !== 1n) throw new Error('the index audit did not check the output leaf')
}
