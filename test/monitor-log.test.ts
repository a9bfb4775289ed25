// The monitor against the real log server on loopback, directly and through a test-only HTTP proxy that
// makes it misbehave: a forked history (a second log server sharing the first one's key file), a rollback,
// an entry dropped from lookups, a corrupted tile. Each is detected with the right alert; the honest log
// raises none. Also: --once exit codes, the webhook, the health endpoint.
import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildStatement, generateKeyPair, signStatement, type GeneratedKeyPair } from '@ledger/attestation'
import {
  defaultConfig as logDefaults,
  LOG_KEY_FILE,
  startLogServer,
  type RunningLog,
} from '@ledger/log-server'
import {
  EXIT_ALERTS,
  EXIT_CLEAN,
  EXIT_UNREACHABLE,
  EXIT_USAGE,
  Monitor,
  parseConfig,
  runMonitor,
  type Alert,
  type MonitorConfig,
} from '@ledger/monitor'

const ORIGIN = 'monitor-test.example/log'
const hex = (n: number, length = 64) => n.toString(16).padStart(length, '0')

let dir: string
let rebuilders: GeneratedKeyPair[]
const logs: RunningLog[] = []

async function startLog(name: string, newIdentity = false): Promise<RunningLog> {
  const log = await startLogServer({
    ...logDefaults(),
    dataDir: join(dir, name),
    host: '127.0.0.1',
    port: 0,
    origin: ORIGIN,
    verifyWorkers: 0,
    batchWaitMs: 1,
    newIdentity,
  })
  logs.push(log)
  return log
}

/** Submits entry i of series `series`: artifact `${series}-${i}.tgz` with digest (series, i), commit i % 7. */
async function submit(
  log: RunningLog,
  series: number,
  i: number,
  extra: { name?: string; sha256?: string } = {},
) {
  const key = rebuilders[i % rebuilders.length]!
  const statement = buildStatement({
    artifacts: [
      { name: extra.name ?? `s${series}-${i}.tgz`, sha256: extra.sha256 ?? hex(series * 1_000_000 + i + 1) },
    ],
    source: { uri: 'git+https://github.com/example/project', commit: hex((i % 7) + 1, 40) },
    builderId: 'https://rebuilder.example/monitor-test',
  })
  const bundle = await signStatement(statement, key.privateKeyPem)
  const res = await fetch(`${log.url}/api/v1/entries`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ bundle, publicKey: key.publicKeyPem }),
  })
  const text = await res.text()
  expect(res.status, text).toBe(201)
  return (JSON.parse(text) as { verificationMaterial: { tlogEntries: { logIndex: string }[] } })
    .verificationMaterial.tlogEntries[0]!.logIndex
}

/** A proxy whose target can be switched, and whose answers a hook may rewrite. */
interface Proxy {
  url: string
  target: string
  rewrite?: (path: string, body: Buffer) => Buffer
  close(): Promise<void>
}

async function startProxy(target: string): Promise<Proxy> {
  const proxy: Proxy = { url: '', target, close: async () => undefined }
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const upstream = await fetch(proxy.target + (req.url ?? '/'), {
      method: req.method,
      headers: req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {},
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.concat(chunks),
    })
    let body: Buffer = Buffer.from(await upstream.arrayBuffer())
    if (proxy.rewrite) body = proxy.rewrite(req.url ?? '/', body)
    res.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream',
    })
    res.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  return proxy
}

function monitorConfig(
  url: string,
  log: RunningLog,
  data: string,
  extra: Partial<MonitorConfig> = {},
): MonitorConfig {
  const request = parseConfig(['--log', url, '--log-key', log.verifierKey, '--data', join(dir, data)], {})
  if (request.kind !== 'run') throw new Error('unexpected help')
  return { ...request.config, workers: 0, sample: 4, ...extra }
}

function quietIo() {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'monitor-log-'))
  rebuilders = [generateKeyPair(), generateKeyPair('ed25519')]
})
afterAll(async () => {
  for (const log of logs.splice(0)) await log.close()
  await rm(dir, { recursive: true, force: true })
})

describe('monitor: an honest log', () => {
  it('verifies, indexes and audits everything without an alert, then follows growth', async () => {
    const log = await startLog('honest')
    for (let i = 0; i < 12; i++) await submit(log, 1, i)
    const monitor = await Monitor.open(monitorConfig(log.url, log, 'm-honest', { sample: 12 }), quietIo())
    try {
      expect(await monitor.pass()).toEqual({ alerts: [], size: 12n, indexed: 12n })
      for (let i = 12; i < 20; i++) await submit(log, 1, i)
      expect(await monitor.pass()).toEqual({ alerts: [], size: 20n, indexed: 20n })
    } finally {
      await monitor.close()
    }
    // A new monitor over the same state resumes where the last stopped.
    const again = await Monitor.open(monitorConfig(log.url, log, 'm-honest'), quietIo())
    try {
      expect(again.position?.indexed).toBe(20n)
      expect((await again.pass()).alerts).toEqual([])
    } finally {
      await again.close()
    }
  })

  it('raises conflicting-attestations for the same commit and subject name with another digest', async () => {
    const log = await startLog('conflict')
    await submit(log, 2, 0, { name: 'app.tgz', sha256: hex(0xaa) })
    await submit(log, 2, 7, { name: 'app.tgz', sha256: hex(0xbb) }) // same commit (7 % 7 == 0), other key
    const monitor = await Monitor.open(monitorConfig(log.url, log, 'm-conflict'), quietIo())
    try {
      const { alerts } = await monitor.pass()
      expect(alerts).toEqual([
        expect.objectContaining({
          type: 'conflicting-attestations',
          commit: hex(1, 40),
          subject: 'app.tgz',
          entries: [
            { index: 0, digest: `sha256:${hex(0xaa)}`, keyId: rebuilders[0]!.keyId },
            { index: 1, digest: `sha256:${hex(0xbb)}`, keyId: rebuilders[1]!.keyId },
          ],
        }),
      ])
    } finally {
      await monitor.close()
    }
  })
})

describe('monitor: a misbehaving log behind a proxy', () => {
  let a: RunningLog
  let proxy: Proxy
  let fork: RunningLog

  beforeAll(async () => {
    a = await startLog('a')
    for (let i = 0; i < 10; i++) await submit(a, 3, i)
    // The fork: a second log server with the same key file (so the same origin and signatures) and
    // another history.
    const { mkdir } = await import('node:fs/promises')
    await mkdir(join(dir, 'b'), { recursive: true })
    await copyFile(join(dir, 'a', LOG_KEY_FILE), join(dir, 'b', LOG_KEY_FILE))
    fork = await startLog('b', true)
    expect(fork.verifierKey).toBe(a.verifierKey)
    for (let i = 0; i < 8; i++) await submit(fork, 4, i)
    proxy = await startProxy(a.url)
  })
  afterAll(async () => proxy.close())

  it('detects a rollback, an equal-size fork and a larger fork, and never adopts them', async () => {
    const monitor = await Monitor.open(monitorConfig(proxy.url, a, 'm-fork'), quietIo())
    try {
      expect((await monitor.pass()).alerts).toEqual([])
      const trusted = monitor.position!
      proxy.target = fork.url
      const kinds: string[] = []
      // Size 8 < 10: a rollback.
      let { alerts } = await monitor.pass()
      expect(alerts).toEqual([expect.objectContaining({ type: 'inconsistent-checkpoint', kind: 'rollback' })])
      kinds.push('rollback')
      // Size 10 with another root: a fork at equal size.
      for (let i = 8; i < 10; i++) await submit(fork, 4, i)
      ;({ alerts } = await monitor.pass())
      expect(alerts).toEqual([expect.objectContaining({ type: 'inconsistent-checkpoint', kind: 'fork' })])
      const evidence = alerts[0] as Extract<Alert, { type: 'inconsistent-checkpoint' }>
      expect(evidence.trusted.checkpoint).toBe(trusted.checkpoint)
      expect(evidence.received.size).toBe('10')
      expect(evidence.received.root).not.toBe(evidence.trusted.root)
      // Size 14: the consistency proof from the fork's own (authentic) tiles cannot reach our root.
      for (let i = 10; i < 14; i++) await submit(fork, 4, i)
      ;({ alerts } = await monitor.pass())
      expect(alerts).toEqual([
        expect.objectContaining({ type: 'inconsistent-checkpoint', kind: 'fork', code: 'PROOF_MISMATCH' }),
      ])
      expect(monitor.position).toEqual(trusted)
      // Back on the honest log, growth is followed again.
      proxy.target = a.url
      for (let i = 10; i < 12; i++) await submit(a, 3, i)
      expect(await monitor.pass()).toEqual({ alerts: [], size: 12n, indexed: 12n })
    } finally {
      await monitor.close()
    }
  })

  it('detects an entry dropped from lookups (watched, and found by sampling)', async () => {
    proxy.target = a.url
    const victim = 4
    const digest = `sha256:${hex(3 * 1_000_000 + victim + 1)}`
    proxy.rewrite = (path, body) => {
      if (!path.startsWith('/api/v1/lookup')) return body
      const answer = JSON.parse(body.toString()) as { entries: { index: number }[]; total: number }
      answer.entries = answer.entries.filter((e) => e.index !== victim)
      return Buffer.from(JSON.stringify(answer))
    }
    try {
      const watched = await Monitor.open(
        monitorConfig(proxy.url, a, 'm-omit', { watchDigests: [digest], sample: 0 }),
        quietIo(),
      )
      try {
        const { alerts } = await watched.pass()
        const omitted = alerts.filter((x) => x.type === 'omitted-entry')
        expect(omitted).toEqual([
          expect.objectContaining({ query: { digest }, index: victim, keyId: rebuilders[victim % 2]!.keyId }),
        ])
        expect(alerts.filter((x) => x.type === 'watched-entry').map((x) => x.index)).toEqual([victim])
      } finally {
        await watched.close()
      }
      // Without watching: a deterministic "random" that samples every index finds it too.
      let draw = 0
      const sampled = await Monitor.open(monitorConfig(proxy.url, a, 'm-omit-sample', { sample: 12 }), {
        ...quietIo(),
        random: () => (draw++ % 12) / 12,
      })
      try {
        const { alerts } = await sampled.pass()
        expect(alerts.filter((x) => x.type === 'omitted-entry').map((x) => x.index)).toContain(victim)
        expect(alerts.every((x) => x.type === 'omitted-entry')).toBe(true)
      } finally {
        await sampled.close()
      }
    } finally {
      proxy.rewrite = undefined
    }
  })

  it('detects a corrupted tile and a corrupted entry bundle', async () => {
    proxy.target = a.url
    for (const prefix of ['/tile/0/', '/tile/entries/']) {
      proxy.rewrite = (path, body) => {
        if (!path.startsWith(prefix) || body.length === 0) return body
        const copy = Buffer.from(body)
        copy[copy.length - 1]! ^= 1
        return copy
      }
      const monitor = await Monitor.open(monitorConfig(proxy.url, a, `m-tile-${prefix.length}`), quietIo())
      try {
        const { alerts, indexed } = await monitor.pass()
        expect(alerts).toEqual([expect.objectContaining({ type: 'bad-tile', code: 'TILE_MISMATCH' })])
        expect(indexed).toBe(0n)
      } finally {
        await monitor.close()
        proxy.rewrite = undefined
      }
    }
  })
})

describe('monitor: --once exit codes, webhook, health', () => {
  let log: RunningLog
  beforeAll(async () => {
    log = await startLog('once')
    for (let i = 0; i < 3; i++) await submit(log, 5, i)
  })

  it('exits 0 clean, 1 with alerts, 2 on usage errors, 4 when the log is unreachable', async () => {
    const io = quietIo()
    expect(await runMonitor({ ...monitorConfig(log.url, log, 'o-clean'), once: true }, io)).toBe(EXIT_CLEAN)
    expect(io.out).toEqual([])
    expect(io.err.join('')).toMatch(/at size 3, 3 entries verified, 0 alert/)
    const watched = { ...monitorConfig(log.url, log, 'o-alert'), once: true, watchCommits: [hex(2, 40)] }
    const io2 = quietIo()
    expect(await runMonitor(watched, io2)).toBe(EXIT_ALERTS)
    expect(io2.out.map((l) => (JSON.parse(l) as Alert).type)).toEqual(['watched-entry'])
    expect(
      await runMonitor(
        { ...monitorConfig(log.url, log, 'o-usage'), logKey: 'not a key', once: true },
        quietIo(),
      ),
    ).toBe(EXIT_USAGE)
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    expect(await runMonitor({ ...monitorConfig(deadUrl, log, 'o-dead'), once: true }, quietIo())).toBe(
      EXIT_UNREACHABLE,
    )
  })

  it('POSTs each alert to the webhook, the same JSON as on stdout', async () => {
    const received: string[] = []
    const hook = createServer(async (req, res) => {
      let body = ''
      for await (const chunk of req) body += chunk
      received.push(`${req.method} ${req.headers['content-type']} ${body}`)
      res.writeHead(204).end()
    })
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve))
    try {
      const io = quietIo()
      const config = {
        ...monitorConfig(log.url, log, 'o-hook'),
        once: true,
        webhook: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`,
        watchKeys: [rebuilders[1]!.keyId],
      }
      expect(await runMonitor(config, io)).toBe(EXIT_ALERTS)
      expect(io.out).toHaveLength(1)
      expect(received).toEqual([`POST application/json ${io.out[0]!.trimEnd()}`])
    } finally {
      hook.close()
    }
  })

  it('serves /healthz while following, and stops on abort', async () => {
    const controller = new AbortController()
    let healthUrl = ''
    const config = { ...monitorConfig(log.url, log, 'o-health'), intervalMs: 100, healthPort: 0 }
    const running = runMonitor(config, quietIo(), {
      signal: controller.signal,
      onHealth: (endpoint) => (healthUrl = endpoint.url),
    })
    let status = 0
    let body: Record<string, unknown> = {}
    // Polled until healthy, however long the first pass takes.
    while (status !== 200) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      if (healthUrl === '') continue
      const res = await fetch(`${healthUrl}/healthz`)
      status = res.status
      body = (await res.json()) as Record<string, unknown>
    }
    expect(status).toBe(200)
    expect(body).toMatchObject({ ok: true, origin: ORIGIN, size: '3', indexed: '3' })
    controller.abort()
    expect(await running).toBe(EXIT_CLEAN)
  })
})
