// The witness over real HTTP on 127.0.0.1 and a real LevelDB in a temp dir: every status code of
// C2SP tlog-witness v1.0.0, concurrent forks, restarts, and cosignatures checked independently.
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  encodeCheckpoint,
  generateNoteKey,
  hashLeaf,
  parseAddCheckpointResponse,
  parseCosignatureVerifierKey,
  parseSignerKey,
  proveConsistency,
  requestCosignature,
  rootFromLeafHashes,
  signNote,
  type Hash,
  type SubtreeHashReader,
} from '@ledger/tlog'
import {
  defaultConfig,
  startWitness,
  WITNESS_KEY_FILE,
  type LevelWitnessStore,
  type RunningWitness,
  type WitnessConfig,
  type WitnessError,
} from '@ledger/witness'

/** The base64 key of a vkey: it follows the SECOND '+' (the base64 itself may hold '+'). */
function keyMaterial(vkey: string): string {
  return vkey.slice(vkey.indexOf('+', vkey.indexOf('+') + 1) + 1)
}

const ORIGIN = 'witness-test.example/log'
const logKey = generateNoteKey(ORIGIN, new Uint8Array(32).fill(1))
const logSigner = parseSignerKey(logKey.signerKey)
// Same origin, another key: the witness must not trust it.
const impostor = parseSignerKey(generateNoteKey(ORIGIN, new Uint8Array(32).fill(2)).signerKey)
const otherLogKey = generateNoteKey('witness-test.example/other', new Uint8Array(32).fill(3))

/** A tree over leaves `${fork}-${i}`: leaf hashes, root at any size, proofs from its own hashes. */
function tree(fork: string, size: number) {
  const leafHashes = Array.from({ length: size }, (_, i) =>
    hashLeaf(new TextEncoder().encode(`${fork}-${i}`)),
  )
  const read: SubtreeHashReader = (ids) =>
    ids.map((id) => {
      const lo = Number(id.index) << id.level
      return rootFromLeafHashes(leafHashes.slice(lo, lo + (1 << id.level)))
    })
  return {
    root: (n: number): Hash => rootFromLeafHashes(leafHashes.slice(0, n)),
    proof: (from: number, to: number) => proveConsistency(BigInt(from), BigInt(to), read),
  }
}

function checkpoint(size: number, root: Hash, signer = logSigner, origin = ORIGIN): string {
  return signNote(encodeCheckpoint({ origin, size: BigInt(size), root, extensions: [] }), [signer])
}

function requestBody(oldSize: number, proof: Hash[], signed: string): string {
  return `old ${oldSize}\n${proof.map((h) => `${Buffer.from(h).toString('base64')}\n`).join('')}\n${signed}`
}

let dir: string
let logsFile: string
let now = 1_700_000_000n
const running: RunningWitness[] = []

async function start(overrides: Partial<WitnessConfig> = {}): Promise<RunningWitness> {
  const witness = await startWitness(
    {
      ...defaultConfig(),
      dataDir: join(dir, 'w'),
      host: '127.0.0.1',
      port: 0,
      logsFile,
      name: 'witness-test.example/w',
      ...overrides,
    },
    { clock: () => now },
  )
  running.push(witness)
  return witness
}

async function stopAll(): Promise<void> {
  for (const w of running.splice(0)) await w.close()
}

async function post(witness: RunningWitness, body: string | Uint8Array, path = '/add-checkpoint') {
  const res = await fetch(witness.url + path, { method: 'POST', body })
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'witness-test-'))
  logsFile = join(dir, 'logs.policy')
  await writeFile(
    logsFile,
    `# logs this witness cosigns\nlog ${logKey.verifierKey}\nlog ${otherLogKey.verifierKey}\n`,
  )
})
afterAll(async () => {
  await stopAll()
  await rm(dir, { recursive: true, force: true })
})

describe('witness: key and configuration', () => {
  afterEach(stopAll)

  it('generates its key on the first start (mode 0600), keeps it, and publishes the verifier key', async () => {
    await rm(join(dir, 'w'), { recursive: true, force: true })
    const vkeyFile = join(dir, 'witness.vkey')
    const first = await start({ verifierKeyFile: vkeyFile })
    expect(first.created).toBe(true)
    expect(first.name).toBe('witness-test.example/w')
    expect(first.verifierKey.startsWith('witness-test.example/w+')).toBe(true)
    const keyStat = await stat(join(dir, 'w', WITNESS_KEY_FILE))
    expect(keyStat.mode & 0o777).toBe(0o600)
    expect(await readFile(vkeyFile, 'utf8')).toBe(`${first.verifierKey}\n`)
    // The verifier key is a cosignature/v1 key (type 0x04).
    expect(Buffer.from(keyMaterial(first.verifierKey), 'base64')[0]).toBe(0x04)
    await first.close()
    const second = await start({ logsFile: undefined })
    expect(second.created).toBe(false)
    expect(second.verifierKey).toBe(first.verifierKey)
    expect(second.logs.map((l) => l.origin)).toEqual([ORIGIN, 'witness-test.example/other'])
  })

  it('refuses a data dir of another key name, one without its key, and one in use', async () => {
    await start()
    const code = async (p: Promise<unknown>) =>
      p.then(
        () => 'started',
        (err: unknown) => (err as WitnessError).code,
      )
    expect(await code(start())).toBe('DATA_MISMATCH') // the database is locked by the running one
    await stopAll()
    expect(await code(start({ name: 'someone.else/w' }))).toBe('DATA_MISMATCH')
    const keyText = await readFile(join(dir, 'w', WITNESS_KEY_FILE), 'utf8')
    await rm(join(dir, 'w', WITNESS_KEY_FILE))
    expect(await code(start())).toBe('DATA_MISMATCH')
    await writeFile(join(dir, 'w', WITNESS_KEY_FILE), keyText, { mode: 0o600 })
  })

  it('refuses a first start without logs and a logs file that is not a tlog-policy', async () => {
    const code = async (p: Promise<unknown>) =>
      p.then(
        () => 'started',
        (err: unknown) => (err as WitnessError).code,
      )
    expect(await code(start({ dataDir: join(dir, 'fresh'), logsFile: undefined }))).toBe('INVALID_CONFIG')
    const bad = join(dir, 'bad.policy')
    await writeFile(bad, `log not-a-key\n`)
    expect(await code(start({ dataDir: join(dir, 'fresh2'), logsFile: bad }))).toBe('INVALID_CONFIG')
    await writeFile(bad, `# nothing\n`)
    expect(await code(start({ dataDir: join(dir, 'fresh3'), logsFile: bad }))).toBe('INVALID_CONFIG')
  })
})

describe('witness: add-checkpoint answers', () => {
  const a = tree('a', 40)
  let witness: RunningWitness

  beforeAll(async () => {
    await rm(join(dir, 'w'), { recursive: true, force: true })
    witness = await start()
  })
  afterAll(stopAll)

  it('200 from size 0: a cosignature/v1 line that verifies with @ledger/tlog and with node:crypto', async () => {
    now = 1_700_000_123n
    const signed = checkpoint(5, a.root(5))
    const res = await post(witness, requestBody(0, [], signed))
    expect(res.status).toBe(200)
    const body = signed.slice(0, signed.indexOf('\n\n') + 1)
    const [got] = parseAddCheckpointResponse(res.text, body, [
      parseCosignatureVerifierKey(witness.verifierKey),
    ])
    expect(got!.cosignature.timestamp).toBe(1_700_000_123n)
    // Independent recomputation (tlog-cosignature v1): key id, u64 timestamp, Ed25519 over the message.
    expect(res.text).toMatch(/^— witness-test\.example\/w [A-Za-z0-9+/]+=*\n$/)
    const raw = Buffer.from(res.text.slice(res.text.lastIndexOf(' ') + 1, -1), 'base64')
    expect(raw.length).toBe(4 + 8 + 64)
    const publicKey = Buffer.from(keyMaterial(witness.verifierKey), 'base64').subarray(1)
    const keyId = createHash('sha256')
      .update(Buffer.concat([Buffer.from('witness-test.example/w\n'), Buffer.of(0x04), publicKey]))
      .digest()
    expect(raw.subarray(0, 4)).toEqual(keyId.subarray(0, 4))
    expect(raw.readBigUInt64BE(4)).toBe(1_700_000_123n)
    const spki = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]),
      format: 'der',
      type: 'spki',
    })
    const message = Buffer.from(`cosignature/v1\ntime 1700000123\n${body}`)
    expect(cryptoVerify(null, message, spki, raw.subarray(12))).toBe(true)
  })

  it('200 for a consistent larger checkpoint, and again for the same one', async () => {
    const signed = checkpoint(13, a.root(13))
    expect((await post(witness, requestBody(5, await a.proof(5, 13), signed))).status).toBe(200)
    const again = await post(witness, requestBody(13, [], signed))
    expect(again.status).toBe(200)
    expect((await witness.witness.state(ORIGIN))!.size).toBe(13n)
  })

  it('409 with the witness size as text/x.tlog.size when the old size is not its size', async () => {
    for (const old of [0, 5, 12]) {
      const res = await post(
        witness,
        requestBody(old, old === 0 ? [] : await a.proof(old, 20), checkpoint(20, a.root(20))),
      )
      expect(res).toEqual({ status: 409, type: 'text/x.tlog.size', text: '13\n' })
    }
  })

  it('409 for the same size with another root (tlog-witness v1.0.0), kept as evidence', async () => {
    const fork = checkpoint(13, tree('b', 13).root(13))
    const res = await post(witness, requestBody(13, [], fork))
    expect(res).toEqual({ status: 409, type: 'text/x.tlog.size', text: '13\n' })
    const store = (witness.witness as unknown as { store: LevelWitnessStore }).store
    const evidence = await store.readEvidence(ORIGIN)
    expect(evidence.map((e) => e.reason)).toContain('root-conflict')
    expect(evidence.some((e) => e.body === requestBody(13, [], fork))).toBe(true)
  })

  it('422 for a proof that does not verify, leaving the state alone', async () => {
    const proof = await a.proof(13, 30)
    proof[0] = proof[0]!.slice()
    proof[0][0]! ^= 1
    const res = await post(witness, requestBody(13, proof, checkpoint(30, a.root(30))))
    expect(res.status).toBe(422)
    // A fork with a correct proof of ITS OWN tree is a bad proof against the witness's tree.
    const b = tree('b', 30)
    expect(
      (await post(witness, requestBody(13, await b.proof(13, 30), checkpoint(30, b.root(30))))).status,
    ).toBe(422)
    expect(
      (await post(witness, requestBody(13, [new Uint8Array(32)], checkpoint(13, a.root(13))))).status,
    ).toBe(422)
    expect((await witness.witness.state(ORIGIN))!.size).toBe(13n)
  })

  it('422 for a non-empty proof from size 0, and for a size-0 checkpoint without the empty root', async () => {
    const other = 'witness-test.example/other'
    const signer = parseSignerKey(otherLogKey.signerKey)
    const res = await post(
      witness,
      requestBody(0, [new Uint8Array(32)], checkpoint(4, a.root(4), signer, other)),
    )
    expect(res.status).toBe(422)
    expect((await post(witness, requestBody(0, [], checkpoint(0, a.root(4), signer, other)))).status).toBe(
      422,
    )
    // The empty tree itself is cosigned.
    expect((await post(witness, requestBody(0, [], checkpoint(0, a.root(0), signer, other)))).status).toBe(
      200,
    )
  })

  it('403 for a checkpoint not signed by a trusted key of its origin, or with a bad trusted signature', async () => {
    expect((await post(witness, requestBody(13, [], checkpoint(13, a.root(13), impostor)))).status).toBe(403)
    const signed = checkpoint(13, a.root(13))
    const sigStart = signed.lastIndexOf(' ') + 1
    const sig = Buffer.from(signed.slice(sigStart, -1), 'base64')
    sig[sig.length - 1]! ^= 1
    const tampered = `${signed.slice(0, sigStart)}${sig.toString('base64')}\n`
    expect((await post(witness, requestBody(13, [], tampered))).status).toBe(403)
  })

  it('404 for an unknown origin and an unknown path; 405 for GET; 400 for a malformed body or old > size', async () => {
    const stranger = parseSignerKey(generateNoteKey('nobody.example/log').signerKey)
    expect(
      (await post(witness, requestBody(0, [], checkpoint(1, a.root(1), stranger, 'nobody.example/log'))))
        .status,
    ).toBe(404)
    expect((await post(witness, 'x', '/add-checkpoint/extra')).status).toBe(404)
    const get = await fetch(`${witness.url}/add-checkpoint`)
    expect(get.status).toBe(405)
    expect(get.headers.get('allow')).toBe('POST')
    await get.text()
    expect((await post(witness, 'old 13\n')).status).toBe(400)
    expect((await post(witness, `old 013\n\n${checkpoint(13, a.root(13))}`)).status).toBe(400)
    expect((await post(witness, requestBody(14, [], checkpoint(13, a.root(13))))).status).toBe(400)
  })

  it('413 for a body over the limit; 200 on /healthz', async () => {
    expect((await post(witness, 'x'.repeat(70_000))).status).toBe(413)
    const health = await fetch(`${witness.url}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.text()).toBe('ok\n')
  })

  it('keeps its state across a restart', async () => {
    const before = await witness.witness.state(ORIGIN)
    await stopAll()
    witness = await start({ logsFile: undefined })
    expect(await witness.witness.state(ORIGIN)).toEqual(before)
    expect(await post(witness, requestBody(0, [], checkpoint(20, a.root(20))))).toMatchObject({
      status: 409,
      text: '13\n',
    })
    expect(
      (await post(witness, requestBody(13, await a.proof(13, 20), checkpoint(20, a.root(20))))).status,
    ).toBe(200)
  })
})

describe('witness: concurrent forks', () => {
  afterAll(stopAll)

  it('cosigns exactly one line of history, however the requests interleave, and after a restart', async () => {
    await rm(join(dir, 'w'), { recursive: true, force: true })
    let witness = await start()
    const verifier = parseCosignatureVerifierKey(witness.verifierKey)
    const common = tree('common', 64)
    expect((await post(witness, requestBody(0, [], checkpoint(8, common.root(8))))).status).toBe(200)
    // Two forks share the first 8 leaves and then differ.
    const forks = ['left', 'right'].map((name) => {
      const hashesOf = (n: number) =>
        Array.from({ length: n }, (_, i) =>
          hashLeaf(new TextEncoder().encode(i < 8 ? `common-${i}` : `${name}-${i}`)),
        )
      const leafHashes = hashesOf(64)
      const read: SubtreeHashReader = (ids) =>
        ids.map((id) => {
          const lo = Number(id.index) << id.level
          return rootFromLeafHashes(leafHashes.slice(lo, lo + (1 << id.level)))
        })
      return {
        name,
        root: (n: number) => rootFromLeafHashes(leafHashes.slice(0, n)),
        prove: (from: bigint, to: bigint) => proveConsistency(from, to, read),
      }
    })
    const cosigned: { fork: string; size: number }[] = []
    const attempt = async (fork: (typeof forks)[number], size: number) => {
      const outcome = await requestCosignature({
        signedCheckpoint: checkpoint(size, fork.root(size)),
        witness: verifier,
        witnessSize: 8n,
        proveConsistency: fork.prove,
        post: async (body) => {
          const res = await post(witness, body)
          return { status: res.status, contentType: res.type ?? undefined, body: res.text }
        },
      })
      if (outcome.kind === 'cosigned') cosigned.push({ fork: fork.name, size })
    }
    await Promise.all(
      [10, 12, 16, 20, 24, 31, 40, 48].flatMap((size) => forks.map((fork) => attempt(fork, size))),
    )
    expect(cosigned.length).toBeGreaterThan(0)
    const winner = cosigned[0]!.fork
    expect(cosigned.every((c) => c.fork === winner)).toBe(true)
    // The stored state is a checkpoint of the winning fork.
    const state = (await witness.witness.state(ORIGIN))!
    const winning = forks.find((f) => f.name === winner)!
    const losing = forks.find((f) => f.name !== winner)!
    expect(Buffer.from(state.root)).toEqual(Buffer.from(winning.root(Number(state.size))))
    // After a restart the loser still cannot get a cosignature, at any size.
    await stopAll()
    witness = await start({ logsFile: undefined })
    for (const size of [Number(state.size), Number(state.size) + 5, 64]) {
      const outcome = await requestCosignature({
        signedCheckpoint: checkpoint(size, losing.root(size)),
        witness: verifier,
        witnessSize: state.size,
        proveConsistency: losing.prove,
        post: async (body) => {
          const res = await post(witness, body)
          return { status: res.status, body: res.text }
        },
      })
      expect(outcome.kind).toBe('refused')
    }
    expect((await witness.witness.state(ORIGIN))!.size).toBe(state.size)
  })
})
