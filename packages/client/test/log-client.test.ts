import {
  generateCosignerKey,
  hashLeaf,
  openNote,
  parseCheckpoint,
  parseSignedNote,
  parseVerifierKey,
  toBase64,
} from '@ledger/tlog'
import { decodeLogEntry, encodeLogEntry } from '@ledger/attestation'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  ClientError,
  LedgerClient,
  MemoryStateStore,
  parseLogTrust,
  parseWitnessKey,
  type StateStore,
} from '../src/index.js'
import { FakeLog } from './fake-log.js'
import { COMMIT_B, cosignerAsNoteSigner, makeKey } from './helpers.js'

const hexA = 'a'.repeat(64)
const hexB = 'b'.repeat(64)

function clientOf(
  log: FakeLog,
  state: StateStore = new MemoryStateStore(),
  extra: Partial<ConstructorParameters<typeof LedgerClient>[0]> = {},
) {
  return new LedgerClient({
    url: 'http://fake.log',
    log: parseLogTrust(log.verifierKey),
    fetch: log.fetch,
    retries: 0,
    state,
    ...extra,
  })
}

async function failure(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(ClientError)
    return err as ClientError
  }
  throw new Error('expected a ClientError')
}

/** Checks that both checkpoints of a fork/rollback evidence are signed by the log: they prove the lie. */
function expectSignedEvidence(err: ClientError, log: FakeLog) {
  const verifier = parseVerifierKey(log.verifierKey)
  expect(err.evidence?.trusted).toBeDefined()
  expect(err.evidence?.received).toBeDefined()
  const a = parseCheckpoint(openNote(err.evidence!.trusted!, [verifier]).text)
  const b = parseCheckpoint(openNote(err.evidence!.received!, [verifier]).text)
  return [a, b] as const
}

let log: FakeLog
const key = makeKey()
const other = makeKey('ed25519')

beforeEach(async () => {
  log = new FakeLog()
  for (let i = 0; i < 5; i++)
    log.appendBundle(await key.sign([{ name: `f${i}`, sha256: hexA }]), key.publicKeyPem)
})

describe('checkpoints', () => {
  it('stores the first checkpoint and advances on a consistent one', async () => {
    const state = new MemoryStateStore()
    const client = clientOf(log, state)
    const first = await client.checkpoint()
    expect(first.checkpoint.size).toBe(5n)
    expect((await state.load(log.origin))?.checkpoint).toBe(first.note)
    log.appendBundle(await key.sign([{ name: 'g', sha256: hexB }]), key.publicKeyPem)
    const second = await client.checkpoint()
    expect(second.checkpoint.size).toBe(6n)
    expect((await state.load(log.origin))?.checkpoint).toBe(second.note)
    expect(log.requests).toContain('/api/v1/proof/consistency?from=5&to=6')
  })

  it('catches a rollback across clients sharing a state store, with both signed checkpoints', async () => {
    const state = new MemoryStateStore()
    await clientOf(log, state).checkpoint()
    // The same log restored from a copy of 3 entries: it can no longer prove that the tree of 5 it signed
    // extends what it shows now.
    const restored = new FakeLog(log.origin, log.signerKey)
    for (const entry of log.entries.slice(0, 3)) restored.appendLeaf(entry.leaf)
    const err = await failure(clientOf(restored, state).checkpoint())
    expect(err.code).toBe('LOG_MISBEHAVING')
    expect(err.evidence?.kind).toBe('rollback')
    const [trusted, received] = expectSignedEvidence(err, log)
    expect([trusted.size, received.size]).toEqual([5n, 3n])
    expect(restored.requests).toContain('/api/v1/proof/consistency?from=3&to=5')
    // The state is not moved back.
    expect(parseCheckpoint(parseSignedNote((await state.load(log.origin))!.checkpoint).text).size).toBe(5n)
  })

  it('accepts an older checkpoint the log proves the newer one extends (a witnessed view), state unmoved', async () => {
    const state = new MemoryStateStore()
    await clientOf(log, state).checkpoint()
    log.servedSize = 3
    const older = await clientOf(log, state).checkpoint()
    expect(older.checkpoint.size).toBe(3n)
    expect(log.requests).toContain('/api/v1/proof/consistency?from=3&to=5')
    expect(parseCheckpoint(parseSignedNote((await state.load(log.origin))!.checkpoint).text).size).toBe(5n)
  })

  it('catches a fork at the same size (another history signed with the same key)', async () => {
    const state = new MemoryStateStore()
    await clientOf(log, state).checkpoint()
    const forked = new FakeLog(log.origin, log.signerKey)
    for (let i = 0; i < 5; i++)
      forked.appendBundle(await other.sign([{ name: `x${i}`, sha256: hexB }]), other.publicKeyPem)
    const err = await failure(clientOf(forked, state).checkpoint())
    expect(err.code).toBe('LOG_MISBEHAVING')
    expect(err.evidence?.kind).toBe('fork')
    const [a, b] = expectSignedEvidence(err, log)
    expect(a.size).toBe(b.size)
    expect(toBase64(a.root)).not.toBe(toBase64(b.root))
  })

  it('catches a fork that grew past the stored size (the consistency proof fails)', async () => {
    const state = new MemoryStateStore()
    await clientOf(log, state).checkpoint()
    const forked = new FakeLog(log.origin, log.signerKey)
    for (let i = 0; i < 9; i++)
      forked.appendBundle(await other.sign([{ name: `x${i}`, sha256: hexB }]), other.publicKeyPem)
    const err = await failure(clientOf(forked, state).checkpoint())
    expect(err.code).toBe('LOG_MISBEHAVING')
    expect(err.evidence?.kind).toBe('fork')
    expect(err.evidence?.proof?.length).toBeGreaterThan(0)
    expect((await state.load(log.origin))?.checkpoint).not.toBe(forked.checkpoint())
  })

  it('refuses a checkpoint signed by another key, and one missing the witness quorum', async () => {
    const impostor = new FakeLog(log.origin) // same origin, its own key
    const err = await failure(
      clientOf(impostor, new MemoryStateStore(), { log: parseLogTrust(log.verifierKey) }).checkpoint(),
    )
    expect(err.code).toBe('LOG_MISBEHAVING')
    expect(err.evidence?.kind).toBe('bad-signature')

    const witness = generateCosignerKey('witness.example')
    const witnesses = {
      keys: [witness.verifierKey],
      verifiers: [parseWitnessKey(witness.verifierKey)],
      quorum: 1,
    }
    const noCosig = await failure(clientOf(log, new MemoryStateStore(), { witnesses }).checkpoint())
    expect(noCosig.evidence?.kind).toBe('bad-signature')
    log.cosigners = [cosignerAsNoteSigner(witness.signerKey)]
    const ok = await clientOf(log, new MemoryStateStore(), { witnesses }).checkpoint()
    expect(ok.checkpoint.size).toBe(5n)
  })

  it('a failed check leaves the state where it was', async () => {
    const state = new MemoryStateStore()
    const client = clientOf(log, state)
    const before = await client.checkpoint()
    log.appendBundle(await key.sign([{ name: 'h', sha256: hexB }]), key.publicKeyPem)
    log.hook = (path, json) =>
      path === '/api/v1/proof/consistency'
        ? {
            ...(json as object),
            proof: (json as { proof: string[] }).proof.map(() => toBase64(new Uint8Array(32))),
          }
        : json
    const err = await failure(client.checkpoint())
    expect(err.evidence?.kind).toBe('fork')
    expect((await state.load(log.origin))?.checkpoint).toBe(before.note)
    expect((await client.trustedCheckpoint())?.note).toBe(before.note)
  })
})

describe('lookups and entries', () => {
  it('returns verified entries of a lookup', async () => {
    log.appendBundle(await other.sign([{ name: 'y', sha256: hexB }], COMMIT_B), other.publicKeyPem)
    const page = await clientOf(log).lookup({ digest: `sha256:${hexA}` })
    expect(page.total).toBe(5)
    expect(page.entries.map((e) => e.index)).toEqual([0n, 1n, 2n, 3n, 4n])
    expect(page.entries.every((e) => e.keyId === key.keyId)).toBe(true)
    const byCommit = await clientOf(log).lookup({ commit: COMMIT_B })
    expect(byCommit.entries.map((e) => [e.index, e.keyId])).toEqual([[5n, other.keyId]])
  })

  it('follows pages', async () => {
    log.defaultLimit = 2
    const all = await clientOf(log).lookupAll({ digest: `sha256:${hexA}` })
    expect(all.entries.map((e) => e.index)).toEqual([0n, 1n, 2n, 3n, 4n])
    expect(log.requests.filter((r) => r.startsWith('/api/v1/lookup'))).toHaveLength(3)
  })

  const lies: [string, (json: Record<string, unknown>) => unknown, string][] = [
    [
      'a leaf changed in one byte',
      (json) => mapEntries(json, (e) => ({ ...e, leaf: flipBase64(e.leaf as string) })),
      'bad-proof',
    ],
    [
      'a proof hash changed',
      (json) => mapEntries(json, (e) => ({ ...e, proof: (e.proof as string[]).map(flipBase64) })),
      'bad-proof',
    ],
    [
      'another index',
      (json) => mapEntries(json, (e) => ({ ...e, index: (e.index as number) + 1 })),
      'bad-proof',
    ],
    ['a wrong key id claim', (json) => mapEntries(json, (e) => ({ ...e, keyId: other.keyId })), 'bad-entry'],
    [
      'a checkpoint by another key',
      (json) => ({ ...json, checkpoint: new FakeLog(log.origin).checkpoint() }),
      'bad-signature',
    ],
    ['a missing field', (json) => mapEntries(json, ({ proof: _p, ...e }) => e), 'malformed'],
    [
      'non-canonical base64',
      (json) => mapEntries(json, (e) => ({ ...e, leaf: (e.leaf as string).replace(/=+$/, '') })),
      'malformed',
    ],
    ['a total below the entries sent', (json) => ({ ...json, total: 1 }), 'malformed'],
  ]
  for (const [what, lie, kind] of lies) {
    it(`catches ${what}`, async () => {
      log.hook = (path, json) => (path === '/api/v1/lookup' ? lie(json as Record<string, unknown>) : json)
      const err = await failure(clientOf(log).lookup({ digest: `sha256:${hexA}` }))
      expect(err.code).toBe('LOG_MISBEHAVING')
      expect(err.evidence?.kind).toBe(kind)
    })
  }

  it('catches an entry that does not name the digest asked for (a valid entry, wrongly indexed)', async () => {
    log.appendBundle(await other.sign([{ name: 'y', sha256: hexB }]), other.publicKeyPem)
    log.entries[5]!.digests.push(`sha256:${hexA}`)
    const err = await failure(clientOf(log).lookup({ digest: `sha256:${hexA}` }))
    expect(err.evidence?.kind).toBe('bad-entry')
  })

  it('catches an entry by a key outside a keyid filter', async () => {
    log.appendBundle(await other.sign([{ name: 'y', sha256: hexA }]), other.publicKeyPem)
    // A log that ignores the keyid filter: strip it before the fake sees the request.
    const fetch = log.fetch
    const unfiltered = async (input: string, init?: RequestInit) =>
      fetch(input.replace(/&?keyid=[0-9a-f]+/g, ''), init)
    const client = clientOf(log, new MemoryStateStore(), { fetch: unfiltered })
    const err = await failure(client.lookup({ digest: `sha256:${hexA}`, keyIds: [key.keyId] }))
    expect(err.evidence?.kind).toBe('bad-entry')
  })

  it('catches a logged entry whose signature does not verify', async () => {
    const bundle = await other.sign([{ name: 'y', sha256: hexA }])
    const [index] = log.appendBundle(bundle, other.publicKeyPem)
    // The same leaf with its signature changed: the log accepted garbage.
    const parts = decodeLogEntry(log.entries[index]!.leaf)
    const signature = parts.signature.slice()
    signature[10]! ^= 1
    log.entries[index] = { ...log.entries[index]!, leaf: encodeLogEntry({ ...parts, signature }) }
    const err = await failure(clientOf(log).lookup({ digest: `sha256:${hexA}` }))
    expect(err.evidence?.kind).toBe('bad-entry')
  })

  it('gets one entry, verified', async () => {
    const { entry, checkpoint } = await clientOf(log).entry(3n)
    expect(entry.index).toBe(3n)
    expect(entry.keys.subjects).toEqual([{ name: 'f3', digest: { sha256: hexA } }])
    expect(checkpoint.checkpoint.size).toBe(5n)
    expect((await failure(clientOf(log).entry(9n))).code).toBe('NOT_FOUND')
  })

  it('verifies inclusion proofs it is asked for', async () => {
    const client = clientOf(log)
    const checkpoint = await client.checkpoint()
    const proof = await client.inclusionProof(2n, hashLeaf(log.entries[2]!.leaf), checkpoint)
    expect(proof.length).toBeGreaterThan(0)
    const err = await failure(client.inclusionProof(2n, hashLeaf(log.entries[3]!.leaf), checkpoint))
    expect(err.evidence?.kind).toBe('bad-proof')
  })

  it('reads entries through tiles, authenticated against the checkpoint', async () => {
    for (let i = 0; i < 300; i++) log.appendLeaf(log.entries[i % 5]!.leaf)
    const client = clientOf(log)
    const checkpoint = await client.checkpoint()
    const leaves = await client.entries(250n, 262n, checkpoint)
    expect(leaves.map((leaf) => toBase64(hashLeaf(leaf)))).toEqual(
      log.entries.slice(250, 262).map((e) => toBase64(hashLeaf(e.leaf))),
    )
    // Swap two entries in the log's storage after the checkpoint: the bundle no longer matches the tiles.
    const [a, b] = [log.entries[260]!, log.entries[261]!]
    log.entries[260] = {
      ...a,
      leaf: log.entries[0]!.leaf === a.leaf ? log.entries[1]!.leaf : log.entries[0]!.leaf,
    }
    const err = await failure(client.entries(256n, 262n, checkpoint, client.tileReader(checkpoint)))
    expect(err.code).toBe('LOG_MISBEHAVING')
    log.entries[260] = a
    log.entries[261] = b
  })
})

describe('submit', () => {
  it('returns a verified receipt, 201 then 200 for the same statement', async () => {
    const client = clientOf(log)
    const bundle = await other.sign([{ name: 'z', sha256: hexB }], COMMIT_B)
    const first = await client.submit(bundle, other.publicKeyPem)
    expect(first.created).toBe(true)
    expect(first.index).toBe(5n)
    expect(first.entry.keyId).toBe(other.keyId)
    const again = await client.submit(
      await other.sign([{ name: 'z', sha256: hexB }], COMMIT_B),
      other.publicKeyPem,
    )
    expect(again.created).toBe(false)
    expect(again.index).toBe(5n)
  })

  it('refuses a receipt for another statement than the one submitted', async () => {
    const decoy = await other.sign([{ name: 'decoy', sha256: hexB }])
    const [decoyIndex] = log.appendBundle(decoy, other.publicKeyPem)
    const receiptOfDecoy = await log.receipt(decoy, decoyIndex)
    log.hook = (path, json) => (path === '/api/v1/entries' ? receiptOfDecoy : json)
    const err = await failure(
      clientOf(log).submit(await other.sign([{ name: 'real', sha256: hexB }]), other.publicKeyPem),
    )
    expect(err.code).toBe('LOG_MISBEHAVING')
  })

  it('passes the log refusal on as REJECTED with its code', async () => {
    const bundle = await other.sign([{ name: 'z', sha256: hexB }])
    const err = await failure(clientOf(log).submit(bundle, key.publicKeyPem))
    expect(err.code).toBe('REJECTED')
    expect(err.logCode).toBeDefined()
  })
})

// --- helpers ---

function mapEntries(
  json: Record<string, unknown>,
  f: (e: Record<string, unknown>) => Record<string, unknown>,
) {
  return { ...json, entries: (json.entries as Record<string, unknown>[]).map(f) }
}

function flipBase64(text: string): string {
  const bytes = Buffer.from(text, 'base64')
  bytes[Math.floor(bytes.length / 2)]! ^= 1
  return bytes.toString('base64')
}
