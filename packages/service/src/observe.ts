// What every service offers its operator: structured request logs (pino), Prometheus metrics (prom-client)
// and health answers. The services decide what they measure and when they are ready; this is the plumbing.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { pino, type DestinationStream, type Logger } from 'pino'
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export type { Logger } from 'pino'

/** The levels `--log-level` takes, quietest last. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
/** The `--log-level` value check (an OptionSpec `item`-style pattern for the help text). */
export const LOG_LEVEL_RE = new RegExp(`^(?:${LOG_LEVELS.join('|')})$`)

export function isLogLevel(text: string): text is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(text)
}

/**
 * A JSON-lines logger (pino) for service `name`, on stdout unless `destination` is given. Every line has
 * `level`, `time` (ISO 8601), `service` and `msg`.
 */
export function createLogger(name: string, level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  }
  return destination === undefined ? pino(options) : pino(options, destination)
}

/** A registry for one service instance (several may run in one process, as in tests). */
export function createRegistry(): Registry {
  return new Registry()
}

let processRegistry: Registry | undefined

/**
 * The process's own metrics (CPU, memory, event loop lag, GC), collected once per process whatever the
 * number of services in it, under `process_` and `nodejs_`.
 */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

/** Request durations by method, route template and status: `<prefix>http_request_duration_seconds`. */
export function httpDurationHistogram(
  registry: Registry,
  prefix: string,
): Histogram<'method' | 'route' | 'status'> {
  return new Histogram({
    name: `${prefix}http_request_duration_seconds`,
    help: 'HTTP requests by method, route template and status, and how long they took (seconds)',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
}

/** A request id a client may choose: short, and nothing a log line could be forged with. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/

export interface ObserveOptions {
  /** Where request lines go (level info); none: no request log. */
  logger?: Logger
  /**
   * The route template of a request (`/api/v1/entries/:index`), from a fixed set: logs and metric labels
   * never carry raw paths or query strings (which may hold anything a client sent).
   */
  routeOf(method: string, path: string): string
  duration?: Histogram<'method' | 'route' | 'status'>
  /** Called once per request when its answer is finished or the connection closed. */
  done?(route: string, status: number, seconds: number): void
}

/**
 * Wraps a request listener: each request gets an id (the client's `X-Request-Id` when it is short and
 * plain, else a random UUID; echoed in the answer's `X-Request-Id`), and once it is over one log line
 * `{reqId, method, route, status, durationMs}` and one observation of the duration histogram. Never the
 * body, the query string, headers or anything else the client sent.
 */
export function observeRequests(inner: RequestListener, options: ObserveOptions): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint()
    const given = req.headers['x-request-id']
    const reqId = typeof given === 'string' && CLIENT_REQUEST_ID.test(given) ? given : randomUUID()
    res.setHeader('X-Request-Id', reqId)
    const method = req.method ?? 'GET'
    const path = (req.url ?? '/').split('?', 1)[0]!
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const route = options.routeOf(method, path)
      // An answer cut before it was sent (the client went away) is logged with status 0.
      const status = res.headersSent ? res.statusCode : 0
      options.duration?.observe({ method, route, status: String(status) }, seconds)
      options.done?.(route, status, seconds)
      options.logger?.info(
        { reqId, method, route, status, durationMs: Math.round(seconds * 1e6) / 1e3 },
        'request',
      )
    })
    inner(req, res)
  }
}

/** Sends the registry, with the process's metrics, in the Prometheus text format. */
export async function sendMetrics(registry: Registry, res: ServerResponse): Promise<void> {
  const text = await Registry.merge([registry, processMetrics()]).metrics()
  res.writeHead(200, {
    'Content-Type': registry.contentType,
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text),
  })
  res.end(text)
}

/** Sends a JSON health answer: `/healthz` and `/readyz` bodies are small objects, never cached. */
export function sendHealth(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text),
  })
  res.end(text)
}
