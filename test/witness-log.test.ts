// The log side of the witness protocol, end to end on loopback: a real log server's checkpoints sent to a
// real witness with requestCosignature (proofs from the log's own tiles), the cosigned checkpoint verified
// under a C2SP tlog-policy, and a monitor that requires the witness quorum. This is what the log server
// does after each checkpoint once it is wired (see docs/design/witness.md).
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildStatement, generateKeyPair, signStatement, type GeneratedKeyPair } from '@ledger/attestation'
import { defaultConfig as logDefaults, startLogServer, type RunningLog } from '@ledger/log-server'
import {
  addSignatures,
  parseCheckpoint,
  parseCosignatureVerifierKey,
  parseSignedNote,
  parseTlogPolicy,
  proveConsistency,
  requestCosignature,
  tilePath,
  tileHashReader,
  verifyCheckpointWithPolicy,
  type CosignatureOutcome,
} from '@ledger/tlog'
import { defaultConfig as witnessDefaults, startWitness, type RunningWitness } from '@ledger/witness'
import { defaultConfig as monitorDefaults, Monitor } from '@ledger/monitor'

const ORIGIN = 'witness-log.example/log'
let dir: string
let log: RunningLog
let witness: RunningWitness
let rebuilder: GeneratedKeyPair
let submitted = 0

async function submit(count: number): Promise<void> {
  for (let n = 0; n < count; n++, submitted++) {
    const statement = buildStatement({
      artifacts: [{ name: `w-${submitted}.tgz`, sha256: (submitted + 1).toString(16).padStart(64, '0') }],
      source: { uri: 'git+https://github.com/example/project', commit: 'ab'.repeat(20) },
      builderId: 'https://rebuilder.example/witness-log',
    })
    const bundle = await signStatement(statement, rebuilder.privateKeyPem)
    const res = await fetch(`${log.url}/api/v1/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ bundle, publicKey: rebuilder.publicKeyPem }),
    })
    expect(res.status).toBe(201)
    await res.arrayBuffer()
  }
}

/** What the log server does per checkpoint and witness: one requestCosignature over HTTP. */
async function cosign(signedCheckpoint: string, witnessSize: bigint): Promise<CosignatureOutcome> {
  const { size, root } = parseCheckpoint(parseSignedNote(signedCheckpoint).text)
  // The log would read its own tiles; here they come over HTTP and are authenticated against the root.
  const reader = tileHashReader(size, root, (tiles) =>
    Promise.all(
      tiles.map(async (t) => new Uint8Array(await (await fetch(`${log.url}/${tilePath(t)}`)).arrayBuffer())),
    ),
  )
  return requestCosignature({
    signedCheckpoint,
    witness: parseCosignatureVerifierKey(witness.verifierKey),
    witnessSize,
    proveConsistency: (oldSize, newSize) => proveConsistency(oldSize, newSize, reader),
    post: async (body) => {
      const res = await fetch(`${witness.url}/add-checkpoint`, { method: 'POST', body })
      return {
        status: res.status,
        contentType: res.headers.get('content-type') ?? undefined,
        body: await res.text(),
      }
    },
  })
}

const checkpointOf = async () => (await fetch(`${log.url}/checkpoint`)).text()

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'witness-log-'))
  rebuilder = generateKeyPair()
  log = await startLogServer({
    ...logDefaults(),
    dataDir: join(dir, 'log'),
    host: '127.0.0.1',
    port: 0,
    origin: ORIGIN,
    verifyWorkers: 0,
    batchWaitMs: 1,
  })
  await writeFile(join(dir, 'logs.policy'), `log ${log.verifierKey}\n`)
  witness = await startWitness({
    ...witnessDefaults(),
    dataDir: join(dir, 'witness'),
    host: '127.0.0.1',
    port: 0,
    name: 'witness-log.example/w',
    logsFile: join(dir, 'logs.policy'),
  })
})
afterAll(async () => {
  await witness?.close()
  await log?.close()
  await rm(dir, { recursive: true, force: true })
})

describe('log and witness', () => {
  let witnessSize = 0n
  let policyText = ''

  it('cosigns the log checkpoints as the log grows, with proofs from its tiles', async () => {
    await submit(5)
    let outcome = await cosign(await checkpointOf(), witnessSize)
    expect(outcome).toMatchObject({ kind: 'cosigned', witnessSize: 5n })
    witnessSize = outcome.witnessSize!
    await submit(300)
    outcome = await cosign(await checkpointOf(), witnessSize)
    expect(outcome).toMatchObject({ kind: 'cosigned', witnessSize: 305n })
    witnessSize = outcome.witnessSize!
    // A log that restarted and forgot the witness's size starts from 0; the 409 tells it the right one.
    await submit(2)
    outcome = await cosign(await checkpointOf(), 0n)
    expect(outcome).toMatchObject({ kind: 'cosigned', witnessSize: 307n })
    witnessSize = outcome.witnessSize!
  })

  it('gives a checkpoint that verifies under a tlog-policy requiring the witness', async () => {
    policyText = `log ${log.verifierKey}\nwitness W ${witness.verifierKey}\nquorum W\n`
    const policy = parseTlogPolicy(policyText)
    const signed = await checkpointOf()
    expect(() => verifyCheckpointWithPolicy(policy, signed)).toThrow(
      expect.objectContaining({ code: 'QUORUM_NOT_MET' }),
    )
    const outcome = await cosign(signed, witnessSize)
    if (outcome.kind !== 'cosigned') throw new Error(`refused: ${outcome.reason}`)
    const cosigned = addSignatures(signed, [outcome.cosignature.line])
    expect(verifyCheckpointWithPolicy(policy, cosigned)).toMatchObject({
      witnessed: ['W'],
      checkpoint: { size: 307n },
    })
  })

  it('lets a monitor with that policy follow only cosigned checkpoints', async () => {
    const policyFile = join(dir, 'monitor.policy')
    await writeFile(policyFile, policyText)
    // Serves the log, with /checkpoint cosigned by the witness on the fly (what the wired log serves).
    const proxy: Server = createServer(async (req, res) => {
      const upstream = await fetch(log.url + (req.url ?? '/'))
      let body = Buffer.from(await upstream.arrayBuffer())
      if (req.url === '/checkpoint') {
        const outcome = await cosign(body.toString(), witnessSize)
        if (outcome.kind === 'cosigned')
          body = Buffer.from(addSignatures(body.toString(), [outcome.cosignature.line]))
      }
      res
        .writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' })
        .end(body)
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const io = { stdout: { write: () => undefined }, stderr: { write: () => undefined } }
    const config = { ...monitorDefaults(), policyFile, workers: 0, sample: 2 }
    try {
      const plain = await Monitor.open({ ...config, logUrl: log.url, dataDir: join(dir, 'm1') }, io)
      try {
        const { alerts } = await plain.pass()
        expect(alerts).toEqual([expect.objectContaining({ type: 'bad-checkpoint', code: 'QUORUM_NOT_MET' })])
      } finally {
        await plain.close()
      }
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
      const witnessed = await Monitor.open({ ...config, logUrl: url, dataDir: join(dir, 'm2') }, io)
      try {
        expect(await witnessed.pass()).toEqual({ alerts: [], size: 307n, indexed: 307n })
      } finally {
        await witnessed.close()
      }
    } finally {
      proxy.close()
      proxy.closeAllConnections()
    }
  })
})
