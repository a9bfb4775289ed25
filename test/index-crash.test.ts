// Crash safety of the verifiable index (issue 14): the real log process with --index, under load, is killed
// with SIGKILL at seeded moments (some during startup, while the index is being rebuilt from the log;
// most under load, while output leaves are being appended), now and then stopped cleanly (its map snapshot
// written, then loaded by the next start, then left behind by later kills), and restarted on the same
// data dir. Recorded:
// every receipt, every output checkpoint served. Afterwards: every receipt is in the log; the output log
// is a well-formed log whose every checkpoint ever served is a prefix of the final one; and every output
// leaf, checked by an auditor that rebuilds the map from the log's entries alone, states the log's root
// and the map's root at its input size. So a crash neither loses an entry nor leaves a leaf that disagrees
// with the log. Kills are spread by work done, never by time (CRASH_SEED=<n> replays a schedule).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { indexedEntryOf } from '@ledger/log-server'
import { bytesEqual, hashLeaf } from '@ledger/tlog'
import { decodeOutputLeaf, IndexAuditor } from '@ledger/vindex'
import { keepAliveAgent, postEntry, rawRequest } from './support/http.js'
import { assertConsistentWith, auditLog, openLogCheckpoint, receiptEntry } from './support/log-audit.js'
import { GrowingList, prng, ServerSlot, sleep } from './support/crash-schedule.js'
import { spawnLog, type LogChild } from './support/log-process.js'
import { makeSubmissions, newRebuilder } from './support/load.js'

const ORIGIN = 'index-crash.test/log'
const CYCLES = 10
/** Every STARTUP_EVERY-th kill (and the first after the first start) lands during startup. */
const STARTUP_EVERY = 4
const LANES = 8
/** A kill under load lands after MIN_ANSWERS .. MIN_ANSWERS + SPREAD more receipts (seeded). */
const MIN_ANSWERS = 8
const SPREAD = 30
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31)

let dir: string
const children: LogChild[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ledger-index-crash-'))
})

afterAll(async () => {
  for (const child of children) await child.kill9()
  await rm(dir, { recursive: true, force: true })
})

test(`${CYCLES} kill -9 with --index: nothing lost, no output leaf disagrees with the log`, async () => {
  const random = prng(SEED)
  const context = `CRASH_SEED=${SEED}`
  const agent = keepAliveAgent(LANES + 1)
  const rebuilders = [newRebuilder('ecdsa-p256'), newRebuilder('ed25519')]

  const server = new ServerSlot()
  const receipts = new GrowingList<{ body: string; json: unknown }>()
  const retries: string[] = []
  const submitted: string[] = []
  const unexpected: string[] = []
  const indexServed = new Set<string>()
  const indexKeys = new Set<string>()
  let indexKey: string | undefined
  let fresh = 0
  let freshOpen = true
  let stopped = false

  async function nextBody(): Promise<string | undefined> {
    const retry = retries.shift()
    if (retry !== undefined) return retry
    if (!freshOpen) return undefined
    const n = fresh++
    const [body] = await makeSubmissions(rebuilders[n % rebuilders.length]!, 'index-crash', n, n + 1)
    submitted.push(body!)
    return body!
  }

  async function lane(): Promise<void> {
    while (!stopped) {
      const base = await server.next()
      const body = await nextBody()
      if (body === undefined) {
        await sleep(20)
        continue
      }
      try {
        const res = await postEntry(agent, base, body)
        if (res.status === 200 || res.status === 201) {
          receipts.push({ body, json: JSON.parse(res.body.toString('utf8')) as unknown })
        } else {
          // 503: the log is shutting down (a SIGTERM cycle); anything else is unexpected.
          if (res.status !== 503) unexpected.push(`${res.status} ${res.body.toString('utf8').slice(0, 300)}`)
          retries.push(body)
        }
      } catch {
        // Killed under this request: it may or may not be in the log; sent again, it has one entry.
        retries.push(body)
        if (server.url === base) await sleep(5)
      }
    }
  }

  // Polls the output checkpoint: every one served must stay a prefix of the output log across crashes.
  async function poller(): Promise<void> {
    while (!stopped) {
      const base = await server.next()
      try {
        const res = await rawRequest(agent, 'GET', `${base}/index/checkpoint`)
        if (res.status === 200) indexServed.add(res.body.toString('utf8'))
        else unexpected.push(`GET /index/checkpoint: ${res.status}`)
      } catch {
        // Killed mid-request.
      }
      await sleep(10)
    }
  }

  async function whenListening(child: LogChild): Promise<string> {
    const base = await child.listening
    const info = JSON.parse((await rawRequest(agent, 'GET', `${base}/api/v1/log`)).body.toString('utf8')) as {
      index: { verifierKey: string }
    }
    indexKey = info.index.verifierKey
    indexKeys.add(indexKey)
    return base
  }

  const start = () => {
    const child = spawnLog([
      '--data',
      dir,
      '--port',
      '0',
      '--origin',
      ORIGIN,
      '--verify-workers',
      '0',
      '--index',
    ])
    children.push(child)
    return child
  }

  const workers = [...Array.from({ length: LANES }, lane), poller()]
  let startupKills = 0
  let loadKills = 0
  let cleanStops = 0
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const child = start()
    if (cycle > 0 && cycle % STARTUP_EVERY === 1) {
      // During startup: with entries in the log, that is while the index is rebuilt from it.
      const listening = whenListening(child).then(
        (url) => server.up(url),
        () => undefined,
      )
      await sleep(100 + random() * 400)
      await child.kill9()
      await listening
      startupKills++
    } else {
      server.up(await whenListening(child))
      await receipts.until(receipts.length + MIN_ANSWERS + Math.floor(random() * SPREAD))
      if (cycle % 3 === 2) {
        // A clean stop now and then: the map snapshot is written, the next start loads it, and a later
        // kill leaves it behind the output log (then it must not be used).
        expect((await child.stop()).code, context).toBe(0)
        cleanStops++
      } else {
        await child.kill9()
        loadKills++
      }
    }
    server.down()
  }

  const last = start()
  const finalUrl = await whenListening(last)
  server.up(finalUrl)
  freshOpen = false
  while (retries.length > 0 || receipts.length < submitted.length) {
    await Promise.race([receipts.until(receipts.length + 1), sleep(50)])
  }
  // The index catches up with everything committed.
  for (;;) {
    const info = JSON.parse(
      (await rawRequest(agent, 'GET', `${finalUrl}/api/v1/log`)).body.toString('utf8'),
    ) as { index: { trailing: number } }
    if (info.index.trailing === 0) break
    await sleep(20)
  }
  stopped = true
  await Promise.all(workers)
  agent.destroy()

  expect(startupKills + loadKills + cleanStops).toBe(CYCLES)
  expect(cleanStops).toBeGreaterThan(0)
  expect(unexpected, context).toEqual([])
  expect(indexKeys.size, `${context}: the index key changed`).toBe(1)

  // Nothing acknowledged was lost.
  const logKey = last.verifierKey()
  const log = await auditLog(finalUrl, logKey)
  for (const receipt of receipts.items) {
    const entry = receiptEntry(receipt.json)
    expect(bytesEqual(log.leaves[Number(entry.index)]!, entry.leaf), `${context}: leaf ${entry.index}`).toBe(
      true,
    )
  }
  expect(log.size, context).toBe(BigInt(submitted.length))

  // The output log: well formed, append-only across every crash, and covering the whole log.
  const output = await auditLog(`${finalUrl}/index`, indexKey!)
  expect(indexServed.size, context).toBeGreaterThan(0)
  await assertConsistentWith(`${finalUrl}/index`, indexKey!, output, indexServed)
  const leaves = output.leaves.map((bytes) => decodeOutputLeaf(bytes))
  expect(leaves[leaves.length - 1]!.inputSize, context).toBe(log.size)

  // Every output leaf agrees with the map rebuilt from the log's entries alone.
  const auditor = new IndexAuditor()
  leaves.forEach((leaf, i) => auditor.addOutputLeaf(BigInt(i), leaf))
  log.leaves.forEach((leaf, i) => auditor.addEntry(hashLeaf(leaf), indexedEntryOf(BigInt(i), leaf)))
  expect(auditor.checked, context).toBe(leaves.length)
  expect(auditor.findings, context).toEqual([])
  const checkpoint = openLogCheckpoint(output.checkpoint, indexKey!)
  expect(checkpoint.size).toBe(BigInt(leaves.length))
}, 600_000)
