// What the log offers its operator and the people who look at it, beside the APIs: /healthz, /readyz,
// /metrics, the request log, and (pages.ts) the status pages. Mounted around the request handler in
// server.ts; the log's parts are only read here, through the hooks they expose.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import {
  createRegistry,
  httpDurationHistogram,
  observeRequests,
  sendHealth,
  sendMetrics,
  type Logger,
} from '@ledger/service'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { ClusterNode } from './cluster-node.js'
import { LogServerError } from './errors.js'
import { sendError } from './http.js'
import type { Ingest } from './ingest.js'
import { LocalNode, type LogNode } from './node.js'
import type { SequencerObserver } from './sequencer.js'
import type { LogStore } from './store.js'
import type { VerifyPool } from './verify-pool.js'
import type { WitnessingObserver } from './witnessing.js'
import { witnessState, type WitnessState } from './witness-state.js'

const PREFIX = 'ledger_log_'

/**
 * The route template of a request to the log, from a fixed set (metric labels and log lines never carry
 * a raw path).
 */
export function logRoute(method: string, path: string): string {
  if (path === '/checkpoint') return '/checkpoint'
  if (path.startsWith('/tile/entries/')) return '/tile/entries/:n'
  if (path.startsWith('/tile/')) return '/tile/:level/:n'
  if (path === '/index/checkpoint') return '/index/checkpoint'
  if (path.startsWith('/index/tile/entries/')) return '/index/tile/entries/:n'
  if (path.startsWith('/index/tile/')) return '/index/tile/:level/:n'
  if (path === '/api/v1/entries') return method === 'POST' ? '/api/v1/entries' : 'unmatched'
  if (path.startsWith('/api/v1/entries/')) return '/api/v1/entries/:index'
  if (path.startsWith('/ui/digest/')) return '/ui/digest/:digest'
  if (path.startsWith('/badge/')) return '/badge/:digest'
  const fixed = [
    '/api/v1/proof/inclusion',
    '/api/v1/proof/consistency',
    '/api/v1/lookup',
    '/api/v1/index/lookup',
    '/api/v1/log',
    '/metrics',
    '/healthz',
    '/readyz',
    '/',
  ]
  return fixed.includes(path) ? path : 'unmatched'
}

/**
 * The log's metrics. Created before the log's parts so that their hooks (`sequencer`, `witnessing`,
 * `submitted`) can be handed to them; `attach` then adds the gauges read at scrape time.
 */
export class LogMetrics {
  readonly registry: Registry = createRegistry()
  readonly http = httpDurationHistogram(this.registry, PREFIX)
  private readonly submissions = new Counter({
    name: `${PREFIX}submissions_total`,
    help: 'Submissions answered, by result code: CREATED, EXISTING, or the error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  })
  private readonly batchEntries = new Histogram({
    name: `${PREFIX}batch_entries`,
    help: 'New entries per committed batch',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
    registers: [this.registry],
  })
  private readonly commitSeconds = new Histogram({
    name: `${PREFIX}commit_duration_seconds`,
    help: 'Durable store commit of one batch (seconds)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  })
  private readonly indexedKeys = new Counter({
    name: `${PREFIX}index_keys_written_total`,
    help: 'Lookup index keys (subject digests and source commits) written by this process',
    registers: [this.registry],
  })
  private readonly witnessRequests = new Counter({
    name: `${PREFIX}witness_requests_total`,
    help: 'Cosignature requests to each witness, by result: cosigned, refused, failed, timeout',
    labelNames: ['witness', 'result'] as const,
    registers: [this.registry],
  })
  private readonly witnessSeconds = new Histogram({
    name: `${PREFIX}witness_request_duration_seconds`,
    help: 'One cosignature exchange with a witness (seconds)',
    labelNames: ['witness'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  })
  readonly lookupSeconds = new Histogram({
    name: `${PREFIX}lookup_duration_seconds`,
    help: 'Answered lookups (GET /api/v1/lookup, status 200), request to answer (seconds)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  })

  readonly sequencer: SequencerObserver = {
    committed: (entries, seconds) => {
      this.batchEntries.observe(entries)
      this.commitSeconds.observe(seconds)
    },
  }

  readonly witnessing: WitnessingObserver = {
    exchanged: (witness, result, seconds) => {
      this.witnessRequests.inc({ witness, result })
      this.witnessSeconds.observe({ witness }, seconds)
    },
  }

  readonly submitted = (code: string): void => {
    this.submissions.inc({ code })
  }

  /** Adds the gauges read at scrape time, and counts index keys of this process's commits. */
  attach(parts: { node: LogNode; ingest: Ingest; pool: VerifyPool }): void {
    const { node, ingest, pool } = parts
    node.onCommit((_head, batch) => {
      let keys = 0
      for (const entry of batch.entries) keys += entry.digests.length + entry.commits.length
      this.indexedKeys.inc(keys)
    })
    new Gauge({
      name: `${PREFIX}tree_size`,
      help: 'Entries in the tree of the newest committed checkpoint, and of the served one',
      labelNames: ['checkpoint'] as const,
      registers: [this.registry],
      collect() {
        this.set({ checkpoint: 'committed' }, Number(node.head.size))
        this.set({ checkpoint: 'served' }, Number(node.served().size))
      },
    })
    new Gauge({
      name: `${PREFIX}submissions_in_progress`,
      help: 'Submissions admitted and not yet answered (the queue --queue-limit bounds)',
      registers: [this.registry],
      collect() {
        this.set(ingest.inProgressCount)
      },
    })
    new Gauge({
      name: `${PREFIX}sequencer_queue`,
      help: 'Verified entries waiting for a batch in this process (0 where it does not sequence)',
      registers: [this.registry],
      collect() {
        this.set(node instanceof LocalNode ? node.sequencer.queued : 0)
      },
    })
    new Gauge({
      name: `${PREFIX}verify_bodies`,
      help: 'Submissions waiting for a verify worker (queued) and at the workers (in_flight)',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const load = pool.load
        this.set({ state: 'queued' }, load.queued)
        this.set({ state: 'in_flight' }, load.inFlight)
      },
    })
    new Gauge({
      name: `${PREFIX}verify_workers`,
      help: 'Signature verification worker threads',
      registers: [this.registry],
      collect() {
        this.set(pool.load.workers)
      },
    })
  }
}

export interface OperationsContext {
  metrics: LogMetrics
  node: LogNode
  ingest: Ingest
  store: LogStore
  /** The log's note verifier key, and the configured witnesses (verifier keys) with their quorum. */
  verifierKey: string
  witnesses: readonly string[]
  quorum: number
  logger?: Logger
  /** The status pages (pages.ts): answers GET requests it knows, returns false for the others. */
  pages?: (req: IncomingMessage, path: string, query: URLSearchParams, res: ServerResponse) => boolean
}

/** The readiness of a log process: what /readyz answers. */
export async function readiness(
  ctx: OperationsContext,
): Promise<{ ready: boolean; body: Record<string, unknown> }> {
  let store = 'ok'
  try {
    await ctx.store.readState()
  } catch {
    store = 'failed'
  }
  const frontEnd = ctx.ingest.isClosing ? 'closing' : 'ok'
  const sequencer =
    ctx.node instanceof ClusterNode ? (ctx.node.isSequencer ? 'sequencing' : 'following') : 'sequencing'
  let witnesses: WitnessState | undefined
  if (ctx.witnesses.length > 0) {
    witnesses = witnessState(ctx.node.served().checkpoint, ctx.verifierKey, ctx.witnesses, ctx.quorum)
  }
  const ready = store === 'ok' && frontEnd === 'ok'
  return {
    ready,
    body: {
      ready,
      store,
      frontEnd,
      sequencer,
      treeSize: Number(ctx.node.head.size),
      servedSize: Number(ctx.node.served().size),
      ...(witnesses !== undefined
        ? {
            witnesses: {
              configured: ctx.witnesses.length,
              quorum: ctx.quorum,
              cosigned: witnesses.cosigned.length,
              quorumMet: witnesses.quorumMet,
            },
          }
        : {}),
    },
  }
}

/**
 * Wraps the log's request handler: GET /healthz (alive: 200 while the process answers), GET /readyz (200
 * when the store answers and submissions are taken, else 503; the witness quorum state is reported but a
 * witness outage does not make the log unready, since it keeps sequencing), GET /metrics, the status pages,
 * and the request log and duration metrics of every request.
 */
export function withOperations(ctx: OperationsContext, inner: RequestListener): RequestListener {
  const handler: RequestListener = (req, res) => {
    const method = req.method
    if (method === 'GET' || method === 'HEAD') {
      const url = req.url ?? '/'
      const at = url.indexOf('?')
      const path = at < 0 ? url : url.slice(0, at)
      if ((path === '/healthz' || path === '/readyz' || path === '/metrics') && at >= 0) {
        // As the JSON API does: a parameter these do not take is refused, not ignored.
        sendError(res, new LogServerError('MALFORMED_REQUEST', `${path} takes no query parameters`))
        return
      }
      if (path === '/healthz') {
        sendHealth(res, 200, { alive: true })
        return
      }
      if (path === '/readyz') {
        readiness(ctx).then(
          ({ ready, body }) => sendHealth(res, ready ? 200 : 503, body),
          () => sendHealth(res, 503, { ready: false }),
        )
        return
      }
      if (path === '/metrics') {
        sendMetrics(ctx.metrics.registry, res).catch(() => sendHealth(res, 500, { error: 'metrics failed' }))
        return
      }
      if (
        ctx.pages !== undefined &&
        ctx.pages(req, path, new URLSearchParams(at < 0 ? '' : url.slice(at + 1)), res)
      )
        return
    }
    inner(req, res)
  }
  return observeRequests(handler, {
    ...(ctx.logger !== undefined ? { logger: ctx.logger } : {}),
    routeOf: logRoute,
    duration: ctx.metrics.http,
    done: (route, status, seconds) => {
      if (route === '/api/v1/lookup' && status === 200) ctx.metrics.lookupSeconds.observe(seconds)
    },
  })
}
