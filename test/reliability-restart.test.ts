// Restarts of the real server process (services/log/dist/main.js) on one data dir: a graceful stop and a
// kill -9 both keep size, root, key, indexes and dedup; a second server on a data dir in use, and a start
// with another log key of the same origin, are refused with a non-zero exit and change nothing.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Agent } from 'node:http'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { generateNoteKey } from '@ledger/tlog'
import { fetchGet, keepAliveAgent, postEntry } from './support/http.js'
import { auditLog, receiptEntry } from './support/log-audit.js'
import { spawnLog, type LogChild } from './support/log-process.js'
import { makeSubmissions, newRebuilder, rebuildStatement } from './support/load.js'

const ORIGIN = 'reliability.test/restart'
// 600 entries: two full entry bundles and level-0 tiles, a partial third, and a level-1 tile.
const SERIES: readonly { series: string; type: 'ecdsa-p256' | 'ed25519'; count: number }[] = [
  { series: 'restart-a', type: 'ecdsa-p256', count: 250 },
  { series: 'restart-b', type: 'ed25519', count: 250 },
  { series: 'restart-c', type: 'ecdsa-p256', count: 100 },
]
const TOTAL = SERIES.reduce((n, s) => n + s.count, 0)

let dir: string
const children: LogChild[] = []
let agent: Agent

function start(args: readonly string[] = []): LogChild {
  const child = spawnLog([
    '--data',
    dir,
    '--port',
    '0',
    '--batch-wait-ms',
    '2',
    '--verify-workers',
    '1',
    ...args,
  ])
  children.push(child)
  return child
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ledger-restart-'))
  agent = keepAliveAgent(32)
})

afterAll(async () => {
  agent.destroy()
  for (const child of children) await child.kill9()
  await rm(dir, { recursive: true, force: true })
})

async function text(url: string): Promise<{ status: number; body: string }> {
  const res = await fetchGet(url)
  return { status: res.status, body: Buffer.from(res.body).toString('utf8') }
}

/** Everything a client can read about the log that a restart must not change. */
async function snapshot(url: string, samples: readonly { digest: string; commit: string; index: number }[]) {
  const answers: Record<string, { status: number; body: string }> = {}
  const paths = ['/checkpoint', '/api/v1/log']
  for (const s of samples) {
    paths.push(`/api/v1/lookup?digest=${s.digest}`, `/api/v1/lookup?commit=${s.commit}`)
    paths.push(`/api/v1/entries/${s.index}`)
  }
  for (const path of paths) answers[path] = await text(`${url}${path}`)
  return answers
}

describe('restarts of the server process', () => {
  test('stop, kill -9, a second server, another key: the log survives all of them unchanged', async () => {
    // First start: creates the log.
    let server = start(['--origin', ORIGIN])
    let url = await server.listening
    const verifierKey = server.verifierKey()
    expect(server.stdout()).toMatch(/^created a new log/m)

    const rebuilders = SERIES.map((s) => newRebuilder(s.type))
    const bodies = (
      await Promise.all(SERIES.map((s, i) => makeSubmissions(rebuilders[i]!, s.series, 0, s.count)))
    ).flat()
    const indexOf = new Map<string, number>()
    await Promise.all(
      bodies.map(async (body) => {
        const res = await postEntry(agent, url, body)
        expect(res.status, res.body.toString('utf8')).toBe(201)
        indexOf.set(body, Number(receiptEntry(JSON.parse(res.body.toString('utf8'))).index))
      }),
    )
    const audited = await auditLog(url, verifierKey)
    expect(audited.size).toBe(BigInt(TOTAL))

    // A sample of entries across the bundles, each with its own digest and commit.
    const items = SERIES.flatMap((s) => Array.from({ length: s.count }, (_, n) => ({ series: s.series, n })))
    const samples = [0, 1, 255, 256, 257, 400, 511, 512, TOTAL - 1].map((k) => {
      const statement = rebuildStatement(items[k]!.series, items[k]!.n)
      const body = bodies[k]!
      return {
        body,
        index: indexOf.get(body)!,
        digest: `sha256:${statement.subject[0]!.digest.sha256}`,
        commit: statement.predicate.buildDefinition.resolvedDependencies[0]!.digest!.gitCommit!,
      }
    })
    const before = await snapshot(url, samples)
    for (const s of samples) {
      const lookup = JSON.parse(before[`/api/v1/lookup?digest=${s.digest}`]!.body) as {
        entries: { index: number }[]
      }
      expect(lookup.entries.map((e) => e.index)).toEqual([s.index])
    }

    // 1. A graceful stop and a start without --origin (taken from log.key): nothing a client reads changes.
    expect(await server.stop()).toEqual({ code: 0, signal: null })
    server = start()
    url = await server.listening
    expect(server.verifierKey()).toBe(verifierKey)
    expect(server.stdout()).not.toMatch(/^created a new log/m)
    expect(await snapshot(url, samples)).toEqual(before)
    expect((await auditLog(url, verifierKey)).leaves).toEqual(audited.leaves)

    // Dedup survives it: the old statements answer 200 with their old index; a new one is appended.
    for (const s of samples) {
      const res = await postEntry(agent, url, s.body)
      expect(res.status).toBe(200)
      expect(Number(receiptEntry(JSON.parse(res.body.toString('utf8'))).index)).toBe(s.index)
    }
    const [fresh] = await makeSubmissions(rebuilders[0]!, 'restart-fresh', 0, 1)
    const appended = await postEntry(agent, url, fresh!)
    expect(appended.status).toBe(201)
    expect(receiptEntry(JSON.parse(appended.body.toString('utf8'))).index).toBe(BigInt(TOTAL))

    // 2. kill -9 of an idle server: the acknowledged entry is there after the restart.
    const acknowledged = await text(`${url}/checkpoint`)
    await server.kill9()
    server = start()
    url = await server.listening
    expect(await text(`${url}/checkpoint`)).toEqual(acknowledged)
    expect((await auditLog(url, verifierKey)).size).toBe(BigInt(TOTAL + 1))

    // 3. A second server on the same data dir while the first runs: refused, and the first carries on.
    const second = start()
    const { code } = await second.exited
    expect(code).not.toBe(0)
    expect(code).not.toBeNull()
    expect(second.stdout()).not.toMatch(/^listening/m)
    expect(second.stderr()).toMatch(/^error: /m)
    const [another] = await makeSubmissions(rebuilders[1]!, 'restart-fresh', 1, 2)
    const afterSecond = await postEntry(agent, url, another!)
    expect(afterSecond.status).toBe(201)
    expect(receiptEntry(JSON.parse(afterSecond.body.toString('utf8'))).index).toBe(BigInt(TOTAL + 1))
    const last = await auditLog(url, verifierKey)
    expect(await server.stop()).toEqual({ code: 0, signal: null })

    // 4. Another log key of the same origin in log.key: refused with a clear error and a non-zero exit.
    const keyFile = join(dir, 'log.key')
    const original = await readFile(keyFile, 'utf8')
    const impostor = generateNoteKey(ORIGIN)
    await writeFile(keyFile, impostor.signerKey + '\n', { mode: 0o600 })
    const refused = start()
    expect(await refused.exited).toEqual({ code: 1, signal: null })
    expect(refused.stdout()).not.toMatch(/^listening/m)
    // The message names the problem and the evidence: the key the data belongs to.
    expect(refused.stderr()).toMatch(/^error: /m)
    expect(refused.stderr()).toContain(verifierKey)
    // The refused start changed nothing: with the right key back, the log is as it was.
    await writeFile(keyFile, original, { mode: 0o600 })
    server = start()
    url = await server.listening
    const again = await auditLog(url, verifierKey)
    expect(again.checkpoint).toBe(last.checkpoint)
    expect(again.leaves).toEqual(last.leaves)
    expect(await server.stop()).toEqual({ code: 0, signal: null })
  }, 120_000)
})
