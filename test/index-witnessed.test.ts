// The verifiable index's output log cosigned by the log's witnesses (docs/design/verifiable-index.md §4):
// a real witness on loopback, configured with the log's key and the index's key like any two logs, cosigns
// both; /index/checkpoint and the lookups serve the output checkpoint once the quorum cosigned it, and the
// lookup still verifies (the map it proves is the one of the witnessed leaf). After a restart the
// witnessed output checkpoint is served again. A witness that does not know the index key leaves the
// output log unwitnessed: its checkpoint carries no cosignature while the log's own are cosigned. A
// monitor whose tlog-policy lists the index requires the witness quorum on the output log too: clean on
// the witnessed one, an alert (QUORUM_NOT_MET) on the unwitnessed one.
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildStatement, signStatement } from '@ledger/attestation'
import { verifyIndexAnswer } from '@ledger/client'
import {
  defaultConfig as logDefaults,
  parseWitnessSpec,
  startLogServer,
  type RunningLog,
} from '@ledger/log-server'
import {
  generateNoteKey,
  openCheckpoint,
  parseCosignatureVerifierKey,
  parseVerifierKey,
  type Checkpoint,
} from '@ledger/tlog'
import { defaultConfig as witnessDefaults, startWitness, type RunningWitness } from '@ledger/witness'
import { EXIT_ALERTS, EXIT_CLEAN, LevelMonitorStore, parseConfig, runMonitor } from '@ledger/monitor'
import { newRebuilder } from './support/load.js'

const ORIGIN = 'index-witnessed.example/log'
const hex = (label: string) => createHash('sha256').update(label).digest('hex')
const COMMIT = hex('commit W').slice(0, 40)
const logKey = generateNoteKey(ORIGIN)
const indexKey = generateNoteKey(`${ORIGIN}/index`)
const alice = newRebuilder()

let dir: string
let log: RunningLog
let witness: RunningWitness
let submitted = 0

async function startLog(witnessUrl: string, witnessKey: string, dataDir = join(dir, 'log')) {
  return startLogServer({
    ...logDefaults(),
    dataDir,
    host: '127.0.0.1',
    port: 0,
    origin: ORIGIN,
    verifyWorkers: 0,
    batchWaitMs: 1,
    index: true,
    witnesses: [parseWitnessSpec(`${witnessUrl}=${witnessKey}`)],
    newIdentity: true, // log.key and index.key were made before the first start, for the witness
  })
}

async function submit(target: RunningLog): Promise<void> {
  const statement = buildStatement({
    artifacts: [{ name: `w-${submitted}.tgz`, sha256: hex(`artifact ${submitted++}`) }],
    source: { uri: 'git+https://example.com/app', commit: COMMIT },
    builderId: 'https://rebuilders.example/w',
  })
  const bundle = await signStatement(statement, alice.privateKeyPem)
  const res = await fetch(`${target.url}/api/v1/entries`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ bundle, publicKey: alice.publicKeyPem }),
  })
  expect(res.status).toBe(201)
  await res.arrayBuffer()
}

/** The served output checkpoint, opened with the index key and (when given) one witness's cosignature. */
async function indexCheckpoint(target: RunningLog, witnessKey?: string): Promise<Checkpoint> {
  const text = await (await fetch(`${target.url}/index/checkpoint`)).text()
  return openCheckpoint(text, parseVerifierKey(indexKey.verifierKey), {
    witnesses: witnessKey === undefined ? [] : [parseCosignatureVerifierKey(witnessKey)],
    quorum: witnessKey === undefined ? 0 : 1,
  }).checkpoint
}

/** Waits until the served output checkpoint is cosigned and states every one of `size` log entries. */
async function waitForWitnessedIndex(target: RunningLog, size: number): Promise<void> {
  for (;;) {
    const info = (await (await fetch(`${target.url}/api/v1/log`)).json()) as {
      size: number
      index: { trailing: number }
    }
    if (info.size >= size && info.index.trailing === 0) {
      try {
        await indexCheckpoint(target, witness.verifierKey)
        return
      } catch {
        // Not cosigned yet.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ledger-index-witnessed-'))
  await mkdir(join(dir, 'log'))
  await writeFile(join(dir, 'log', 'log.key'), `${logKey.signerKey}\n`, { mode: 0o600 })
  await writeFile(join(dir, 'log', 'index.key'), `${indexKey.signerKey}\n`, { mode: 0o600 })
  // The witness knows both logs, by their keys (each key's name is its origin).
  await writeFile(join(dir, 'logs.policy'), `log ${logKey.verifierKey}\nlog ${indexKey.verifierKey}\n`)
  witness = await startWitness({
    ...witnessDefaults(),
    dataDir: join(dir, 'witness'),
    host: '127.0.0.1',
    port: 0,
    name: 'index-witnessed.example/w1',
    logsFile: join(dir, 'logs.policy'),
  })
  log = await startLog(witness.url, witness.verifierKey)
})

afterAll(async () => {
  await log?.close()
  await witness?.close()
  await rm(dir, { recursive: true, force: true })
})

describe('the output log, witnessed', () => {
  test('the witness cosigns the output log; /index/checkpoint and lookups serve the cosigned checkpoint', async () => {
    for (let i = 0; i < 5; i++) await submit(log)
    await waitForWitnessedIndex(log, 5)
    const checkpoint = await indexCheckpoint(log, witness.verifierKey)
    expect(checkpoint.origin).toBe(`${ORIGIN}/index`)

    const key = `commit:${COMMIT}`
    const answer = (await (
      await fetch(`${log.url}/api/v1/index/lookup?key=${encodeURIComponent(key)}`)
    ).json()) as { checkpoint: string }
    // The lookup's checkpoint is the served one, cosigned, and the answer verifies against it.
    openCheckpoint(answer.checkpoint, parseVerifierKey(indexKey.verifierKey), {
      witnesses: [parseCosignatureVerifierKey(witness.verifierKey)],
      quorum: 1,
    })
    const verified = verifyIndexAnswer(answer, key, indexKey.verifierKey)
    expect(verified.complete).toBe(true)
    expect(verified.inputSize).toBe(5n)
    expect(verified.entries).toHaveLength(5)
  })

  test('lookups keep verifying while entries arrive (the served map is the witnessed leaf’s)', async () => {
    const key = `commit:${COMMIT}`
    const arriving = (async () => {
      for (let i = 0; i < 20; i++) await submit(log)
    })()
    let answers = 0
    let done = false
    void arriving.then(() => (done = true))
    while (!done || answers === 0) {
      const answer = await (
        await fetch(`${log.url}/api/v1/index/lookup?key=${encodeURIComponent(key)}`)
      ).json()
      const verified = verifyIndexAnswer(answer, key, indexKey.verifierKey)
      // Whatever leaf is served, the list is complete for its input size: every entry of the commit.
      expect(verified.entries).toHaveLength(Number(verified.inputSize))
      answers++
    }
    await arriving
    await waitForWitnessedIndex(log, 25)
  })

  test('after a restart, the witnessed output checkpoint is served again', async () => {
    const before = await indexCheckpoint(log, witness.verifierKey)
    await log.close()
    log = await startLog(witness.url, witness.verifierKey)
    // Cosigned at once (stored), never an older tree.
    const after = await indexCheckpoint(log, witness.verifierKey)
    expect(after.size).toBeGreaterThanOrEqual(before.size)
    const key = `commit:${COMMIT}`
    // The map is loaded or rebuilt in the background: 503 until then.
    let res = await fetch(`${log.url}/api/v1/index/lookup?key=${encodeURIComponent(key)}`)
    while (res.status === 503) {
      await res.arrayBuffer()
      await new Promise((resolve) => setTimeout(resolve, 20))
      res = await fetch(`${log.url}/api/v1/index/lookup?key=${encodeURIComponent(key)}`)
    }
    expect(res.status).toBe(200)
    expect(verifyIndexAnswer(await res.json(), key, indexKey.verifierKey).entries).toHaveLength(25)
  })

  test('a monitor whose tlog-policy lists the index checks the quorum on the output log too: clean', async () => {
    await writeFile(
      join(dir, 'monitor.policy'),
      `log ${logKey.verifierKey}\nlog ${indexKey.verifierKey}\nwitness w1 ${witness.verifierKey}\nquorum w1\n`,
    )
    const request = parseConfig(
      ['--log', log.url, '--policy', join(dir, 'monitor.policy'), '--data', join(dir, 'monitor'), '--once'],
      {},
    )
    if (request.kind !== 'run') throw new Error('unexpected help')
    const out: string[] = []
    const code = await runMonitor(
      { ...request.config, workers: 0, sample: 1 },
      { stdout: { write: (t: string) => out.push(t) }, stderr: { write: () => true } },
    )
    expect(out.join('')).toBe('')
    expect(code).toBe(EXIT_CLEAN)
    const store = await LevelMonitorStore.open(join(dir, 'monitor', 'db'))
    try {
      const state = await store.readIndexState()
      expect(state?.verifierKey).toBe(indexKey.verifierKey)
      expect(state?.checked).toBe(state?.size)
      expect(state?.checkpoint).toContain('— index-witnessed.example/w1 ')
    } finally {
      await store.close()
    }
  })

  test('a witness that does not know the index key: the log is cosigned, the output log is not', async () => {
    const otherDir = join(dir, 'other')
    const other = generateNoteKey('index-witnessed.example/other')
    await mkdir(join(otherDir, 'log'), { recursive: true })
    await writeFile(join(otherDir, 'log', 'log.key'), `${other.signerKey}\n`, { mode: 0o600 })
    await writeFile(join(otherDir, 'logs.policy'), `log ${other.verifierKey}\n`)
    const lone = await startWitness({
      ...witnessDefaults(),
      dataDir: join(otherDir, 'witness'),
      host: '127.0.0.1',
      port: 0,
      name: 'index-witnessed.example/w2',
      logsFile: join(otherDir, 'logs.policy'),
    })
    const reports: string[] = []
    const origError = console.error
    console.error = (...args: unknown[]) => void reports.push(args.join(' '))
    let second: RunningLog | undefined
    try {
      second = await startLogServer({
        ...logDefaults(),
        dataDir: join(otherDir, 'log'),
        host: '127.0.0.1',
        port: 0,
        origin: 'index-witnessed.example/other',
        verifyWorkers: 0,
        batchWaitMs: 1,
        index: true,
        witnesses: [parseWitnessSpec(`${lone.url}=${lone.verifierKey}`)],
        newIdentity: true,
      })
      await submit(second)
      // The log's checkpoint gets cosigned; the witness refuses the index's (403: an unknown log).
      for (;;) {
        const text = await (await fetch(`${second.url}/checkpoint`)).text()
        if (text.includes('— index-witnessed.example/w2 ')) break
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      while (!reports.some((r) => /^index: witness .* refused with 404/.test(r))) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const text = await (await fetch(`${second.url}/index/checkpoint`)).text()
      expect(text).not.toContain('— index-witnessed.example/w2 ')
      // A monitor whose policy lists the index with that witness's quorum raises it.
      const info = (await (await fetch(`${second.url}/api/v1/log`)).json()) as {
        index: { verifierKey: string }
      }
      await writeFile(
        join(otherDir, 'monitor.policy'),
        `log ${other.verifierKey}\nlog ${info.index.verifierKey}\nwitness w2 ${lone.verifierKey}\nquorum w2\n`,
      )
      const request = parseConfig(
        ['--log', second.url, '--policy', join(otherDir, 'monitor.policy'), '--data', join(otherDir, 'm')],
        {},
      )
      if (request.kind !== 'run') throw new Error('unexpected help')
      const out: string[] = []
      const code = await runMonitor(
        { ...request.config, once: true, workers: 0, sample: 1 },
        { stdout: { write: (t: string) => out.push(t) }, stderr: { write: () => true } },
      )
      expect(code).toBe(EXIT_ALERTS)
      const alerts = out
        .join('')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
      expect(alerts).toMatchObject([{ type: 'bad-checkpoint', source: 'index', code: 'QUORUM_NOT_MET' }])
    } finally {
      console.error = origError
      await second?.close()
      await lone.close()
    }
  })
})
