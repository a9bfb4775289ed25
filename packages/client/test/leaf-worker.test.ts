// A LeafWorker checks leaves in a second thread (verifyLookupEntries): the same checks as this thread, so
// a leaf with a bad signature in the worker's share of a page is refused as it is here, and a page checked
// with the worker gives the same entries, and the same first error, as one checked item after item.
import { decodeLogEntry, encodeLogEntry } from '@ledger/attestation'
import { toBase64 } from '@ledger/tlog'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LedgerClient, MemoryStateStore, parseLogTrust, type ClientError } from '../src/index.js'
import type { VerifiedCheckpoint } from '../src/checkpoint-tracker.js'
import { LeafWorker } from '../src/leaf-worker.js'
import { verifyLookupEntries, verifyLookupEntry, WORKER_MIN_LEAVES, WORKER_SHARE } from '../src/log-client.js'
import { FakeLog } from './fake-log.js'
import { makeKey } from './helpers.js'

const PAGE = 2 * WORKER_MIN_LEAVES
let log: FakeLog
let checkpoint: VerifiedCheckpoint
let worker: LeafWorker

/** `leaf` with one bit of its signature flipped: well-formed and canonical, but not signed by its key. */
function badSignature(leaf: Uint8Array): Uint8Array {
  const entry = decodeLogEntry(leaf)
  const signature = Buffer.from(entry.signature)
  signature[signature.length - 1]! ^= 1
  return encodeLogEntry({
    payload: entry.payload,
    signature,
    spkiDer: entry.spkiDer,
    keyDetails: entry.keyDetails,
  })
}

/** The lookup items of entries [from, to) of the log, as the log sends them. */
async function items(from: number, to: number) {
  return Promise.all(
    log.entries.slice(from, to).map(async (e, i) => ({
      index: from + i,
      keyId: e.keyId,
      leaf: toBase64(e.leaf),
      proof: await log.inclusion(from + i, log.size),
    })),
  )
}

/** What checking the items one by one throws (the error's code, kind and message) or returns. */
function oneByOne(page: unknown[]) {
  try {
    return { entries: page.map((item, i) => verifyLookupEntry(item, checkpoint, `entry ${i}`)) }
  } catch (err) {
    return { error: describeError(err) }
  }
}

async function withWorker(page: unknown[], use: LeafWorker | undefined = worker) {
  try {
    const entries = await verifyLookupEntries(page, checkpoint, (i) => `entry ${i}`, {
      ...(use !== undefined && { worker: use }),
      notAscending: () => new Error('not ascending'),
    })
    return { entries }
  } catch (err) {
    return { error: describeError(err) }
  }
}

function describeError(err: unknown) {
  const e = err as ClientError
  return { code: e.code, kind: e.evidence?.kind, message: e.message }
}

beforeAll(async () => {
  log = new FakeLog()
  const keys = [makeKey(), makeKey('ed25519')]
  for (let i = 0; i < PAGE; i++) {
    const key = keys[i % 2]!
    const bundle = await key.sign([{ name: `pkg-${i}.tgz`, sha256: i.toString(16).padStart(64, '0') }])
    log.appendBundle(bundle, key.publicKeyPem)
  }
  // The last entry of the page is logged with a bad signature: a log that lies about what was signed.
  log.appendLeaf(badSignature(log.entries[PAGE - 1]!.leaf))
  const client = new LedgerClient({
    url: 'http://fake.log',
    log: parseLogTrust(log.verifierKey),
    fetch: log.fetch,
    retries: 0,
    state: new MemoryStateStore(),
  })
  checkpoint = await client.tracker.accept(log.checkpoint())
  worker = LeafWorker.start()!
})

afterAll(async () => {
  await worker?.close()
})

describe('LeafWorker', () => {
  it('checks signatures: a leaf whose signature does not verify is BAD_SIGNATURE there too', async () => {
    const [good, bad] = await worker.verify([log.entries[0]!.leaf, log.entries[PAGE]!.leaf])
    expect(good).toMatchObject({ leaf: { keyId: log.entries[0]!.keyId } })
    expect(bad).toMatchObject({ error: { name: 'AttestationError', code: 'BAD_SIGNATURE' } })
  })

  it("a bad signature in the worker's share of a page: the same error as checked one by one", async () => {
    // Entries 1..PAGE: the bad leaf is the last one, in the share sent to the worker.
    const page = await items(1, PAGE + 1)
    expect(Math.floor(page.length * WORKER_SHARE)).toBeGreaterThan(0)
    const expected = oneByOne(page)
    expect(expected.error).toMatchObject({ code: 'LOG_MISBEHAVING', kind: 'bad-entry' })
    expect(expected.error?.message).toMatch(/BAD_SIGNATURE/)
    const before = worker.checked
    expect(await withWorker(page)).toEqual(expected)
    // The worker did check leaves of this page (the bad one among them: it is in the worker's share).
    expect(worker.checked).toBeGreaterThan(before)
  })

  it('a good page: the same entries; a wrong proof before the bad leaf: that error, as one by one', async () => {
    const good = await items(0, PAGE)
    const expected = oneByOne(good)
    expect(expected.entries).toHaveLength(PAGE)
    expect(await withWorker(good)).toEqual(expected)

    const lying = await items(1, PAGE + 1)
    const proof = lying[5]!.proof
    proof[0] = toBase64(Buffer.alloc(32, 7))
    const wrongProof = oneByOne(lying)
    expect(wrongProof.error).toMatchObject({ kind: 'bad-proof' })
    expect(await withWorker(lying)).toEqual(wrongProof)
  })

  it('when the worker is gone, this thread checks its share: the same answers', async () => {
    const gone = LeafWorker.start()!
    await gone.close()
    const page = await items(1, PAGE + 1)
    expect(await withWorker(page, gone)).toEqual(oneByOne(page))
  })
})
