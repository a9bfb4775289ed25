// What an operator sees: /healthz, /readyz and /metrics on a real log with a real witness and a real
// monitor, the metrics parsed with a strict Prometheus text parser and checked against the work done,
// and the log's JSON request lines (fields present, no submission body, no key material).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildStatement, generateKeyPair, signStatement, type GeneratedKeyPair } from '@ledger/attestation'
import {
  defaultConfig as logDefaults,
  parseConfig,
  startLogServer,
  type RunningLog,
} from '@ledger/log-server'
import { parseConfig as parseMonitorConfig, runMonitor, type HealthEndpoint } from '@ledger/monitor'
import { createLogger } from '@ledger/service'
import { defaultConfig as witnessDefaults, startWitness, type RunningWitness } from '@ledger/witness'
import { parsePrometheusText, sampleValue, type MetricFamily } from './support/prometheus.js'

const ORIGIN = 'operate.example/log'
const COMMIT = 'cd'.repeat(20)
const CREATED = 5
let dir: string
let log: RunningLog
let witness: RunningWitness
let rebuilder: GeneratedKeyPair
const logLines: string[] = []
const bodies: string[] = []
/** Every metric family scraped from the three services. */
const exported = new Set<string>()

function submission(n: number): Promise<string> {
  const statement = buildStatement({
    artifacts: [{ name: `op-${n}.tgz`, sha256: (n + 1).toString(16).padStart(64, '0') }],
    source: { uri: 'git+https://github.com/example/operate', commit: COMMIT },
    builderId: 'https://rebuilder.example/operate',
  })
  return signStatement(statement, rebuilder.privateKeyPem).then((bundle) =>
    JSON.stringify({ bundle, publicKey: rebuilder.publicKeyPem }),
  )
}

async function post(body: string, type = 'application/json', reqId?: string): Promise<Response> {
  const res = await fetch(`${log.url}/api/v1/entries`, {
    method: 'POST',
    headers: { 'content-type': type, ...(reqId !== undefined ? { 'x-request-id': reqId } : {}) },
    body,
  })
  await res.arrayBuffer()
  return res
}

async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  const res = await fetch(`${url}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  const families = parsePrometheusText(await res.text())
  for (const name of families.keys()) exported.add(name)
  return families
}

/** Waits for a condition the log reaches by itself (a witnessed checkpoint), checking after each tick. */
async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((wake) => setTimeout(wake, 20))
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'operate-'))
  rebuilder = generateKeyPair('ecdsa-p256')
  const logConfig = { ...logDefaults(), dataDir: join(dir, 'log'), port: 0, origin: ORIGIN, verifyWorkers: 1 }
  // First start: the log key; then the witness that knows it; then the log with its witness.
  const first = await startLogServer(logConfig)
  await first.close()
  await writeFile(join(dir, 'logs.policy'), `log ${first.verifierKey}\n`)
  witness = await startWitness({
    ...witnessDefaults(),
    dataDir: join(dir, 'witness'),
    port: 0,
    logsFile: join(dir, 'logs.policy'),
  })
  log = await startLogServer(
    {
      ...logConfig,
      witnesses: [{ url: witness.url, verifierKey: witness.verifierKey }],
      witnessTimeoutMs: 60_000,
    },
    { logger: createLogger('log', 'info', { write: (line: string) => void logLines.push(line) }) },
  )
})

afterAll(async () => {
  await log?.close()
  await witness?.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('the log, the witness and the monitor, operated', () => {
  it('answers /healthz and /readyz, with the witness quorum state', async () => {
    const health = await fetch(`${log.url}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ alive: true })
    const ready = await fetch(`${log.url}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({
      ready: true,
      store: 'ok',
      frontEnd: 'ok',
      sequencer: 'sequencing',
      witnesses: { configured: 1, quorum: 1 },
    })
    for (const path of ['/healthz?x=1', '/readyz?verbose', '/metrics?name[]=a']) {
      const refused = await fetch(`${log.url}${path}`)
      expect(refused.status, path).toBe(400)
      expect(await refused.json(), path).toMatchObject({ error: { code: 'MALFORMED_REQUEST' } })
    }
    expect((await fetch(`${witness.url}/healthz`)).status).toBe(200)
    const witnessReady = await fetch(`${witness.url}/readyz`)
    expect(witnessReady.status).toBe(200)
    expect(await witnessReady.json()).toEqual({ ready: true, store: 'ok' })
  })

  it('counts what it did: submissions by result code, batches, tree size, witness exchanges, lookups', async () => {
    for (let n = 0; n < CREATED; n++) {
      const body = await submission(n)
      bodies.push(body)
      expect((await post(body, 'application/json', n === 0 ? 'client-chosen.id-1' : undefined)).status).toBe(
        201,
      )
    }
    expect((await post(bodies[0]!)).status).toBe(200)
    expect((await post('{"bundle": {}, "publicKey": "x"}')).status).toBe(422)
    expect((await post(bodies[1]!, 'text/plain')).status).toBe(415)
    for (let n = 0; n < 2; n++) {
      const res = await fetch(`${log.url}/api/v1/lookup?commit=${COMMIT}`)
      expect(res.status).toBe(200)
      await res.arrayBuffer()
    }
    // The witness cosigns the newest checkpoint by itself; wait for it to be served.
    await until(async () => {
      const body = (await (await fetch(`${log.url}/readyz`)).json()) as { servedSize: number }
      return body.servedSize === CREATED
    })

    const m = await scrape(log.url)
    expect(sampleValue(m, 'ledger_log_submissions_total', { code: 'CREATED' })).toBe(CREATED)
    expect(sampleValue(m, 'ledger_log_submissions_total', { code: 'EXISTING' })).toBe(1)
    expect(sampleValue(m, 'ledger_log_submissions_total', { code: 'INVALID_SUBMISSION' })).toBe(1)
    expect(sampleValue(m, 'ledger_log_submissions_total', { code: 'UNSUPPORTED_MEDIA_TYPE' })).toBe(1)
    const codes = m.get('ledger_log_submissions_total')!.samples.map((s) => s.labels.code)
    expect(codes.sort()).toEqual(['CREATED', 'EXISTING', 'INVALID_SUBMISSION', 'UNSUPPORTED_MEDIA_TYPE'])
    // Every new entry went into exactly one committed batch; each batch had one store commit.
    expect(sampleValue(m, 'ledger_log_batch_entries_sum')).toBe(CREATED)
    const batches = sampleValue(m, 'ledger_log_batch_entries_count')
    expect(batches).toBeGreaterThanOrEqual(1)
    expect(batches).toBeLessThanOrEqual(CREATED)
    expect(sampleValue(m, 'ledger_log_commit_duration_seconds_count')).toBe(batches)
    expect(sampleValue(m, 'ledger_log_batch_entries_bucket', { le: '+Inf' })).toBe(batches)
    // One subject digest and one commit per entry.
    expect(sampleValue(m, 'ledger_log_index_keys_written_total')).toBe(2 * CREATED)
    expect(sampleValue(m, 'ledger_log_tree_size', { checkpoint: 'committed' })).toBe(CREATED)
    expect(sampleValue(m, 'ledger_log_tree_size', { checkpoint: 'served' })).toBe(CREATED)
    expect(sampleValue(m, 'ledger_log_submissions_in_progress')).toBe(0)
    expect(sampleValue(m, 'ledger_log_sequencer_queue')).toBe(0)
    expect(sampleValue(m, 'ledger_log_verify_workers')).toBe(1)
    expect(sampleValue(m, 'ledger_log_verify_bodies', { state: 'queued' })).toBe(0)
    expect(sampleValue(m, 'ledger_log_lookup_duration_seconds_count')).toBe(2)
    expect(
      sampleValue(m, 'ledger_log_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/api/v1/entries',
        status: '201',
      }),
    ).toBe(CREATED)
    const name = witness.name
    const cosigned = sampleValue(m, 'ledger_log_witness_requests_total', {
      witness: name,
      result: 'cosigned',
    })
    expect(cosigned).toBeGreaterThanOrEqual(1)
    expect(sampleValue(m, 'ledger_log_witness_request_duration_seconds_count', { witness: name })).toBe(
      m.get('ledger_log_witness_requests_total')!.samples.reduce((sum, s) => sum + s.value, 0),
    )
    // The process's own metrics are there too.
    expect(m.has('process_cpu_user_seconds_total')).toBe(true)

    // The witness answered 200 exactly as often as the log counted a cosignature.
    const w = await scrape(witness.url)
    expect(sampleValue(w, 'ledger_witness_add_checkpoint_total', { status: '200' })).toBe(cosigned)
    expect(sampleValue(w, 'ledger_witness_add_checkpoint_duration_seconds_count')).toBe(
      w.get('ledger_witness_add_checkpoint_total')!.samples.reduce((sum, s) => sum + s.value, 0),
    )
    const ready = (await (await fetch(`${log.url}/readyz`)).json()) as Record<string, unknown>
    expect(ready.witnesses).toEqual({ configured: 1, quorum: 1, cosigned: 1, quorumMet: true })
  })

  it('writes one JSON line per request: id, method, route, status, duration; never a body or a key', async () => {
    const lines = logLines
      .join('')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    const posts = lines.filter((l) => l.route === '/api/v1/entries' && l.method === 'POST')
    expect(posts.map((l) => l.status).sort()).toEqual([200, 201, 201, 201, 201, 201, 415, 422])
    for (const line of posts) {
      expect(line).toMatchObject({ level: 'info', service: 'log', msg: 'request' })
      expect(typeof line.reqId).toBe('string')
      expect(typeof line.durationMs).toBe('number')
      expect(typeof line.time).toBe('string')
      expect(Object.keys(line).sort()).toEqual(
        ['durationMs', 'level', 'method', 'msg', 'reqId', 'route', 'service', 'status', 'time'].sort(),
      )
    }
    expect(posts.some((l) => l.reqId === 'client-chosen.id-1')).toBe(true)
    expect(lines.some((l) => l.route === '/api/v1/lookup' && l.status === 200)).toBe(true)
    // Neither the submission, nor its signature or payload, nor the key, nor the query string.
    const all = logLines.join('')
    const bundle = (
      JSON.parse(bodies[0]!) as {
        bundle: { dsseEnvelope: { payload: string; signatures: { sig: string }[] } }
      }
    ).bundle
    expect(all).not.toContain(bundle.dsseEnvelope.payload.slice(0, 40))
    expect(all).not.toContain(bundle.dsseEnvelope.signatures[0]!.sig.slice(0, 40))
    expect(all).not.toContain('BEGIN PUBLIC KEY')
    expect(all).not.toContain(COMMIT)
  })

  it('takes its log level from --log-level or LEDGER_LOG_LEVEL, and refuses others', () => {
    const run = (args: string[], env: Record<string, string> = {}) => {
      const request = parseConfig(args, env)
      if (request.kind !== 'run') throw new Error('help')
      return request.config.logLevel
    }
    expect(run([])).toBe('info')
    expect(run(['--log-level', 'debug'])).toBe('debug')
    expect(run([], { LEDGER_LOG_LEVEL: 'silent' })).toBe('silent')
    expect(() => run(['--log-level', 'loud'])).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }))
  })

  it('the monitor: ready after a pass, entries audited, no lag, no alerts', async () => {
    const request = parseMonitorConfig(
      ['--log', log.url, '--log-key', log.verifierKey, '--data', join(dir, 'monitor'), '--health-port', '0'],
      {},
    )
    if (request.kind !== 'run') throw new Error('help')
    const controller = new AbortController()
    let endpoint: HealthEndpoint | undefined
    const stderr: string[] = []
    const io = { stdout: { write: () => true }, stderr: { write: (text: string) => stderr.push(text) } }
    const running = runMonitor({ ...request.config, workers: 0, sample: 2 }, io, {
      signal: controller.signal,
      onHealth: (e) => (endpoint = e),
    })
    await until(() => endpoint !== undefined)
    await until(async () => (await fetch(`${endpoint!.url}/readyz`)).status === 200)
    const m = await scrape(endpoint!.url)
    controller.abort()
    expect(await running).toBe(0)
    expect(sampleValue(m, 'ledger_monitor_entries_audited')).toBe(CREATED)
    expect(sampleValue(m, 'ledger_monitor_log_size')).toBe(CREATED)
    expect(sampleValue(m, 'ledger_monitor_lag_entries')).toBe(0)
    expect(sampleValue(m, 'ledger_monitor_passes_total', { result: 'ok' })).toBeGreaterThanOrEqual(1)
    expect(m.get('ledger_monitor_alerts_total')!.samples).toEqual([])
    // Its request lines go to stderr (stdout is for alerts), with the same fields as the log's.
    const requests = stderr
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(requests.some((l) => l.route === '/readyz' && l.status === 200 && l.service === 'monitor')).toBe(
      true,
    )
    for (const line of requests) expect(typeof line.reqId).toBe('string')
  })

  it('the Grafana dashboard plots only metrics the three services export', async () => {
    const dashboard = JSON.parse(
      await readFile(new URL('../deploy/grafana/ledger.json', import.meta.url), 'utf8'),
    ) as { panels: { title: string; targets: { expr: string }[] }[] }
    const plotted = new Set<string>()
    for (const panel of dashboard.panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0)
      for (const { expr } of panel.targets) {
        for (const [name] of expr.matchAll(/\bledger_[a-z_]+/g))
          plotted.add(name.replace(/_(?:bucket|sum|count)$/, ''))
      }
    }
    expect(plotted.size).toBeGreaterThanOrEqual(15)
    for (const name of plotted) expect(exported, name).toContain(name)
    // And the other way round: every ledger metric is on the dashboard.
    for (const name of exported) if (name.startsWith('ledger_')) expect(plotted, name).toContain(name)
  })
})
