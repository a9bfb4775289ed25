import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { MonitorConfig } from './config.js'
import { EXIT_ALERTS, EXIT_CLEAN, EXIT_CODE_BY_CODE, MonitorError } from './errors.js'
import { Monitor, type MonitorIo } from './monitor.js'

/** A health endpoint while following: 200 when the last pass succeeded recently, else 503. */
export interface HealthEndpoint {
  url: string
  close(): Promise<void>
}

interface Health {
  lastSuccess: number | undefined
  monitor: Monitor
}

async function startHealth(config: MonitorConfig, health: Health): Promise<HealthEndpoint> {
  // Three missed polls (at least a minute) make the monitor unhealthy.
  const staleAfter = Math.max(3 * config.intervalMs, 60_000)
  const server: Server = createServer((req, res) => {
    if (req.url !== '/healthz' || (req.method !== 'GET' && req.method !== 'HEAD')) {
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
  })
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
 * 3 when the log did not answer. Otherwise passes every `config.intervalMs` until `signal` aborts (then
 * 0); an unreachable log is reported on stderr and retried. Configuration and local failures: 2.
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
  const health: Health = { lastSuccess: undefined, monitor }
  let endpoint: HealthEndpoint | undefined
  try {
    if (config.once) {
      const result = await monitor.pass()
      const position = monitor.position
      io.stderr.write(
        `monitor: ${position?.origin ?? '?'} at size ${result.size}, ${result.indexed} entries verified, ${result.alerts.length} alert(s)\n`,
      )
      return result.alerts.length > 0 ? EXIT_ALERTS : EXIT_CLEAN
    }
    if (config.healthPort !== undefined) {
      endpoint = await startHealth(config, health)
      options.onHealth?.(endpoint)
    }
    while (!options.signal?.aborted) {
      try {
        await monitor.pass()
        health.lastSuccess = Date.now()
      } catch (err) {
        if (!(err instanceof MonitorError) || err.code !== 'LOG_UNREACHABLE') throw err
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
