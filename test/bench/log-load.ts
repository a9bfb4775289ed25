// What the log benchmarks share: the unit (raw signature verifications/s), pre-signed submissions, timed
// submission phases against a server process with CPU accounting, and GET rows.
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { IN_TOTO_PAYLOAD_TYPE, dssePAE, encodeLogEntry, publicKeyFromPEM } from '@ledger/attestation'
import { requestLoad, type LoadResult } from '../support/http-load.js'
import { signSubmissionsFast, type Rebuilder } from '../support/load.js'
import { percentile, rate, row } from './measure.js'

export const CLIENTS = 64

export function rawVerifyRate(payloadBytes: number): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pae = dssePAE(IN_TOTO_PAYLOAD_TYPE, Buffer.alloc(payloadBytes, 0x61))
  const signature = sign('sha256', pae, { key: privateKey, dsaEncoding: 'der' })
  return rate(() => {
    if (!verify('sha256', pae, publicKey, signature)) throw new Error('raw verify failed')
  }, 2)
}

export interface SubmitRun {
  count: number
  seconds: number
  latencies: number[]
  failures: Map<string, number>
}

/**
 * Sends every body with `clients` keep-alive connections, one request in flight on each (raw sockets: see
 * http-load.ts); returns the rate and sorted latencies.
 */
export async function submitAllTimed(
  url: string,
  bodies: readonly string[],
  clients = CLIENTS,
): Promise<SubmitRun> {
  let next = 0
  const load = await requestLoad(
    url,
    () => (next < bodies.length ? { path: '/api/v1/entries', body: bodies[next++]! } : undefined),
    clients,
    { expect: 201 },
  )
  return { count: load.requests, seconds: load.seconds, latencies: load.latencies, failures: load.failures }
}

export function presign(rebuilders: readonly Rebuilder[], series: string, count: number): string[] {
  const per = Math.ceil(count / rebuilders.length)
  const lists = rebuilders.map((r) => signSubmissionsFast(r, series, 0, per))
  // Interleaved, so consecutive submissions come from different keys as they would from many clients.
  const out: string[] = []
  for (let i = 0; i < per && out.length < count; i++) {
    for (const list of lists) if (out.length < count) out.push(list[i]!)
  }
  return out
}

export function getRow(label: string, result: LoadResult): number {
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
export async function submitPhase(
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

/**
 * A real leaf of this bench's statements (DESIGN §4), signed by `rebuilder`; benches vary bytes 20..23
 * (inside the signature) per entry so that no two leaves hash alike.
 */
export function realLeafTemplate(rebuilder: Rebuilder, series: string): Buffer {
  const submitted = JSON.parse(signSubmissionsFast(rebuilder, series, 0, 1)[0]!) as {
    bundle: { dsseEnvelope: { payload: string; signatures: { sig: string }[] } }
    publicKey: string
  }
  const key = publicKeyFromPEM(submitted.publicKey)
  return Buffer.from(
    encodeLogEntry({
      payload: Buffer.from(submitted.bundle.dsseEnvelope.payload, 'base64'),
      signature: Buffer.from(submitted.bundle.dsseEnvelope.signatures[0]!.sig, 'base64'),
      spkiDer: key.spkiDer,
      keyDetails: key.keyDetails,
    }),
  )
}
