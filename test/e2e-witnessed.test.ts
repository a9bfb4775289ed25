// A log that serves only witnessed checkpoints, end to end with `attest`: a rebuilder's receipt comes at
// once (signed by the log alone), while an installer whose policy requires the witness counts only against
// cosigned checkpoints, given as a JSON policy or as a C2SP tlog-policy file.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  defaultConfig as logDefaults,
  parseWitnessSpec,
  startLogServer,
  type RunningLog,
} from '@ledger/log-server'
import { generateCosignerKey, generateNoteKey, parseCheckpoint, parseSignedNote } from '@ledger/tlog'
import { defaultConfig as witnessDefaults, startWitness, type RunningWitness } from '@ledger/witness'
import { cli, removeDir, tempDir, type CliRun } from './e2e-support.js'

const ORIGIN = 'witnessed.example/log'
const COMMIT = 'ab'.repeat(20)
const DIGEST = 'cd'.repeat(32)

function expectCode(run: CliRun, code: number): void {
  if (run.code !== code) throw new Error(`exit ${run.code}, expected ${code}\n${run.stdout}\n${run.stderr}`)
}

describe('a witnessed log and attest', () => {
  let dir: string
  let log: RunningLog
  let witness: RunningWitness
  let attest: ReturnType<typeof cli>
  const logKey = generateNoteKey(ORIGIN)

  beforeAll(async () => {
    dir = await tempDir('attest-witnessed-')
    // The log's key exists before either starts: the witness must know it, and the log the witness's.
    await mkdir(join(dir, 'log'))
    await writeFile(join(dir, 'log', 'log.key'), `${logKey.signerKey}\n`, { mode: 0o600 })
    await writeFile(join(dir, 'logs.policy'), `log ${logKey.verifierKey}\n`)
    witness = await startWitness({
      ...witnessDefaults(),
      dataDir: join(dir, 'witness'),
      host: '127.0.0.1',
      port: 0,
      name: 'witnessed.example/w1',
      logsFile: join(dir, 'logs.policy'),
    })
    log = await startLogServer({
      ...logDefaults(),
      dataDir: join(dir, 'log'),
      host: '127.0.0.1',
      port: 0,
      origin: ORIGIN,
      verifyWorkers: 0,
      batchWaitMs: 1,
      witnesses: [parseWitnessSpec(`${witness.url}=${witness.verifierKey}`)],
      newIdentity: true, // log.key was made above, before the first start
    })
    attest = cli(dir)
    expectCode(await attest('keygen', '--out', 'alice'), 0)
    const alice = (await readFile(join(dir, 'alice.pub'), 'utf8')).trim()
    const parties = [{ name: 'alice', keys: [alice] }]
    await writeFile(
      join(dir, 'policy.json'),
      JSON.stringify({
        log: { origin: ORIGIN, verifierKey: logKey.verifierKey },
        witnesses: { keys: [witness.verifierKey], quorum: 1 },
        parties,
        threshold: 1,
      }),
    )
    await writeFile(join(dir, 'parties.json'), JSON.stringify({ parties, threshold: 1 }))
    await writeFile(
      join(dir, 'log.policy'),
      `log ${logKey.verifierKey}\nwitness w1 ${witness.verifierKey}\nquorum w1\n`,
    )
    const stranger = generateCosignerKey('witnessed.example/stranger')
    await writeFile(
      join(dir, 'stranger.policy'),
      `log ${logKey.verifierKey}\nwitness s ${stranger.verifierKey}\nquorum s\n`,
    )
  })

  afterAll(async () => {
    await log?.close()
    await witness?.close()
    await removeDir(dir)
  })

  it('gives the rebuilder a receipt at once, and the installer a count proven against a cosigned checkpoint', async () => {
    const submit = await attest(
      'submit',
      '--log',
      log.url,
      '--policy',
      'policy.json',
      '--key',
      'alice.key',
      '--subject',
      `app.tgz=sha256:${DIGEST}`,
      '--repo',
      'git+https://github.com/example/app',
      '--commit',
      COMMIT,
      '--receipt',
      'receipt.json',
    )
    expectCode(submit, 0)
    // What submit calls verified verifies with the same policy; what does not, it does not call verified.
    const offline = await attest('receipt', 'verify', 'receipt.json', '--policy', 'policy.json')
    if (offline.code === 0) {
      expect(submit.stdout).toMatch(/receipt verified \(log signature and witness quorum\)/)
    } else {
      expectCode(offline, 1)
      expect(submit.stdout).not.toMatch(/receipt verified/)
      expect(submit.stdout).toMatch(/not yet cosigned by the policy's witness quorum/)
    }
    // The witness cosigns in the background; the log serves a checkpoint once the quorum has it.
    // Polled until it is there, however long that takes.
    for (;;) {
      const served = await (await fetch(`${log.url}/checkpoint`)).text()
      if (parseCheckpoint(parseSignedNote(served).text).size >= 1n) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const served = await (await fetch(`${log.url}/checkpoint`)).text()
    expect(served).toContain(`— witnessed.example/w1 `)

    const verify = await attest(
      'verify',
      '--log',
      log.url,
      '--policy',
      'policy.json',
      '--digest',
      `sha256:${DIGEST}`,
      '--json',
    )
    expectCode(verify, 0)
    expect(verify.json()).toMatchObject({ count: 1, ok: true })

    const viaTlogPolicy = await attest(
      'verify',
      '--log',
      log.url,
      '--policy',
      'parties.json',
      '--tlog-policy',
      'log.policy',
      '--digest',
      `sha256:${DIGEST}`,
    )
    expectCode(viaTlogPolicy, 0)
  })

  it('refuses, exit 3, checkpoints that lack the cosignature a policy requires', async () => {
    const run = await attest(
      'verify',
      '--log',
      log.url,
      '--policy',
      'parties.json',
      '--tlog-policy',
      'stranger.policy',
      '--digest',
      `sha256:${DIGEST}`,
      '--state',
      'other-state',
    )
    expectCode(run, 3)
    expect(run.stderr).toMatch(/quorum/i)
  })
})
