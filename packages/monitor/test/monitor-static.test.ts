// The monitor against logs built directly (static-log.ts): a signed tree holding entries no honest log
// would accept, conflicting attestations, watched values, corrupted bundles, state across reopenings.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryMonitorStore } from './memory-monitor-store.js'
import type { PrivateKeyInfo } from '@ledger/attestation'
import { defaultConfig, type MonitorConfig } from '../src/config.js'
import { Monitor } from '../src/monitor.js'
import type { Alert } from '../src/alerts.js'
import {
  buildStaticLog,
  defaultEntry,
  hex,
  makeEntry,
  makeKeys,
  serveStaticLog,
  type StaticLogEntry,
} from './static-log.js'

let dir: string
let keys: PrivateKeyInfo[]
let entries: StaticLogEntry[]
const SIZE = 600
const BAD = 300
const CONFLICT = [100, 450]

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'monitor-static-'))
  keys = makeKeys(4)
  entries = Array.from({ length: SIZE }, (_, i) => {
    const spec = defaultEntry(i)
    if (i === BAD) spec.badSignature = true
    // Two entries for the same commit and subject name, with different digests.
    if (CONFLICT.includes(i)) Object.assign(spec, { commit: hex(0xc0ffee, 40), names: ['app.tgz'] })
    return makeEntry(spec, keys[spec.key ?? 0]!)
  })
})
afterAll(async () => rm(dir, { recursive: true, force: true }))

function config(
  url: string,
  verifierKey: string,
  data: string,
  extra: Partial<MonitorConfig> = {},
): MonitorConfig {
  return {
    ...defaultConfig(),
    logUrl: url,
    logKey: verifierKey,
    dataDir: join(dir, data),
    workers: 1,
    sample: 4,
    ...extra,
  }
}

function io() {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    io: { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } },
  }
}

const types = (alerts: Alert[]) => alerts.map((a) => a.type).sort()

describe('monitor over a statically built log', () => {
  // The same pass on each MonitorStore implementation: the monitor depends on the contract only.
  it.each(['LevelDB', 'memory'] as const)(
    're-verifies every entry and raises bad-entry, conflict and watched-entry alerts, nothing else (%s store)',
    async (backend) => {
      const log = buildStaticLog(entries)
      const server = await serveStaticLog(log)
      const { out, io: plainIo } = io()
      const monitorIo =
        backend === 'memory' ? { ...plainIo, openStore: async () => new MemoryMonitorStore() } : plainIo
      const monitor = await Monitor.open(
        config(server.url, log.verifierKey, 'a', {
          watchDigests: [`sha256:${hex(11)}`],
          watchCommits: [hex(42, 40)],
          watchKeys: [keys[3]!.publicKey.keyId],
        }),
        monitorIo,
      )
      try {
        const result = await monitor.pass()
        expect(result.size).toBe(BigInt(SIZE))
        expect(result.indexed).toBe(BigInt(SIZE))
        const bad = result.alerts.filter((a) => a.type === 'bad-entry')
        expect(bad).toEqual([
          expect.objectContaining({ index: BAD, code: 'BAD_SIGNATURE', origin: 'static.example/log' }),
        ])
        const conflicts = result.alerts.filter((a) => a.type === 'conflicting-attestations')
        expect(conflicts).toHaveLength(1)
        expect(conflicts[0]).toMatchObject({
          commit: hex(0xc0ffee, 40),
          subject: 'app.tgz',
          entries: [
            { index: 100, digest: `sha256:${hex(101)}`, keyId: keys[0]!.publicKey.keyId },
            { index: 450, digest: `sha256:${hex(451)}`, keyId: keys[2]!.publicKey.keyId },
          ],
        })
        const watched = result.alerts.filter((a) => a.type === 'watched-entry')
        // Digest hex(11) is entry 10; commit hex(42) is entries 41, 141, ...; key 3 signs i % 4 == 3.
        const expectedCommit = Array.from({ length: SIZE }, (_, i) => i).filter(
          (i) => (i % 100) + 1 === 42 && !CONFLICT.includes(i) && i !== BAD,
        )
        const expectedKey = Array.from({ length: SIZE }, (_, i) => i).filter((i) => i % 4 === 3 && i !== BAD)
        expect(watched.filter((a) => a.match === 'digest').map((a) => a.index)).toEqual([10])
        expect(watched.filter((a) => a.match === 'commit').map((a) => a.index)).toEqual(expectedCommit)
        expect(watched.filter((a) => a.match === 'key').map((a) => a.index)).toEqual(expectedKey)
        expect(new Set(types(result.alerts))).toEqual(
          new Set(['bad-entry', 'conflicting-attestations', 'watched-entry']),
        )
        // Every alert is one JSON line on stdout.
        expect(out.map((line) => JSON.parse(line) as Alert)).toEqual(result.alerts)
        // A second pass over the same checkpoint finds nothing new, and audits the watched values again.
        const again = await monitor.pass()
        expect(again.alerts).toEqual([])
      } finally {
        await monitor.close()
        await server.close()
      }
    },
  )

  it('resumes from its stored position after a reopening, and detects growth from tiles', async () => {
    const first = buildStaticLog(entries.slice(0, 260), 'static.example/grow')
    let server = await serveStaticLog(first)
    const c = config(server.url, first.verifierKey, 'b', { sample: 0 })
    let monitor = await Monitor.open(c, io().io)
    expect((await monitor.pass()).indexed).toBe(260n)
    await monitor.close()
    await server.close()
    const grown = buildStaticLog(entries.slice(0, 599), 'static.example/grow', first.signerKey)
    server = await serveStaticLog(grown)
    monitor = await Monitor.open({ ...c, logUrl: server.url }, io().io)
    try {
      expect(monitor.position!.indexed).toBe(260n)
      const result = await monitor.pass()
      expect(result).toMatchObject({ size: 599n, indexed: 599n })
      expect(types(result.alerts)).toEqual(['bad-entry', 'conflicting-attestations'])
      // Entry bundles below 256 were not fetched again; the partial bundle 1 was (its width grew).
      expect(server.requests.filter((p) => p.startsWith('/tile/entries/000'))).toEqual([])
      expect(server.requests).toContain('/tile/entries/001')
    } finally {
      await monitor.close()
      await server.close()
    }
  })

  it('raises bad-tile for a corrupted entry bundle or hash tile, and indexes nothing of that batch', async () => {
    const log = buildStaticLog(entries.slice(0, 520), 'static.example/corrupt')
    for (const target of ['/tile/entries/001', '/tile/0/001']) {
      const server = await serveStaticLog(log, {
        tile: (path, body) => {
          if (`/${path}` !== target) return body
          const copy = Buffer.from(body)
          copy[copy.length - 1]! ^= 1
          return copy
        },
      })
      const monitor = await Monitor.open(
        config(server.url, log.verifierKey, `c${target.length}`, { sample: 0 }),
        io().io,
      )
      try {
        const result = await monitor.pass()
        const badTile = result.alerts.filter((a) => a.type === 'bad-tile')
        expect(badTile).toEqual([expect.objectContaining({ code: 'TILE_MISMATCH', size: '520' })])
        expect(result.indexed).toBe(0n)
      } finally {
        await monitor.close()
        await server.close()
      }
    }
  })

  it('refuses a checkpoint signed by another key (bad-checkpoint) and adopts nothing', async () => {
    const log = buildStaticLog(entries.slice(0, 10), 'static.example/log')
    const stranger = buildStaticLog(entries.slice(0, 10), 'static.example/log')
    const server = await serveStaticLog(log)
    const monitor = await Monitor.open(config(server.url, stranger.verifierKey, 'd', { sample: 0 }), io().io)
    try {
      const result = await monitor.pass()
      expect(result.alerts).toEqual([
        expect.objectContaining({
          type: 'bad-checkpoint',
          source: 'checkpoint',
          code: 'NO_VERIFIED_SIGNATURE',
          origin: 'static.example/log',
        }),
      ])
      expect(monitor.position).toBeUndefined()
    } finally {
      await monitor.close()
      await server.close()
    }
  })
})
