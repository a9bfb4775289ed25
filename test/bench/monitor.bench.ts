// Monitor catch-up throughput: entries audited per second (fetch tiles and bundles, authenticate them,
// re-verify every leaf in the worker pool, index, write) on a 100k-entry log, beside the raw ECDSA
// verification rate of the same leaves on one thread. The log is built directly with @ledger/tlog and
// @ledger/attestation and served as static tiles by a tiny node:http server (packages/monitor/test/
// static-log.ts): submitting 100k entries through the log server's HTTP API would take minutes.
import { verify } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeLogEntry, dssePAE, IN_TOTO_PAYLOAD_TYPE, publicKeyFromDER } from '@ledger/attestation'
import { defaultConfig, Monitor } from '@ledger/monitor'
import {
  buildStaticLog,
  defaultEntry,
  makeEntry,
  makeKeys,
  serveStaticLog,
} from '../../packages/monitor/test/static-log.js'
import { ratio, row } from './measure.js'

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
    await rm(dir, { recursive: true, force: true })
  }
}
