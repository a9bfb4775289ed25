// The log on PostgreSQL beside LevelDB, in one run (so the figures share the machine's state):
// - the unit: raw single-thread ECDSA P-256 verifications/s;
// - verified, durable ingest (64 raw-socket clients) into a LevelDB log process, then into one PostgreSQL
//   log process, then into two processes on one database (clients spread over both);
// - the sequencer's own ceiling on PostgreSQL: the real Sequencer over PostgresStore, in a process of its
//   own (sequencer-ceiling.ts), fed pre-verified leaves (what it integrates when verification happens
//   elsewhere): the first 20,000 entries (cold), then the ceiling over the next 60,000; and from it the
//   number of front ends one sequencer can feed, on paper;
// - tile and lookup reads per PostgreSQL process.
// The database is a throwaway cluster of the machine's own PostgreSQL (test/support/postgres.ts) with its
// defaults: fsync on, synchronous commit.
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { DEFAULT_POSTGRES_COMMITS_IN_FLIGHT } from '@ledger/log-server'
import { TILE_WIDTH, tilePath } from '@ledger/tlog'
import { getLoad, requestLoad } from '../support/http-load.js'
import { spawnLog, type LogChild } from '../support/log-process.js'
import { newRebuilder, rebuildStatement } from '../support/load.js'
import { startPostgresCluster } from '../support/postgres.js'
import { CLIENTS, getRow, presign, rawVerifyRate, submitAllTimed } from './log-load.js'
import { percentile, ratio, row } from './measure.js'
import type { CeilingResult } from './sequencer-ceiling.js'

const execFileAsync = promisify(execFile)

const REBUILDERS = 16
const LOAD_SECONDS = 10
const GET_SECONDS = 3
const ORIGIN = 'bench.example/pg'
/** The sequencer's ceiling: entries appended untimed first (sequencer-ceiling.ts), then timed. */
const CEILING_WARM_UP = 20_000
const CEILING_ENTRIES = 60_000
/** `PG_COMMITS_IN_FLIGHT=1 npm run bench -- postgres` measures another number of overlapping commits. */
const COMMITS_IN_FLIGHT = Number(process.env['PG_COMMITS_IN_FLIGHT'] ?? DEFAULT_POSTGRES_COMMITS_IN_FLIGHT)

/** Submits `bodies` spread over `urls` (one connection pool per process); returns submissions/s. */
async function ingest(label: string, urls: readonly string[], bodies: readonly string[]): Promise<number> {
  let next = 0
  const per = Math.floor(CLIENTS / urls.length)
  const started = performance.now()
  const loads = await Promise.all(
    urls.map((url) =>
      requestLoad(
        url,
        () => (next < bodies.length ? { path: '/api/v1/entries', body: bodies[next++]! } : undefined),
        per,
        {
          expect: 201,
        },
      ),
    ),
  )
  const seconds = (performance.now() - started) / 1000
  const count = loads.reduce((n, load) => n + load.requests, 0)
  for (const load of loads) {
    if (load.failures.size > 0) throw new Error(`${label}: failures ${JSON.stringify([...load.failures])}`)
  }
  const latencies = loads.flatMap((load) => load.latencies).sort((a, b) => a - b)
  const perSecond = count / seconds
  row(`${label}, ${count} in ${seconds.toFixed(1)} s`, perSecond, 'submissions/s')
  row('  submit -> receipt latency p50', percentile(latencies, 50), 'ms')
  row('  submit -> receipt latency p99', percentile(latencies, 99), 'ms')
  return perSecond
}

/** Runs sequencer-ceiling.ts on the database at `url` in a child process and returns what it measured. */
async function sequencerCeiling(url: string): Promise<CeilingResult> {
  const script = fileURLToPath(new URL('./sequencer-ceiling.ts', import.meta.url))
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', script, url, ...[COMMITS_IN_FLIGHT, CEILING_WARM_UP, CEILING_ENTRIES].map(String)],
    { maxBuffer: 1 << 20 },
  )
  return JSON.parse(stdout.trim().split('\n').pop()!) as CeilingResult
}

async function started(child: LogChild): Promise<string> {
  return child.listening
}

export async function run(): Promise<void> {
  const rebuilders = Array.from({ length: REBUILDERS }, () => newRebuilder('ecdsa-p256'))
  const payloadBytes = Buffer.byteLength(JSON.stringify(rebuildStatement('bench', 123_456)))
  const rawVerify = rawVerifyRate(payloadBytes)
  row(`raw ECDSA P-256 verify, ${payloadBytes}-byte payload PAE (1 thread)`, rawVerify, 'verifies/s')

  const cluster = await startPostgresCluster()
  const dir = await mkdtemp(join(tmpdir(), 'ledger-bench-pg-'))
  const children: LogChild[] = []
  try {
    // Warm-up on LevelDB sizes the timed phases: enough bodies for LOAD_SECONDS at that rate.
    const level = spawnLog(['--data', join(dir, 'level'), '--port', '0', '--origin', ORIGIN])
    children.push(level)
    const levelUrl = await started(level)
    const warm = await submitAllTimed(levelUrl, presign(rebuilders, 'warm', 3000))
    const count = Math.min(300_000, Math.ceil((warm.count / warm.seconds) * LOAD_SECONDS))
    const levelRate = await ingest(
      'LevelDB, 1 process, 64 clients',
      [levelUrl],
      presign(rebuilders, 'level', count),
    )
    await level.stop()

    // One PostgreSQL process.
    const url = await cluster.createDatabase()
    const pgArgs = ['--data', join(dir, 'pg'), '--store', url, '--port', '0', '--origin', ORIGIN]
    pgArgs.push('--commits-in-flight', String(COMMITS_IN_FLIGHT))
    const first = spawnLog(pgArgs)
    children.push(first)
    const firstUrl = await started(first)
    await submitAllTimed(firstUrl, presign(rebuilders, 'pg-warm', 2000))
    const pgOne = await ingest(
      'PostgreSQL, 1 process, 64 clients',
      [firstUrl],
      presign(rebuilders, 'pg-one', count),
    )
    ratio('PostgreSQL (1 process) : LevelDB ingest', pgOne, levelRate, '>= 0.5')

    // Two processes on the same database; the first still sequences.
    const second = spawnLog(pgArgs)
    children.push(second)
    const secondUrl = await started(second)
    const pgTwo = await ingest(
      'PostgreSQL, 2 processes, 32 clients each',
      [firstUrl, secondUrl],
      presign(rebuilders, 'pg-two', count),
    )
    ratio('PostgreSQL 2 processes : 1 process', pgTwo, pgOne)
    ratio('PostgreSQL (2 processes) : raw verify/s', pgTwo, rawVerify)

    // Reads from each process: full hash tiles and lookups of digests with REBUILDERS entries each.
    const size = Number((await (await fetch(`${firstUrl}/checkpoint`)).text()).split('\n')[1] ?? '0')
    const tilePaths = Array.from(
      { length: Math.floor(size / TILE_WIDTH) },
      (_, i) => '/' + tilePath({ level: 0, index: BigInt(i), width: TILE_WIDTH }),
    )
    const perRebuilder = Math.floor(count / REBUILDERS)
    const lookups = Array.from({ length: 1000 }, (_, i) => {
      const statement = rebuildStatement('pg-one', Math.floor((i * perRebuilder) / 1000))
      return `/api/v1/lookup?digest=sha256:${statement.subject[0]!.digest.sha256}`
    })
    for (const [name, base] of [
      ['sequencing process', firstUrl],
      ['other process', secondUrl],
    ] as const) {
      let n = 0
      getRow(
        `PostgreSQL ${name}: GET full hash tiles, ${CLIENTS} conns`,
        await getLoad(base, () => tilePaths[n++ % tilePaths.length]!, CLIENTS, GET_SECONDS),
      )
      getRow(
        `PostgreSQL ${name}: GET lookup (${REBUILDERS} matches), ${CLIENTS} conns`,
        await getLoad(base, () => lookups[n++ % lookups.length]!, CLIENTS, GET_SECONDS),
      )
    }
    for (const child of children) await child.stop()

    // The sequencer's ceiling: pre-verified leaves straight into the real Sequencer over PostgresStore,
    // in a process of its own (sequencer-ceiling.ts).
    const { cold, ceiling, cpuMicrosPerEntry } = await sequencerCeiling(await cluster.createDatabase())
    row(
      `sequencer on PostgreSQL, first ${CEILING_WARM_UP.toLocaleString('en-US')} entries (cold)`,
      cold,
      'entries/s',
    )
    row(
      `sequencer ceiling on PostgreSQL (pre-verified leaves, ${COMMITS_IN_FLIGHT} commits in flight)`,
      ceiling,
      'entries/s',
    )
    row("  its process's CPU per entry", cpuMicrosPerEntry, 'µs')
    ratio('sequencer ceiling : 20,000', ceiling, 20_000, '>= 1')
    ratio('front ends one sequencer feeds (ceiling : 1-process ingest)', ceiling, pgOne)
  } finally {
    for (const child of children) await child.kill9()
    await cluster.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
