import type { RequestListener, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { MonitorConfig } from './config.js'
import { EXIT_ALERTS, EXIT_CLEAN, EXIT_CODE_BY_CODE, MonitorError } from './errors.js'
import { Monitor, type MonitorIo, type PassResult } from './monitor.js'
import {
  DEFAULT_HTTP_LIMITS,
  createLimitedServer,
  createLogger,
  createRegistry,
  httpDurationHistogram,
  observeRequests,
  sendHealth,
  sendMetrics,
} from '@ledger/service'
import { Counter, Gauge } from 'prom-client'

/**
 * The operator endpoint while following: GET /healthz (200 when the last pass succeeded recently, else
 * 503), GET /readyz (200 once a pass succeeded) and GET /metrics (Prometheus).
 */
export interface HealthEndpoint {
  url: string
  close(): Promise<void>
}

interface Health {
  lastSuccess: number | undefined
  monitor: Monitor
  metrics: MonitorMetrics
}

const PREFIX = 'ledger_monitor_'

/** The monitor's metrics: its progress through the log, its passes and its alerts. */
class MonitorMetrics {
  readonly registry = createRegistry()
  readonly http = httpDurationHistogram(this.registry, PREFIX)
  readonly passes = new Counter({
    name: `${PREFIX}passes_total`,
    help: 'Passes over the log, by result: ok, or unreachable (the log did not answer)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  })
  readonly alerts = new Counter({
    name: `${PREFIX}alerts_total`,
    help: 'Alerts raised, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  })
  readonly lastPass = new Gauge({
    name: `${PREFIX}last_pass_timestamp_seconds`,
    help: 'When the last successful pass ended (POSIX seconds)',
    registers: [this.registry],
  })

  constructor(monitor: Monitor) {
    new Gauge({
      name: `${PREFIX}entries_audited`,
      help: 'Entries re-verified and indexed (the monitor audits the log from index 0 up to this)',
      registers: [this.registry],
      collect() {
        this.set(Number(monitor.position?.indexed ?? 0n))
      },
    })
    new Gauge({
      name: `${PREFIX}log_size`,
      help: 'Size of the newest checkpoint of the log the monitor verified',
      registers: [this.registry],
      collect() {
        this.set(Number(monitor.position?.size ?? 0n))
      },
    })
    new Gauge({
      name: `${PREFIX}lag_entries`,
      help: 'Entries of the newest verified checkpoint not yet audited',
      registers: [this.registry],
      collect() {
        const position = monitor.position
        this.set(position === undefined ? 0 : Number(position.size - position.indexed))
      },
    })
  }

  passed(result: PassResult): void {
    this.passes.inc({ result: 'ok' })
    for (const alert of result.alerts) this.alerts.inc({ type: alert.type })
    this.lastPass.set(Date.now() / 1000)
  }
}

const MONITOR_ROUTES = ['/healthz', '/readyz', '/metrics']

async function startHealth(config: MonitorConfig, health: Health, io: MonitorIo): Promise<HealthEndpoint> {
  // Three missed polls (at least a minute) make the monitor unhealthy.
  const staleAfter = Math.max(3 * config.intervalMs, 60_000)
  // Request lines go to stderr: stdout carries the alerts, one JSON line each, for whoever reads them.
  const logger = createLogger('monitor', config.logLevel, { write: (line: string) => io.stderr.write(line) })
  const observe = (handler: RequestListener): RequestListener =>
    observeRequests(handler, {
      logger,
      routeOf: (_method, path) => (MONITOR_ROUTES.includes(path) ? path : 'unmatched'),
      duration: health.metrics.http,
    })
  // The operator endpoint has few clients (a probe, Prometheus): the shared limits on slow and greedy ones.
  const server: Server = createLimitedServer(
    DEFAULT_HTTP_LIMITS,
    observe((req, res) => {
      const path = (req.url ?? '').split('?', 1)[0]
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n')
        return
      }
      if (path === '/metrics') {
        sendMetrics(health.metrics.registry, res).catch(() => res.destroy())
        return
      }
      if (path === '/readyz') {
        // Ready once a pass succeeded: the store is open and the log was followed at least once.
        const ready = health.lastSuccess !== undefined
        sendHealth(res, ready ? 200 : 503, {
          ready,
          store: 'ok',
          lastPass: ready ? new Date(health.lastSuccess!).toISOString() : null,
        })
        return
      }
      if (path !== '/healthz') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n')
        return
      }
      const fresh = health.lastSuccess !== undefined && Date.now() - health.lastSuccess < staleAfter
      const position = health.monitor.position
      const body = JSON.stringify({
        ok: fresh,
        origin: position?.origin ?? null,
        size: position?.size.toString() ?? null,
        indexed: position?.indexed.toString() ?? null,
        lastPass: health.lastSuccess === undefined ? null : new Date(health.lastSuccess).toISOString(),
      })
      res
        .writeHead(fresh ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
        .end(body)
    }),
  )
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.healthPort, config.healthHost, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://${config.healthHost.includes(':') ? `[${config.healthHost}]` : config.healthHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** Hooks for tests and the CLI. */
export interface RunMonitorOptions {
  /** Stops following (ignored with `once`). */
  signal?: AbortSignal
  /** Called once the health endpoint listens (when config.healthPort is set). */
  onHealth?: (endpoint: HealthEndpoint) => void
}

/**
 * Runs the monitor as `npm run start:monitor` and `attest monitor` do, and returns the exit code.
 * With `config.once`: one pass up to the current checkpoint; 0 when it raised no alert, 1 when it did,
 * 4 when the log did not answer; the pass's summary on stderr. Otherwise passes every `config.intervalMs`
 * until `signal` aborts (then 0), with the summary on stderr after the first pass and whenever the position
 * moved; an unreachable log is reported on stderr and retried. Configuration and local failures: 2.
 * Never throws.
 */
export async function runMonitor(
  config: MonitorConfig,
  io: MonitorIo,
  options: RunMonitorOptions = {},
): Promise<number> {
  let monitor: Monitor
  try {
    monitor = await Monitor.open(config, io)
  } catch (err) {
    io.stderr.write(`monitor: ${(err as Error).message}\n`)
    return err instanceof MonitorError ? EXIT_CODE_BY_CODE[err.code] : EXIT_CODE_BY_CODE.INTERNAL
  }
  const health: Health = { lastSuccess: undefined, monitor, metrics: new MonitorMetrics(monitor) }
  let endpoint: HealthEndpoint | undefined
  try {
    const summary = (result: PassResult) =>
      `monitor: ${monitor.position?.origin ?? '?'} at size ${result.size}, ${result.indexed} entries verified, ${result.alerts.length} alert(s)\n`
    if (config.once) {
      const result = await monitor.pass()
      io.stderr.write(summary(result))
      return result.alerts.length > 0 ? EXIT_ALERTS : EXIT_CLEAN
    }
    if (config.healthPort !== undefined) {
      endpoint = await startHealth(config, health, io)
      options.onHealth?.(endpoint)
    }
    // While following, the summary is printed after the first pass and whenever a pass moved the position
    // or raised alerts: an operator sees that the monitor audits, without a line every interval.
    let printed: string | undefined
    while (!options.signal?.aborted) {
      try {
        const result = await monitor.pass()
        health.metrics.passed(result)
        health.lastSuccess = Date.now()
        const position = `${result.size}/${result.indexed}`
        if (position !== printed || result.alerts.length > 0) io.stderr.write(summary(result))
        printed = position
      } catch (err) {
        if (!(err instanceof MonitorError) || err.code !== 'LOG_UNREACHABLE') throw err
        health.metrics.passes.inc({ result: 'unreachable' })
        io.stderr.write(`monitor: ${err.message}; retrying\n`)
      }
      await sleep(config.intervalMs, options.signal)
    }
    return EXIT_CLEAN
  } catch (err) {
    io.stderr.write(`monitor: ${(err as Error).message}\n`)
    return err instanceof MonitorError ? EXIT_CODE_BY_CODE[err.code] : EXIT_CODE_BY_CODE.INTERNAL
  } finally {
    await endpoint?.close()
    await monitor.close()
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
