// Crash safety (DESIGN §7): the real server process under sustained load from many connections is killed
// with SIGKILL at random moments, during startup and mid-load, and restarted on the same data dir each
// time. Every receipt ever returned and every checkpoint ever served is recorded. Afterwards: every receipt
// is in the log at its index with the same leaf bytes; every served checkpoint is consistent with the final
// tree (proofs from the final tiles); no restart ever showed a smaller tree than one already served; the
// log key never changed; submissions whose connection died were retried and are in the log exactly once;
// and the log still accepts entries. The seed of the random moments is in every failure message
// (CRASH_SEED=<n> replays the same schedule).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { decodeLogEntry } from '@ledger/attestation'
import { bytesEqual, hashLeaf, openCheckpoint, parseVerifierKey, verifyInclusion } from '@ledger/tlog'
import { fetchJSON, keepAliveAgent, postEntry, rawRequest } from './support/http.js'
import { assertConsistentWith, auditLog, openLogCheckpoint, receiptEntry } from './support/log-audit.js'
import { prng, sleep } from './support/crash-schedule.js'
import { spawnLog, type LogChild } from './support/log-process.js'
import { makeSubmissions, newRebuilder, type Rebuilder } from './support/load.js'

const ORIGIN = 'reliability.test/crash'
/** Kills in all; every STARTUP_EVERY-th one (and the first) lands during startup, the rest under load. */
const CYCLES = 26
const STARTUP_EVERY = 6
const LANES = 24
/**
 * A kill under load lands after this server answered between MIN_ANSWERS and MIN_ANSWERS + SPREAD receipts
 * (a seeded random count): the kills are spread by work done, never by time, so a slow machine changes
 * when they land, not what the test sees.
 */
const MIN_ANSWERS = 10
const SPREAD = 40
/** Fresh submissions are signed as the lanes need them, up to this many. */
const MAX_FRESH = 40_000
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31)

let dir: string
const children: LogChild[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ledger-crash-'))
})

afterAll(async () => {
  for (const child of children) await child.kill9()
  await rm(dir, { recursive: true, force: true })
})

interface Receipt {
  body: string
  status: number
  json: unknown
}

describe(`crash safety (CRASH_SEED=${SEED})`, () => {
  test(`${CYCLES} kill -9 under load; every receipt and checkpoint ever served holds`, async () => {
    const random = prng(SEED)
    const context = `CRASH_SEED=${SEED}`
    const agent = keepAliveAgent(LANES)
    const rebuilders: Rebuilder[] = [
      newRebuilder('ecdsa-p256'),
      newRebuilder('ed25519'),
      newRebuilder('ecdsa-p256'),
      newRebuilder('ed25519'),
    ]

    // The server the lanes talk to: a URL while one is listening, undefined between a kill and a restart.
    let url: string | undefined
    const upWaiters: (() => void)[] = []
    const setUp = (next: string) => {
      url = next
      for (const wake of upWaiters.splice(0)) wake()
    }
    const waitUp = async (): Promise<string> => {
      while (url === undefined) await new Promise<void>((wake) => upWaiters.push(wake))
      return url
    }

    const receipts: Receipt[] = []
    const receiptWaiters: (() => void)[] = []
    const untilReceipts = async (count: number): Promise<void> => {
      while (receipts.length < count) await new Promise<void>((wake) => receiptWaiters.push(wake))
    }
    const verifierKeys: string[] = []
    const served = new Set<string>()
    let maxServedSize = 0n
    const serve = (checkpoint: string) => {
      if (served.has(checkpoint)) return
      served.add(checkpoint)
      try {
        const size = openLogCheckpoint(checkpoint, verifierKeys[0]!).size
        if (size > maxServedSize) maxServedSize = size
      } catch (err) {
        unexpected.push(`a served checkpoint does not open: ${(err as Error).message}\n${checkpoint}`)
      }
    }
    const unexpected: string[] = []
    const retries: string[] = []
    const everErrored = new Set<string>()
    const submitted: string[] = []
    let fresh = 0
    let freshOpen = true
    let stopped = false

    async function nextBody(): Promise<string | undefined> {
      const retry = retries.shift()
      if (retry !== undefined) return retry
      if (!freshOpen || fresh >= MAX_FRESH) return undefined
      const n = fresh++
      const [body] = await makeSubmissions(rebuilders[n % rebuilders.length]!, 'crash', n, n + 1)
      submitted.push(body!)
      return body!
    }

    async function lane(): Promise<void> {
      while (!stopped) {
        const base = await waitUp()
        const body = await nextBody()
        if (body === undefined) {
          // Nothing to send now; retries may still come back from requests in flight.
          await sleep(20)
          continue
        }
        let status: number
        let text: string
        try {
          const res = await postEntry(agent, base, body)
          status = res.status
          text = res.body.toString('utf8')
        } catch {
          // The server died under this request (or before it): it may or may not be in the log. Send it
          // again later; the log must then answer its one entry.
          everErrored.add(body)
          retries.push(body)
          if (url === base) await sleep(5)
          continue
        }
        if (status === 200 || status === 201) {
          const json = JSON.parse(text) as unknown
          receipts.push({ body, status, json })
          serve(receiptEntry(json).checkpoint)
          for (const wake of receiptWaiters.splice(0)) wake()
        } else {
          unexpected.push(`${status} ${text.slice(0, 300)}`)
          retries.push(body)
        }
      }
    }

    async function poller(): Promise<void> {
      while (!stopped) {
        const base = await waitUp()
        try {
          const res = await rawRequest(agent, 'GET', `${base}/checkpoint`)
          if (res.status === 200) serve(res.body.toString('utf8'))
          else unexpected.push(`GET /checkpoint: ${res.status}`)
        } catch {
          // Killed mid-request: nothing was served.
        }
        await sleep(10)
      }
    }

    const rollbacks: string[] = []
    async function startServer(): Promise<LogChild> {
      const child = spawnLog(['--data', dir, '--port', '0', '--origin', ORIGIN, '--verify-workers', '1'])
      children.push(child)
      return child
    }
    async function whenListening(child: LogChild): Promise<string> {
      const base = await child.listening
      verifierKeys.push(child.verifierKey())
      // Before any lane sees it: the tree a restarted server shows includes everything already served.
      const first = await rawRequest(agent, 'GET', `${base}/checkpoint`)
      const size = openLogCheckpoint(first.body.toString('utf8'), child.verifierKey()).size
      if (size < maxServedSize)
        rollbacks.push(`restart showed size ${size} after ${maxServedSize} was served`)
      serve(first.body.toString('utf8'))
      return base
    }

    const workers = [...Array.from({ length: LANES }, lane), poller()]
    let loadKills = 0
    let startupKills = 0
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const child = await startServer()
      if (cycle % STARTUP_EVERY === 0) {
        // During startup: node loading, the key and database opening, the workers spawning, the first
        // requests. The process may or may not have printed its listening line.
        const listening = whenListening(child).then(setUp, () => undefined)
        await sleep(50 + random() * 400)
        await child.kill9()
        await listening
        startupKills++
      } else {
        setUp(await whenListening(child))
        // Lanes keep requests in flight all the time: the kill cuts some of them.
        await untilReceipts(receipts.length + MIN_ANSWERS + Math.floor(random() * SPREAD))
        await child.kill9()
        loadKills++
      }
      url = undefined
    }

    // The last start: the lanes finish every retry, then stop.
    const last = await startServer()
    const finalUrl = await whenListening(last)
    setUp(finalUrl)
    freshOpen = false
    // Waits for the answers, however long they take (the test's own timeout is the only bound).
    while (retries.length > 0 || receipts.length < submitted.length) {
      await Promise.race([untilReceipts(receipts.length + 1), sleep(50)])
    }
    stopped = true
    await Promise.all(workers)
    agent.destroy()

    expect(loadKills + startupKills).toBe(CYCLES)
    expect(loadKills, context).toBeGreaterThanOrEqual(20)
    expect(unexpected, context).toEqual([])
    expect(rollbacks, context).toEqual([])
    // One log key throughout.
    expect(new Set(verifierKeys).size, context).toBe(1)
    const verifierKey = verifierKeys[0]!
    // The kills hit live traffic, and the load was real (each load kill waited for its answers).
    expect(everErrored.size, context).toBeGreaterThan(0)
    expect(receipts.length, context).toBeGreaterThanOrEqual(loadKills * MIN_ANSWERS)

    const audited = await auditLog(finalUrl, verifierKey)
    const verifier = parseVerifierKey(verifierKey)
    // Every receipt ever returned: in the log at its index, byte for byte, and proved to its checkpoint.
    for (const receipt of receipts) {
      const entry = receiptEntry(receipt.json)
      expect(entry.index < audited.size, context).toBe(true)
      expect(
        bytesEqual(audited.leaves[Number(entry.index)]!, entry.leaf),
        `${context}: leaf ${entry.index}`,
      ).toBe(true)
      const { checkpoint } = openCheckpoint(entry.checkpoint, verifier)
      verifyInclusion(hashLeaf(entry.leaf), entry.index, checkpoint.size, entry.proof, checkpoint.root)
    }
    // Every body got exactly one answer in the end, and the log holds each exactly once, nothing else.
    expect(receipts.length, context).toBe(submitted.length)
    expect(new Set(receipts.map((r) => r.body)).size).toBe(submitted.length)
    const byIndex = new Map<bigint, string>()
    for (const receipt of receipts) {
      const index = receiptEntry(receipt.json).index
      expect(byIndex.get(index), `${context}: two submissions answered with index ${index}`).toBeUndefined()
      byIndex.set(index, receipt.body)
    }
    expect(audited.size, context).toBe(BigInt(submitted.length))
    const logged = new Set(
      audited.leaves.map((leaf) => {
        const entry = decodeLogEntry(leaf)
        return `${entry.keyId}/${Buffer.from(entry.payloadHash).toString('hex')}`
      }),
    )
    expect(logged.size, `${context}: a statement is in the log twice`).toBe(audited.leaves.length)
    // Answers of 200 are submissions whose connection died after their batch had committed.
    const landedBeforeTheKill = receipts.filter((r) => r.status === 200).length
    expect(landedBeforeTheKill).toBeLessThanOrEqual(everErrored.size)

    // The index rows were committed with their batches: lookups find a sample of the entries, by digest
    // and by commit, at their receipts' indexes.
    for (let i = 0; i < receipts.length; i += Math.ceil(receipts.length / 40)) {
      const receipt = receipts[i]!
      const index = Number(receiptEntry(receipt.json).index)
      const { bundle } = JSON.parse(receipt.body) as { bundle: { dsseEnvelope: { payload: string } } }
      const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as {
        subject: { digest: { sha256: string } }[]
        predicate: { buildDefinition: { resolvedDependencies: { digest: { gitCommit: string } }[] } }
      }
      const digest = statement.subject[0]!.digest.sha256
      const commit = statement.predicate.buildDefinition.resolvedDependencies[0]!.digest.gitCommit
      for (const query of [`digest=sha256:${digest}`, `commit=${commit}`]) {
        const lookup = (await fetchJSON(`${finalUrl}/api/v1/lookup?${query}`)) as {
          entries: { index: number }[]
        }
        expect(
          lookup.entries.map((e) => e.index),
          `${context}: lookup ${query}`,
        ).toEqual([index])
      }
    }

    // Every checkpoint ever served (polled, or in a receipt) is a prefix of the final tree.
    const checked = await assertConsistentWith(finalUrl, verifierKey, audited, served)
    expect(checked, context).toBeGreaterThan(CYCLES)
    expect(maxServedSize).toBeLessThanOrEqual(audited.size)

    // And the log goes on.
    const [next] = await makeSubmissions(rebuilders[0]!, 'crash-after', 0, 1)
    const single = keepAliveAgent(1)
    const appended = await postEntry(single, finalUrl, next!)
    single.destroy()
    expect(appended.status).toBe(201)
    expect(receiptEntry(JSON.parse(appended.body.toString('utf8'))).index).toBe(audited.size)
    expect(await last.stop()).toEqual({ code: 0, signal: null })
    console.log(
      `${context}: ${CYCLES} kills (${startupKills} during startup), ${submitted.length} submissions, ` +
        `${everErrored.size} cut by a kill (${landedBeforeTheKill} of them had landed), ` +
        `${served.size} checkpoints served, final size ${audited.size}`,
    )
  }, 240_000)
})
