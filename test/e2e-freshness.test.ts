// Freshness end to end (docs/design/verifiable-index.md §8), with `attest`: a real witness on loopback
// whose clock is two hours behind cosigns the log's checkpoints (real keys, real cosignature/v1 times, as a
// witness that cosigned long ago would have). A policy allowing an hour refuses the checkpoint: exit 3,
// STALE, the message naming the age and the limit, the error object under --json. A policy allowing a day
// accepts it and says how old it is; a policy without witnesses claims no freshness and says so; a policy
// with a maximum age and no witnesses is a policy error (exit 2). An idle log asks its witnesses to cosign
// its checkpoint again (--witness-refresh-s), so its cosignatures do not age while nothing is logged.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  defaultConfig as logDefaults,
  parseWitnessSpec,
  startLogServer,
  type RunningLog,
} from '@ledger/log-server'
import {
  generateNoteKey,
  openCheckpoint,
  parseCheckpoint,
  parseCosignatureVerifierKey,
  parseSignedNote,
  parseVerifierKey,
} from '@ledger/tlog'
import { defaultConfig as witnessDefaults, startWitness, type RunningWitness } from '@ledger/witness'
import { cli, removeDir, tempDir, type CliRun } from './e2e-support.js'

const ORIGIN = 'freshness.example/log'
const COMMIT = 'ef'.repeat(20)
const DIGEST = '12'.repeat(32)
const LAG_SECONDS = 7200

function expectCode(run: CliRun, code: number): void {
  if (run.code !== code) throw new Error(`exit ${run.code}, expected ${code}\n${run.stdout}\n${run.stderr}`)
}

describe('freshness with attest verify', () => {
  let dir: string
  let log: RunningLog
  let witness: RunningWitness
  let attest: ReturnType<typeof cli>
  const logKey = generateNoteKey(ORIGIN)
  let parties: { name: string; keys: string[] }[]

  const writePolicy = (name: string, extra: Record<string, unknown>) =>
    writeFile(
      join(dir, name),
      JSON.stringify({
        log: { origin: ORIGIN, verifierKey: logKey.verifierKey },
        parties,
        threshold: 1,
        ...extra,
      }),
    )
  const verify = (policy: string, ...more: string[]) =>
    attest(
      'verify',
      '--log',
      log.url,
      '--policy',
      policy,
      '--digest',
      `sha256:${DIGEST}`,
      '--state',
      policy + '.state',
      ...more,
    )

  beforeAll(async () => {
    dir = await tempDir('attest-freshness-')
    await mkdir(join(dir, 'log'))
    await writeFile(join(dir, 'log', 'log.key'), `${logKey.signerKey}\n`, { mode: 0o600 })
    await writeFile(join(dir, 'logs.policy'), `log ${logKey.verifierKey}\n`)
    // A witness whose clock is two hours behind: its cosignatures say they were made two hours ago.
    witness = await startWitness(
      {
        ...witnessDefaults(),
        dataDir: join(dir, 'witness'),
        host: '127.0.0.1',
        port: 0,
        name: 'freshness.example/w1',
        logsFile: join(dir, 'logs.policy'),
      },
      { clock: () => BigInt(Math.floor(Date.now() / 1000) - LAG_SECONDS) },
    )
    log = await startLogServer({
      ...logDefaults(),
      dataDir: join(dir, 'log'),
      host: '127.0.0.1',
      port: 0,
      origin: ORIGIN,
      verifyWorkers: 0,
      batchWaitMs: 1,
      witnesses: [parseWitnessSpec(`${witness.url}=${witness.verifierKey}`)],
      newIdentity: true,
    })
    attest = cli(dir)
    expectCode(await attest('keygen', '--out', 'alice'), 0)
    parties = [{ name: 'alice', keys: [(await readFile(join(dir, 'alice.pub'), 'utf8')).trim()] }]
    const witnesses = { keys: [witness.verifierKey], quorum: 1 }
    await writePolicy('hour.json', { witnesses, maxCheckpointAgeSeconds: 3600 })
    await writePolicy('day.json', { witnesses, maxCheckpointAgeSeconds: 86400 })
    await writePolicy('unwitnessed.json', {})
    await writePolicy('age-without-witnesses.json', { maxCheckpointAgeSeconds: 3600 })
    const submit = await attest(
      'submit',
      '--log',
      log.url,
      '--policy',
      'unwitnessed.json',
      '--key',
      'alice.key',
      '--subject',
      `app.tgz=sha256:${DIGEST}`,
      '--repo',
      'git+https://github.com/example/app',
      '--commit',
      COMMIT,
    )
    expectCode(submit, 0)
    // The witness cosigns in the background; wait until the served checkpoint covers the entry.
    for (;;) {
      const served = await (await fetch(`${log.url}/checkpoint`)).text()
      if (parseCheckpoint(parseSignedNote(served).text).size >= 1n) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })

  afterAll(async () => {
    await log?.close()
    await witness?.close()
    await removeDir(dir)
  })

  it('refuses a checkpoint cosigned longer ago than the policy allows: exit 3, STALE', async () => {
    const run = await verify('hour.json')
    expectCode(run, 3)
    expect(run.stderr).toMatch(/cosigned by the witness quorum (\d+) s ago; the policy allows at most 3600 s/)
    const age = Number(/quorum (\d+) s ago/.exec(run.stderr)![1])
    expect(age).toBeGreaterThanOrEqual(LAG_SECONDS)
    const json = await verify('hour.json', '--json')
    expectCode(json, 3)
    const error = (JSON.parse(json.stdout) as { error: { code: string; message: string } }).error
    expect(error.code).toBe('STALE')
    expect(error.message).toMatch(/at most 3600 s/)
  })

  it('accepts it under a policy allowing a day, and says how old it is', async () => {
    const run = await verify('day.json')
    expectCode(run, 0)
    expect(run.stdout).toMatch(
      /fresh: the witness quorum cosigned it \d+ s ago, at .* \(at most 86400 s allowed\)/,
    )
    const json = await verify('day.json', '--json')
    expectCode(json, 0)
    const fresh = (JSON.parse(json.stdout) as { fresh: { ageSeconds: number; maxAgeSeconds: number } }).fresh
    expect(fresh.maxAgeSeconds).toBe(86400)
    expect(fresh.ageSeconds).toBeGreaterThanOrEqual(LAG_SECONDS)
  })

  it('claims no freshness without witnesses, and says so', async () => {
    const run = await verify('unwitnessed.json')
    expectCode(run, 0)
    expect(run.stdout).toMatch(/freshness not claimed: the policy names no witnesses/)
    const json = await verify('unwitnessed.json', '--json')
    expectCode(json, 0)
    expect((JSON.parse(json.stdout) as { fresh: unknown }).fresh).toBeNull()
  })

  it('a maximum age without witnesses is a policy error: exit 2', async () => {
    const run = await verify('age-without-witnesses.json')
    expectCode(run, 2)
    expect(run.stderr).toMatch(/maxCheckpointAgeSeconds needs witnesses/)
  })
})

describe('an idle log stays fresh: its witnesses cosign the same checkpoint again', () => {
  let dir: string
  let log: RunningLog
  let witness: RunningWitness
  const logKey = generateNoteKey('freshness.example/idle')

  beforeAll(async () => {
    dir = await tempDir('attest-freshness-idle-')
    await mkdir(join(dir, 'log'))
    await writeFile(join(dir, 'log', 'log.key'), `${logKey.signerKey}\n`, { mode: 0o600 })
    await writeFile(join(dir, 'logs.policy'), `log ${logKey.verifierKey}\n`)
    witness = await startWitness({
      ...witnessDefaults(),
      dataDir: join(dir, 'witness'),
      host: '127.0.0.1',
      port: 0,
      name: 'freshness.example/w2',
      logsFile: join(dir, 'logs.policy'),
    })
    log = await startLogServer({
      ...logDefaults(),
      dataDir: join(dir, 'log'),
      host: '127.0.0.1',
      port: 0,
      origin: 'freshness.example/idle',
      verifyWorkers: 0,
      witnesses: [parseWitnessSpec(`${witness.url}=${witness.verifierKey}`)],
      witnessRefreshS: 1,
      newIdentity: true,
    })
  })

  afterAll(async () => {
    await log?.close()
    await witness?.close()
    await removeDir(dir)
  })

  it('serves the same tree with a newer cosignature once the refresh period passed', async () => {
    const cosignedAt = async (): Promise<{ size: bigint; time: bigint } | undefined> => {
      const text = await (await fetch(`${log.url}/checkpoint`)).text()
      const opened = openCheckpoint(text, parseVerifierKey(logKey.verifierKey), {
        witnesses: [parseCosignatureVerifierKey(witness.verifierKey)],
        quorum: 0,
      })
      const time = opened.cosignatures[0]?.timestamp
      return time === undefined ? undefined : { size: opened.checkpoint.size, time }
    }
    let first = await cosignedAt()
    while (first === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      first = await cosignedAt()
    }
    // Nothing is submitted: the tree stays, the cosignature gets newer.
    for (;;) {
      const now = await cosignedAt()
      expect(now?.size).toBe(first.size)
      if (now!.time > first.time) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })
})
