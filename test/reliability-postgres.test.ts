// Several log processes on one PostgreSQL database (DESIGN §7, issue 13): two real server processes share
// one database; submissions go to either; the process that sequences is killed with SIGKILL again and
// again under load, and restarted each time, so that there are two again before the next kill. Afterwards,
// as the LevelDB crash test does: every receipt ever returned is in the log at its index, byte for byte;
// every checkpoint ever served (by either process) is consistent with the final tree; the log holds every
// submission exactly once; it still takes entries. Each takeover's delay (kill to "sequencing") is
// printed, not asserted: tests do not time things.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { decodeLogEntry } from '@ledger/attestation'
import { bytesEqual, hashLeaf, openCheckpoint, parseVerifierKey, verifyInclusion } from '@ledger/tlog'
import { keepAliveAgent, postEntry, rawRequest } from './support/http.js'
import { assertConsistentWith, auditLog, openLogCheckpoint, receiptEntry } from './support/log-audit.js'
import { spawnLog, type LogChild } from './support/log-process.js'
import { makeSubmissions, newRebuilder, type Rebuilder } from './support/load.js'
import { postgresDatabase } from './support/postgres-test.js'

const ORIGIN = 'reliability.test/postgres'
/** Kills of the sequencing process. */
const KILLS = Number(process.env.PG_KILLS ?? 30)
const debug = process.env.PG_DEBUG === '1' ? (m: string) => console.error(m) : () => {}
/** Receipts answered after each takeover before the next kill: the new sequencer did real work. */
const WORK_PER_CYCLE = 8
const LANES = 12
const MAX_FRESH = 20_000

let dir: string
let database: Awaited<ReturnType<typeof postgresDatabase>>
const children: LogChild[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ledger-pg-crash-'))
  database = await postgresDatabase()
})

afterAll(async () => {
  for (const child of children) await child.kill9()
  await database?.drop()
  await rm(dir, { recursive: true, force: true })
})

interface Receipt {
  body: string
  status: number
  json: unknown
}

/** Resolves once `predicate` holds, checking whenever `wake` is called. */
function until(predicate: () => boolean, waiters: (() => void)[]): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (predicate()) resolve()
      else waiters.push(check)
    }
    check()
  })
}

describe('several processes on PostgreSQL', () => {
  test(`${KILLS} kill -9 of the sequencing process under load; every receipt and checkpoint holds`, async () => {
    const agent = keepAliveAgent(LANES)
    const rebuilders: Rebuilder[] = [
      newRebuilder('ecdsa-p256'),
      newRebuilder('ed25519'),
      newRebuilder('ecdsa-p256'),
    ]
    const args = [
      '--data',
      dir,
      '--store',
      database.url,
      '--port',
      '0',
      '--origin',
      ORIGIN,
      '--verify-workers',
      '0',
    ]

    // The two processes: a slot holds a running child and its URL once it listens.
    const slots: { child: LogChild; url: string | undefined }[] = []
    const progress: (() => void)[] = []
    const wake = () => {
      for (const waiter of progress.splice(0)) waiter()
    }
    const verifierKeys = new Set<string>()
    let selfExit: string | undefined
    /** Waits for `predicate`, failing at once if a process stopped without being killed. */
    const waitFor = async (predicate: () => boolean) => {
      await until(() => predicate() || selfExit !== undefined, progress)
      if (selfExit !== undefined) throw new Error(selfExit)
    }
    // Processes alternate between one and two commits in flight, so the sequencer is killed and taken
    // over in both disciplines, and one takes over from the other.
    let started = 0
    const start = (): { child: LogChild; url: string | undefined } => {
      const inFlight = String((started++ % 2) + 1)
      const slot = {
        child: spawnLog([...args, '--commits-in-flight', inFlight]),
        url: undefined as string | undefined,
      }
      children.push(slot.child)
      slot.child.child.stderr!.on('data', wake)
      // A process that stops by itself (not killed here) would leave the test waiting for two: say why.
      void slot.child.exited.then(({ code, signal }) => {
        if (signal !== 'SIGKILL' && !stopped) {
          selfExit ??= `a log process exited by itself (${code ?? signal}):\n${slot.child.stderr()}`
        }
        wake()
      })
      void slot.child.listening.then(
        (url) => {
          slot.url = url
          verifierKeys.add(slot.child.verifierKey())
          wake()
        },
        () => undefined,
      )
      return slot
    }
    const up = () => slots.filter((s) => s.url !== undefined && s.child.child.exitCode === null)
    const sequencer = () =>
      slots.find(
        (s) =>
          s.child.child.exitCode === null &&
          s.child.child.signalCode === null &&
          /sequencing the log/.test(s.child.stderr()),
      )

    const receipts: Receipt[] = []
    const served = new Set<string>()
    const unexpected: string[] = []
    const notSequenced: string[] = []
    const retries: string[] = []
    const everErrored = new Set<string>()
    const submitted: string[] = []
    let fresh = 0
    let freshOpen = true
    let stopped = false
    const serve = (checkpoint: string) => served.add(checkpoint)

    async function nextBody(): Promise<string | undefined> {
      const retry = retries.shift()
      if (retry !== undefined) return retry
      if (!freshOpen || fresh >= MAX_FRESH) return undefined
      const n = fresh++
      const [body] = await makeSubmissions(rebuilders[n % rebuilders.length]!, 'pg-crash', n, n + 1)
      submitted.push(body!)
      return body!
    }

    let turn = 0
    async function lane(): Promise<void> {
      while (!stopped) {
        const live = up()
        if (live.length === 0) {
          await until(() => up().length > 0 || stopped, progress)
          continue
        }
        const base = live[turn++ % live.length]!.url!
        const body = await nextBody()
        if (body === undefined) {
          await until(() => retries.length > 0 || stopped, progress)
          continue
        }
        try {
          const res = await postEntry(agent, base, body)
          const text = res.body.toString('utf8')
          if (res.status === 200 || res.status === 201) {
            const json = JSON.parse(text) as unknown
            receipts.push({ body, status: res.status, json })
            serve(receiptEntry(json).checkpoint)
          } else if (res.status === 503) {
            // Queued but not yet sequenced (a takeover in progress), or the process is shutting down.
            notSequenced.push(text.slice(0, 200))
            retries.push(body)
          } else {
            unexpected.push(`${res.status} ${text.slice(0, 300)}`)
            retries.push(body)
          }
        } catch {
          // The process died under this request: the entry may or may not be in. Send it again.
          everErrored.add(body)
          retries.push(body)
        }
        wake()
      }
    }

    async function poller(): Promise<void> {
      while (!stopped) {
        for (const slot of up()) {
          try {
            const res = await rawRequest(agent, 'GET', `${slot.url}/checkpoint`)
            if (res.status === 200) serve(res.body.toString('utf8'))
            else unexpected.push(`GET /checkpoint: ${res.status}`)
          } catch {
            // Killed mid-request: nothing was served.
          }
        }
        // Again after the next event (an answer, a process's output), not in a busy loop.
        await new Promise<void>((resolve) => progress.push(resolve))
      }
    }

    slots.push(start())
    await waitFor(() => sequencer() !== undefined && up().length === 1)
    slots.push(start())
    await waitFor(() => up().length === 2)
    const workers = [...Array.from({ length: LANES }, lane), poller()]

    const takeovers: number[] = []
    for (let kill = 0; kill < KILLS; kill++) {
      // Work first: the current sequencer answers some submissions, and both processes are up.
      const before = receipts.length
      await waitFor(
        () => receipts.length >= before + WORK_PER_CYCLE && up().length === 2 && sequencer() !== undefined,
      )
      const victim = sequencer()!
      debug(
        `kill ${kill}: receipts ${receipts.length}, retries ${retries.length}, 503s ${notSequenced.length}`,
      )
      const survivor = slots.find((s) => s !== victim)!
      // Counted before the kill: the survivor may take over before the kill is reported here.
      const lines = (survivor.child.stderr().match(/sequencing the log/g) ?? []).length
      const killedAt = Date.now()
      await victim.child.kill9()
      // The survivor takes over: it says so once more.
      await until(
        () =>
          (survivor.child.stderr().match(/sequencing the log/g) ?? []).length > lines ||
          survivor.child.child.exitCode !== null,
        progress,
      )
      if (survivor.child.child.exitCode !== null) {
        throw new Error(
          `the surviving process exited (${survivor.child.child.exitCode}): ${survivor.child.stderr()}`,
        )
      }
      takeovers.push(Date.now() - killedAt)
      debug(`took over after ${takeovers[takeovers.length - 1]} ms`)
      slots[slots.indexOf(victim)] = start()
    }

    // The end: no new submissions; every retry gets its answer.
    freshOpen = false
    debug(`end: receipts ${receipts.length} of ${submitted.length}, retries ${retries.length}`)
    await waitFor(() => retries.length === 0 && receipts.length === submitted.length)
    stopped = true
    wake()
    await Promise.all(workers)
    agent.destroy()

    const context = `${KILLS} kills`
    expect(unexpected, context).toEqual([])
    expect(verifierKeys.size, context).toBe(1)
    const verifierKey = [...verifierKeys][0]!
    expect(everErrored.size, context).toBeGreaterThan(0)
    const finalUrl = up()[0]!.url!
    const audited = await auditLog(finalUrl, verifierKey)
    const verifier = parseVerifierKey(verifierKey)
    for (const receipt of receipts) {
      const entry = receiptEntry(receipt.json)
      expect(entry.index < audited.size, context).toBe(true)
      expect(bytesEqual(audited.leaves[Number(entry.index)]!, entry.leaf), `leaf ${entry.index}`).toBe(true)
      const { checkpoint } = openCheckpoint(entry.checkpoint, verifier)
      verifyInclusion(hashLeaf(entry.leaf), entry.index, checkpoint.size, entry.proof, checkpoint.root)
    }
    // Every submission is in the log exactly once, and nothing else is.
    expect(new Set(receipts.map((r) => r.body)).size).toBe(submitted.length)
    expect(audited.size, context).toBe(BigInt(submitted.length))
    const logged = new Set(
      audited.leaves.map((leaf) => {
        const entry = decodeLogEntry(leaf)
        return `${entry.keyId}/${Buffer.from(entry.payloadHash).toString('hex')}`
      }),
    )
    expect(logged.size, 'a statement is in the log twice').toBe(audited.leaves.length)
    // Every checkpoint either process ever served is a prefix of the final tree, from its own tiles.
    for (const checkpoint of served) openLogCheckpoint(checkpoint, verifierKey)
    const checked = await assertConsistentWith(finalUrl, verifierKey, audited, served)
    expect(checked).toBe(served.size)
    // Both processes serve the same final tree, and the log goes on.
    for (const slot of up()) {
      const res = await rawRequest(keepAliveAgent(1), 'GET', `${slot.url}/checkpoint`)
      expect(openLogCheckpoint(res.body.toString('utf8'), verifierKey).size).toBeGreaterThanOrEqual(
        audited.size,
      )
    }
    const [next] = await makeSubmissions(rebuilders[0]!, 'pg-after', 0, 1)
    const single = keepAliveAgent(1)
    const appended = await postEntry(single, finalUrl, next!)
    single.destroy()
    expect(appended.status).toBe(201)
    takeovers.sort((a, b) => a - b)
    console.log(
      `${context}: ${submitted.length} submissions, ${everErrored.size} cut by a kill, ${notSequenced.length} answered 503 ` +
        `while queued, ${served.size} checkpoints served, final size ${audited.size}; takeover after a kill (ms): ` +
        `median ${takeovers[Math.floor(takeovers.length / 2)]}, max ${takeovers[takeovers.length - 1]}`,
    )
  }, 600_000)
})
