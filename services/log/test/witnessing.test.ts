// The log's side of C2SP tlog-witness (DESIGN §9, docs/design/witness.md "The log's side"): against a real
// witness (@ledger/witness, in this process, over loopback HTTP), against witnesses that are down, hang or
// refuse, across restarts; and the Witnessing rounds alone with fake witnesses, to see what is asked when.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@ledger/attestation'
import {
  bytesEqual,
  generateCosignerKey,
  generateNoteKey,
  hashLeaf,
  openCheckpoint,
  parseAddCheckpointRequest,
  parseCosignatureVerifierKey,
  parseCosignerKey,
  parseSignedNote,
  parseVerifierKey,
  proveConsistency,
  rootFromLeafHashes,
  signNote,
  encodeCheckpoint,
  parseSignerKey,
  verifyInclusion,
  type Checkpoint,
  type WitnessHttpAnswer,
} from '@ledger/tlog'
import { defaultConfig as witnessDefaults, startWitness, type RunningWitness } from '@ledger/witness'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { LOG_KEY_FILE } from '../src/log-key.js'
import { startLogServer, type RunningLog } from '../src/server.js'
import type { TreeHead } from '../src/sequencer.js'
import { Witnessing, type WitnessEndpoint, type WitnessPost } from '../src/witnessing.js'
import {
  ORIGIN,
  getJSON,
  hex,
  post,
  signed,
  statement,
  tempDir,
  testConfig,
  verifyReceiptWithSigstore,
  verifyWholeLog,
} from './helpers.js'

let dir: { path: string; remove: () => Promise<void> }
const running: { close(): Promise<void> }[] = []

beforeEach(async () => {
  dir = await tempDir()
})

afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.close()
  await dir.remove()
})

const logDir = () => join(dir.path, 'log')

/** Writes the log's key before its first start, so that a witness can be told the log's verifier key. */
async function makeLogKey(): Promise<string> {
  const { signerKey, verifierKey } = generateNoteKey(ORIGIN)
  await mkdir(logDir(), { recursive: true })
  await writeFile(join(logDir(), LOG_KEY_FILE), signerKey + '\n', { mode: 0o600 })
  return verifierKey
}

async function witnessFor(logVerifierKey: string, name: string): Promise<RunningWitness> {
  const dataDir = join(dir.path, name.replace(/\W/g, '-'))
  await mkdir(dataDir, { recursive: true })
  await writeFile(join(dataDir, 'logs.policy'), `log ${logVerifierKey}\n`)
  const witness = await startWitness({
    ...witnessDefaults(),
    dataDir,
    host: '127.0.0.1',
    port: 0,
    name,
    logsFile: join(dataDir, 'logs.policy'),
  })
  running.push(witness)
  return witness
}

async function startLog(
  witnesses: WitnessEndpoint[],
  overrides: Parameters<typeof testConfig>[1] = {},
  witnessPost?: WitnessPost,
): Promise<RunningLog> {
  const log = await startLogServer(
    // The key was written by makeLogKey before the first start: a new identity, said so.
    testConfig(logDir(), {
      witnesses,
      witnessTimeoutMs: 2000,
      batchWaitMs: 0,
      newIdentity: true,
      ...overrides,
    }),
    witnessPost === undefined ? {} : { witnessPost },
  )
  running.push(log)
  return log
}

/** Stops a log started by startLog (and forgets it, so afterEach does not close it twice). */
async function stopLog(log: RunningLog): Promise<void> {
  running.splice(running.indexOf(log), 1)
  await log.close()
}

let serial = 0
async function submit(log: RunningLog, count: number): Promise<void> {
  const key = generateKeyPair()
  for (let i = 0; i < count; i++, serial++) {
    const answer = await post(
      log.url,
      (await signed(statement([hex(serial + 1)], hex(serial + 1, 40)), key)).body,
    )
    expect(answer.status).toBe(201)
  }
}

async function served(log: RunningLog): Promise<string> {
  const res = await fetch(`${log.url}/checkpoint`)
  expect(res.status).toBe(200)
  return res.text()
}

/** Polls GET /checkpoint until `accept` returns true (the checkpoint's size and its cosigning witnesses). */
async function servedWhen(
  log: RunningLog,
  witnesses: readonly RunningWitness[],
  accept: (checkpoint: Checkpoint, cosigners: string[]) => boolean,
): Promise<string> {
  const logVerifier = parseVerifierKey(log.verifierKey)
  const verifiers = witnesses.map((w) => parseCosignatureVerifierKey(w.verifierKey))
  // Polled until it holds, however long that takes (the test's timeout is the only bound).
  for (;;) {
    const note = await served(log)
    const opened = openCheckpoint(note, logVerifier, { witnesses: verifiers, quorum: 0 })
    if (
      accept(
        opened.checkpoint,
        opened.witnessSignatures.map((s) => s.name),
      )
    )
      return note
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** An HTTP server that reads requests and never answers them; counts requests and the most open at once. */
async function hangingServer(): Promise<{
  url: string
  requests: () => number
  open: () => number
  maxOpen: () => number
}> {
  let requests = 0
  let open = 0
  let maxOpen = 0
  const server: Server = createServer((req: IncomingMessage) => {
    requests++
    open++
    maxOpen = Math.max(maxOpen, open)
    req.resume()
    req.socket.on('close', () => open--)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  running.push({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    open: () => open,
    maxOpen: () => maxOpen,
  }
}

/** A URL where nothing listens (a port that was just free). */
async function deadUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

describe('with a real witness', () => {
  test('checkpoints get cosigned; checkpoint, entries and lookups serve the cosigned one, proofs to its size', async () => {
    const logKey = await makeLogKey()
    const witness = await witnessFor(logKey, 'witnessing.test/w1')
    const log = await startLog([{ url: witness.url, verifierKey: witness.verifierKey }])
    await submit(log, 3)
    let note = await servedWhen(log, [witness], (c, by) => c.size === 3n && by.length === 1)
    // The cosignature verifies (openCheckpoint checked it) and is the witness's: a C2SP cosignature/v1 line.
    expect(parseSignedNote(note).signatures.map((s) => s.name)).toEqual([ORIGIN, 'witnessing.test/w1'])
    // It grows with the log.
    await submit(log, 300)
    note = await servedWhen(log, [witness], (c, by) => c.size === 303n && by.length === 1)
    const { checkpoint } = openCheckpoint(note, parseVerifierKey(log.verifierKey))

    // The whole log still verifies through the static API (with the cosigned checkpoint).
    const whole = await verifyWholeLog(log.url, log.verifierKey)
    expect(whole.size).toBe(303n)
    const lookup = (await getJSON(`${log.url}/api/v1/lookup?digest=sha256:${hex(1)}`)).json
    expect(lookup.checkpoint).toBe(note)
    expect(lookup.treeSize).toBe(303)
    expect(lookup.entries).toHaveLength(1)
    const leaf = Buffer.from(lookup.entries[0].leaf, 'base64')
    const proof = lookup.entries[0].proof.map((h: string) => Buffer.from(h, 'base64'))
    verifyInclusion(hashLeaf(leaf), 0n, 303n, proof, checkpoint.root)
    const entry = (await getJSON(`${log.url}/api/v1/entries/302`)).json
    expect(entry.checkpoint).toBe(note)
    expect(entry.treeSize).toBe(303)
    expect((await getJSON(`${log.url}/api/v1/log`)).json.size).toBe(303)
  })

  test('the witness of --witness-url and --witness-key-file (its key read from the file at start)', async () => {
    const logKey = await makeLogKey()
    const witness = await witnessFor(logKey, 'witnessing.test/file')
    const keyFile = join(dir.path, 'witness.vkey')
    await writeFile(keyFile, `${witness.verifierKey}\n`)
    const log = await startLog([], { witnessUrl: witness.url, witnessKeyFile: keyFile })
    await submit(log, 2)
    await servedWhen(log, [witness], (c, by) => c.size === 2n && by.length === 1)
    // A key file that holds no cosignature key stops the start.
    await writeFile(keyFile, 'not a key\n')
    await expect(
      startLogServer(
        testConfig(join(dir.path, 'other'), { witnessUrl: witness.url, witnessKeyFile: keyFile }),
      ),
    ).rejects.toMatchObject({ code: 'INVALID_CONFIG' })
  })

  test('--receipt-witness-wait-ms: the receipt carries the cosigned checkpoint, and stock Sigstore verifies it', async () => {
    const logKey = await makeLogKey()
    const witness = await witnessFor(logKey, 'witnessing.test/w2')
    const log = await startLog([{ url: witness.url, verifierKey: witness.verifierKey }], {
      receiptWitnessWaitMs: 5000,
    })
    const key = generateKeyPair()
    const submission = await signed(statement([hex(77)], hex(77, 40)), key)
    const answer = await post(log.url, submission.body)
    expect(answer.status).toBe(201)
    const envelope = answer.json.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope
    const opened = openCheckpoint(envelope, parseVerifierKey(log.verifierKey), {
      witnesses: [parseCosignatureVerifierKey(witness.verifierKey)],
    })
    expect(opened.checkpoint.size).toBe(1n)
    const trustedRoot = (await getJSON(`${log.url}/api/v1/log`)).json.trustedRoot
    verifyReceiptWithSigstore(answer.json, trustedRoot, key.publicKeyPem)
  })

  test('a restart serves the stored cosigned checkpoint, even with the witness down; then cosigns again', async () => {
    const logKey = await makeLogKey()
    const witness = await witnessFor(logKey, 'witnessing.test/w3')
    const endpoint = { url: witness.url, verifierKey: witness.verifierKey }
    let log = await startLog([endpoint])
    await submit(log, 5)
    const cosigned = await servedWhen(log, [witness], (c, by) => c.size === 5n && by.length === 1)
    await stopLog(log)

    // The witness is unreachable now: the stored checkpoint is served as it was, byte for byte.
    log = await startLog([{ url: await deadUrl(), verifierKey: witness.verifierKey }], {
      witnessTimeoutMs: 300,
    })
    expect(await served(log)).toBe(cosigned)
    await submit(log, 2)
    expect(await served(log)).toBe(cosigned)
    await stopLog(log)

    // With the witness back, the log (which forgot the witness's size: its 409 tells it) moves on.
    log = await startLog([endpoint])
    expect(await served(log)).toBe(cosigned)
    await submit(log, 1)
    await servedWhen(log, [witness], (c, by) => c.size === 8n && by.length === 1)
    await stopLog(log)

    // Without witnesses the log serves its newest checkpoint, as it always did.
    log = await startLog([])
    const latest = openCheckpoint(await served(log), parseVerifierKey(log.verifierKey))
    expect(latest.checkpoint.size).toBe(8n)
    expect(latest.witnessSignatures).toEqual([])
  })

  test('quorum 1 of 2: one live witness suffices while the other hangs', async () => {
    const logKey = await makeLogKey()
    const witness = await witnessFor(logKey, 'witnessing.test/w4')
    const hanging = await hangingServer()
    const other = generateCosignerKey('witnessing.test/hangs')
    const log = await startLog(
      [
        { url: hanging.url, verifierKey: other.verifierKey },
        { url: witness.url, verifierKey: witness.verifierKey },
      ],
      { witnessQuorum: 1, witnessTimeoutMs: 400 },
    )
    await submit(log, 4)
    await servedWhen(log, [witness], (c, by) => c.size === 4n && by.length === 1)
    await submit(log, 4)
    await servedWhen(log, [witness], (c, by) => c.size === 8n && by.length === 1)
    expect(hanging.maxOpen()).toBe(1)
  })
})

describe('witnesses that are down, hang or refuse', () => {
  test('a down or hanging witness never blocks submissions; one request at a time; the start checkpoint is served', async () => {
    await makeLogKey()
    const hanging = await hangingServer()
    const log = await startLog(
      [
        { url: await deadUrl(), verifierKey: generateCosignerKey('witnessing.test/down').verifierKey },
        { url: hanging.url, verifierKey: generateCosignerKey('witnessing.test/slow').verifierKey },
      ],
      { witnessTimeoutMs: 60_000 },
    )
    const before = await served(log)
    await submit(log, 20)
    // Twenty submissions, one at a time, all answered while the one request to the hanging witness is
    // still open and unanswered (within its 60 s timeout): nothing waited for a witness.
    expect(hanging.open()).toBe(1)
    // The hanging witness was asked about the first checkpoint and, still busy, about nothing else.
    expect(hanging.requests()).toBe(1)
    expect(hanging.maxOpen()).toBe(1)
    // Nothing reached the quorum: the checkpoint of the start (empty tree) is served, uncosigned.
    expect(await served(log)).toBe(before)
    expect(openCheckpoint(before, parseVerifierKey(log.verifierKey)).checkpoint.size).toBe(0n)
    // Receipts carry the log-signed checkpoint of their batch.
    const answer = await post(log.url, (await signed(statement([hex(999)], hex(999, 40)))).body)
    const envelope = answer.json.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope
    expect(openCheckpoint(envelope, parseVerifierKey(log.verifierKey)).checkpoint.size).toBe(21n)
    // Entries past the served checkpoint are not in its tree yet.
    expect((await getJSON(`${log.url}/api/v1/entries/0`)).status).toBe(404)
  })

  test('a witness that fails is left alone for a while, not asked about every checkpoint', async () => {
    await makeLogKey()
    // The size of the checkpoint in each request (the line after the origin, past the blank line).
    const sizes: bigint[] = []
    const asked: (() => void)[] = []
    const failing = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (chunk: Buffer) => chunks.push(chunk))
      req.on('end', () => {
        const note = Buffer.concat(chunks).toString('utf8').split('\n\n')[1] ?? ''
        sizes.push(BigInt(note.split('\n')[1] ?? '-1'))
        for (const wake of asked.splice(0)) wake()
        res.writeHead(503).end()
      })
    })
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve))
    running.push({ close: () => new Promise<void>((resolve) => failing.close(() => resolve())) })
    const url = `http://127.0.0.1:${(failing.address() as AddressInfo).port}`
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise<void>((wake) => asked.push(wake))
    }
    // Left alone for max(timeout, 1 s) after a failure: with a 60 s timeout, longer than this test may
    // take, ten checkpoints get one request, whatever the machine's speed.
    const patient = await startLog(
      [{ url, verifierKey: generateCosignerKey('witnessing.test/fails').verifierKey }],
      {
        witnessTimeoutMs: 60_000,
      },
    )
    await submit(patient, 10)
    await until(() => sizes.length >= 1)
    expect(sizes).toHaveLength(1)
    await stopLog(patient)

    // With a 1 s wait, it is asked again once the wait is over, about the newest checkpoint: waited for as
    // an event, however long it takes.
    const log = await startLog(
      [{ url, verifierKey: generateCosignerKey('witnessing.test/fails').verifierKey }],
      {
        witnessTimeoutMs: 1000,
      },
    )
    await submit(log, 10)
    await until(() => sizes.includes(20n))
  })

  test('a witness that refuses (it trusts another log key) leaves the start checkpoint served', async () => {
    await makeLogKey()
    // The witness knows this origin under another key: it answers 403 to every request.
    const stranger = generateNoteKey(ORIGIN).verifierKey
    const witness = await witnessFor(stranger, 'witnessing.test/strict')
    const log = await startLog([{ url: witness.url, verifierKey: witness.verifierKey }])
    const before = await served(log)
    await submit(log, 3)
    // Give the witness every chance to answer.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await served(log)).toBe(before)
    expect((await verifyWholeLog(log.url, log.verifierKey)).size).toBe(0n)
  })
})

/** A fake witness: cosigns whatever it is sent with `key` (no consistency check), when released. */
function fakeWitness(name: string) {
  const { signerKey, verifierKey } = generateCosignerKey(name)
  const signer = parseCosignerKey(signerKey)
  const asked: bigint[] = []
  const held: (() => void)[] = []
  let holding = false
  const post: WitnessPost = async (_url, body): Promise<WitnessHttpAnswer> => {
    const request = parseAddCheckpointRequest(body)
    asked.push(request.checkpoint.size)
    if (holding) await new Promise<void>((resolve) => held.push(resolve))
    return { status: 200, body: signer.signatureLine(request.note.text, 1_700_000_000n) }
  }
  return {
    endpoint: { url: `http://${name}`, verifierKey },
    verifier: parseCosignatureVerifierKey(verifierKey),
    post,
    asked,
    hold: () => (holding = true),
    release: () => {
      holding = false
      for (const go of held.splice(0)) go()
    },
  }
}

/** Tree heads of a made-up log (signed with `logSigner`), with leaves "0", "1", ... */
function heads(logSignerKey: string) {
  const signer = parseSignerKey(logSignerKey)
  const leafHashes: Uint8Array[] = []
  return (size: number): TreeHead => {
    while (leafHashes.length < size) leafHashes.push(hashLeaf(Buffer.from(String(leafHashes.length))))
    const root = rootFromLeafHashes(leafHashes.slice(0, size))
    const checkpoint = signNote(
      encodeCheckpoint({ origin: ORIGIN, size: BigInt(size), root, extensions: [] }),
      [signer],
    )
    return { size: BigInt(size), root, checkpoint, checkpointBytes: Buffer.from(checkpoint) }
  }
}

describe('Witnessing rounds (fake witnesses)', () => {
  test('one request per witness at a time, coalesced to the newest; the quorum gathers on one checkpoint', async () => {
    const { signerKey, verifierKey } = generateNoteKey(ORIGIN)
    const head = heads(signerKey)
    const a = fakeWitness('a.example/w')
    const b = fakeWitness('b.example/w')
    const fakes = new Map([
      [a.endpoint.url, a],
      [b.endpoint.url, b],
    ])
    let stored: Uint8Array | undefined
    const witnessing = await Witnessing.open(
      {
        witnesses: [a.endpoint, b.endpoint],
        quorum: 2,
        timeoutMs: 5000,
        logVerifier: parseVerifierKey(verifierKey),
        store: {
          readWitnessed: async () => stored,
          writeWitnessed: async (note) => {
            stored = note
          },
        },
        // The fakes check no proof; the sizes asked are what this test is about.
        consistencyProof: async () => [],
        // Requests go to <url>/add-checkpoint (tlog-witness).
        post: (url, body, signal) => fakes.get(url.replace(/\/add-checkpoint$/, ''))!.post(url, body, signal),
        report: () => undefined,
      },
      head(0),
    )
    running.push(witnessing)
    // Waits for what the fakes were asked, however long it takes.
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    // Start: the empty tree's checkpoint goes to both at once.
    await until(() => a.asked.length >= 1 && b.asked.length >= 1)
    expect(a.asked).toEqual([0n])
    expect(b.asked).toEqual([0n])
    // A holds its answers. Three checkpoints arrive: B cosigns each round's checkpoint, but a round is not
    // over until A answered or the quorum is met, so B is not asked about 2 and 3 separately.
    a.hold()
    witnessing.onCheckpoint(head(1))
    await until(() => a.asked.length >= 2 && b.asked.length >= 2)
    witnessing.onCheckpoint(head(2))
    witnessing.onCheckpoint(head(3))
    expect(a.asked).toEqual([0n, 1n])
    expect(b.asked).toEqual([0n, 1n])
    expect(witnessing.served.size).toBe(0n)
    a.release()
    // A answers for 1: quorum on 1, served; the next round is about the newest, 3, for both.
    await until(() => a.asked.length >= 3 && b.asked.length >= 3 && witnessing.served.size === 3n)
    expect(a.asked).toEqual([0n, 1n, 3n])
    expect(b.asked).toEqual([0n, 1n, 3n])
    expect(witnessing.served.size).toBe(3n)
    const opened = openCheckpoint(witnessing.served.checkpoint, parseVerifierKey(verifierKey), {
      witnesses: [a.verifier, b.verifier],
    })
    expect(opened.witnessSignatures).toHaveLength(2)
    // What is served was saved first, byte for byte.
    expect(bytesEqual(stored!, witnessing.served.checkpointBytes)).toBe(true)
    // waitForSize: resolves when a cosigned checkpoint covers the size, or with undefined at the timeout.
    const waiting = witnessing.waitForSize(4n, 2000)
    witnessing.onCheckpoint(head(4))
    expect((await waiting)!.size).toBe(4n)
    expect(await witnessing.waitForSize(9n, 50)).toBeUndefined()
  })

  test('a stored witnessed checkpoint is served on open only if it is this log’s, of this tree, with the quorum', async () => {
    const { signerKey, verifierKey } = generateNoteKey(ORIGIN)
    const head = heads(signerKey)
    const a = fakeWitness('a.example/w')
    // The real log proves from its tiles; here from the same leaves `heads` uses.
    const leafHashes = Array.from({ length: 10 }, (_, i) => hashLeaf(Buffer.from(String(i))))
    const subtrees = (ids: readonly { level: number; index: bigint }[]) =>
      ids.map((id) => {
        const first = Number(id.index) << id.level
        return rootFromLeafHashes(leafHashes.slice(first, first + (1 << id.level)))
      })
    const options = (stored: Uint8Array | undefined, witnesses = [a.endpoint]) => ({
      witnesses,
      quorum: 1,
      timeoutMs: 5000,
      logVerifier: parseVerifierKey(verifierKey),
      store: { readWitnessed: async () => stored, writeWitnessed: async () => undefined },
      consistencyProof: (from: bigint, to: bigint) => proveConsistency(from, to, subtrees),
      post: a.post,
      report: () => undefined,
    })
    const cosignedAt = async (size: number) => {
      const checkpoint = head(size).checkpoint
      const answer = await a.post('', `old 0\n\n${checkpoint}`, new AbortController().signal)
      return Buffer.from(checkpoint + String(answer.body))
    }
    // Good: served as stored.
    const good = await cosignedAt(5)
    let w = await Witnessing.open(options(good), head(9))
    expect(w.served.checkpointBytes.equals(good)).toBe(true)
    await w.close()
    // The witness list changed: the old cosignature is not today's quorum; the head is served.
    const b = fakeWitness('b.example/w')
    w = await Witnessing.open(options(good, [b.endpoint]), head(9))
    expect(w.served.size).toBe(9n)
    await w.close()
    // Not of this tree: a checkpoint of size 5 with another root (same key), or one ahead of the tree.
    const otherRoot = signNote(
      encodeCheckpoint({ origin: ORIGIN, size: 5n, root: hashLeaf(Buffer.from('x')), extensions: [] }),
      [parseSignerKey(signerKey)],
    )
    await expect(Witnessing.open(options(Buffer.from(otherRoot)), head(9))).rejects.toMatchObject({
      code: 'DATA_MISMATCH',
    })
    await expect(Witnessing.open(options(await cosignedAt(9)), head(5))).rejects.toMatchObject({
      code: 'DATA_MISMATCH',
    })
    // Signed by another key.
    const foreign = Buffer.from(heads(generateNoteKey(ORIGIN).signerKey)(5).checkpoint)
    await expect(Witnessing.open(options(foreign), head(9))).rejects.toMatchObject({ code: 'DATA_MISMATCH' })
    // A bad witness list or quorum is a configuration error.
    await expect(Witnessing.open({ ...options(undefined), quorum: 2 }, head(9))).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
    })
  })
})
