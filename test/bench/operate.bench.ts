// What operating costs: the request wrapper (request id, duration histogram) and the JSON request log, on
// the cheapest answer there is (a bare handler) and on the log's GET /checkpoint; and one /metrics scrape.
// Figures and ratios come from the same run: `npm run bench -- operate`.
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultConfig, startLogServer } from '@ledger/log-server'
import { createLogger, createRegistry, httpDurationHistogram, observeRequests } from '@ledger/service'
import { getLoad } from '../support/http-load.js'
import { rateAsync, ratio, row } from './measure.js'

const CLIENTS = 32
const SECONDS = 3
/** A destination that drops lines after pino formatted them: the cost of logging, not of the terminal. */
const sink = { write: (_line: string) => true }

async function serve(handler: RequestListener): Promise<{ url: string; server: Server }> {
  const server = createServer({ keepAliveTimeout: 5_000 }, handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

async function requestsPerSecond(url: string, path: string): Promise<number> {
  // A warm-up second first (JIT, connections), then the measured run.
  await getLoad(url, () => path, CLIENTS, 1)
  const result = await getLoad(url, () => path, CLIENTS, SECONDS)
  return result.requests / result.seconds
}

async function bare(wrap: (h: RequestListener) => RequestListener): Promise<number> {
  const body = Buffer.from('ok\n')
  const { url, server } = await serve(
    wrap((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length })
      res.end(body)
    }),
  )
  try {
    return await requestsPerSecond(url, '/x')
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

export async function run(): Promise<void> {
  console.log(
    `machine: ${availableParallelism()} CPUs, Node ${process.version}; ${CLIENTS} clients, ${SECONDS} s each`,
  )
  const registry = createRegistry()
  const duration = httpDurationHistogram(registry, 'bench_')
  const plain = await bare((h) => h)
  const observed = await bare((h) => observeRequests(h, { routeOf: () => '/x', duration }))
  const logged = await bare((h) =>
    observeRequests(h, { routeOf: () => '/x', duration, logger: createLogger('bench', 'info', sink) }),
  )
  row('bare handler', plain, 'req/s')
  row('bare handler, observed (id, histogram)', observed, 'req/s')
  row('bare handler, observed and logged (info)', logged, 'req/s')
  ratio('observed / bare', observed, plain)
  ratio('observed and logged / bare', logged, plain)

  const dir = await mkdtemp(join(tmpdir(), 'bench-operate-'))
  try {
    const config = { ...defaultConfig(), dataDir: join(dir, 'log'), port: 0, verifyWorkers: 0 }
    const quiet = await startLogServer(config)
    const quietRate = await requestsPerSecond(quiet.url, '/checkpoint')
    const scrape = await rateAsync(async () => (await fetch(`${quiet.url}/metrics`)).text(), 2)
    await quiet.close()
    const loud = await startLogServer(config, { logger: createLogger('log', 'info', sink) })
    const loudRate = await requestsPerSecond(loud.url, '/checkpoint')
    await loud.close()
    row('log GET /checkpoint, no request log', quietRate, 'req/s')
    row('log GET /checkpoint, request log at info', loudRate, 'req/s')
    ratio('logged / not logged', loudRate, quietRate)
    row('log GET /metrics, one client', scrape, 'scrapes/s')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
