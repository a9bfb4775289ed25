// The log server end to end, in process: real LevelDB in a temp dir, real HTTP on 127.0.0.1:0, real
// signatures. After each step the whole log is re-verified from its static API (helpers.verifyWholeLog).
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@ledger/attestation'
import {
  bytesEqual,
  fromBase64,
  generateNoteKey,
  hashLeaf,
  openCheckpoint,
  parseVerifierKey,
  verifyConsistency,
  verifyInclusion,
} from '@ledger/tlog'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { LogServerError } from '../src/errors.js'
import { startLogServer, type RunningLog } from '../src/server.js'
import {
  ORIGIN,
  checkpointText,
  getBytes,
  getJSON,
  hex,
  post,
  signed,
  statement,
  tempDir,
  testConfig,
  verifyReceiptWithSigstore,
  verifyWholeLog,
  type Json,
} from './helpers.js'

let dir: { path: string; remove: () => Promise<void> }
let log: RunningLog | undefined

beforeEach(async () => {
  dir = await tempDir()
})

afterEach(async () => {
  await log?.close()
  log = undefined
  await dir.remove()
})

async function start(overrides: Parameters<typeof testConfig>[1] = {}): Promise<RunningLog> {
  log = await startLogServer(testConfig(dir.path, overrides))
  return log
}

async function trustedRoot(url: string): Promise<unknown> {
  return (await getJSON(`${url}/api/v1/log`)).json.trustedRoot
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')

describe('a new log', () => {
  test('starts empty with a signed checkpoint, a key file of mode 0600, and its trusted root', async () => {
    const log = await start()
    expect(log.origin).toBe(ORIGIN)
    expect(log.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const keyText = await readFile(join(dir.path, 'log.key'), 'utf8')
    expect(keyText).toMatch(new RegExp(`^PRIVATE\\+KEY\\+${ORIGIN.replace(/\./g, '\\.')}\\+[0-9a-f]{8}\\+`))
    const { statSync } = await import('node:fs')
    expect(statSync(join(dir.path, 'log.key')).mode & 0o777).toBe(0o600)
    const whole = await verifyWholeLog(log.url, log.verifierKey)
    expect(whole.size).toBe(0n)
    // RFC 6962: the empty tree's root is SHA-256 of the empty string.
    expect(b64(whole.root)).toBe('47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=')

    const info = await getJSON(`${log.url}/api/v1/log`)
    expect(info.status).toBe(200)
    expect(info.json.origin).toBe(ORIGIN)
    expect(info.json.verifierKey).toBe(log.verifierKey)
    expect(info.json.size).toBe(0)
    const tlog = info.json.trustedRoot.tlogs[0]
    expect(tlog.baseUrl).toBe(`https://${ORIGIN}`)
    // The checkpoint key id is cut from checkpointKeyId: its first 4 bytes are the note key id.
    const noteKeyId = log.verifierKey.split('+')[1]!
    expect(Buffer.from(tlog.checkpointKeyId.keyId, 'base64').subarray(0, 4).toString('hex')).toBe(noteKeyId)
    // logId is SHA-256 of the SPKI DER that the trusted root carries.
    const { createHash } = await import('node:crypto')
    const spki = Buffer.from(tlog.publicKey.rawBytes, 'base64')
    expect(createHash('sha256').update(spki).digest('base64')).toBe(tlog.logId.keyId)
  })
})

describe('submissions', () => {
  test('a receipt verifies with stock @sigstore/verify (P-256 and Ed25519), and a tampered one does not', async () => {
    const log = await start({ verifyWorkers: 1 })
    const root = await trustedRoot(log.url)
    const p256 = await signed(statement([hex(1)], hex(1, 40)))
    const first = await post(log.url, p256.body)
    expect(first.status).toBe(201)
    expect(first.headers.get('content-type')).toBe('application/json; charset=utf-8')
    const entry = first.json.verificationMaterial.tlogEntries[0]
    expect(entry.logIndex).toBe('0')
    expect(entry.kindVersion).toEqual({ kind: 'dsse', version: '0.0.2' })
    expect(entry.integratedTime).toBe('0')
    expect(entry.logId.keyId).toBe((root as Json).tlogs[0].logId.keyId)
    expect(entry.inclusionProof.checkpoint.envelope).toBe(await checkpointText(log.url))
    // The receipt is the submitted bundle plus the tlog entry.
    expect(first.json.dsseEnvelope).toEqual(p256.bundle.dsseEnvelope)
    expect(first.json.verificationMaterial.publicKey).toEqual(p256.bundle.verificationMaterial.publicKey)
    verifyReceiptWithSigstore(first.json, root, p256.key.publicKeyPem)
    expect((await verifyWholeLog(log.url, log.verifierKey)).size).toBe(1n)

    const ed = await signed(statement([hex(2)], hex(2, 40)), generateKeyPair('ed25519'))
    const second = await post(log.url, ed.body)
    expect(second.status).toBe(201)
    expect(second.json.verificationMaterial.tlogEntries[0].logIndex).toBe('1')
    verifyReceiptWithSigstore(second.json, root, ed.key.publicKeyPem)

    // The log's own leaf is what the receipt carries.
    const whole = await verifyWholeLog(log.url, log.verifierKey)
    expect(whole.size).toBe(2n)
    expect(b64(whole.leaves[1]!)).toBe(second.json.verificationMaterial.tlogEntries[0].canonicalizedBody)

    const tampered = structuredClone(second.json)
    const hashes = tampered.verificationMaterial.tlogEntries[0].inclusionProof.hashes
    hashes[0] = b64(new Uint8Array(32))
    expect(() => verifyReceiptWithSigstore(tampered, root, ed.key.publicKeyPem)).toThrow()
    const otherOrigin = structuredClone(root) as Json
    otherOrigin.tlogs[0].baseUrl = 'https://elsewhere.example'
    expect(() => verifyReceiptWithSigstore(second.json, otherOrigin, ed.key.publicKeyPem)).toThrow()
  })

  test('dedup: the same statement and key again answers 200 with the logged entry, whatever the signature', async () => {
    const log = await start()
    const root = await trustedRoot(log.url)
    const key = generateKeyPair()
    const st = statement([hex(7)], hex(7, 40))
    const original = await signed(st, key)
    const created = await post(log.url, original.body)
    expect(created.status).toBe(201)
    const before = (await verifyWholeLog(log.url, log.verifierKey)).checkpoint

    const again = await post(log.url, original.body)
    expect(again.status).toBe(200)
    expect((await verifyWholeLog(log.url, log.verifierKey)).checkpoint).toBe(before)
    expect(again.json.verificationMaterial.tlogEntries[0].logIndex).toBe('0')
    verifyReceiptWithSigstore(again.json, root, key.publicKeyPem)

    // ECDSA signatures are randomized: a second signature over the same statement differs...
    const resigned = await signed(st, key)
    expect(resigned.bundle.dsseEnvelope.signatures[0]!.sig).not.toBe(
      original.bundle.dsseEnvelope.signatures[0]!.sig,
    )
    const dup = await post(log.url, resigned.body)
    expect(dup.status).toBe(200)
    const entry = dup.json.verificationMaterial.tlogEntries[0]
    expect(entry.logIndex).toBe('0')
    // ...and the answer is the LOGGED entry: its signature and leaf, not the resubmitted ones.
    expect(dup.json.dsseEnvelope.signatures[0].sig).toBe(original.bundle.dsseEnvelope.signatures[0]!.sig)
    expect(entry.canonicalizedBody).toBe(created.json.verificationMaterial.tlogEntries[0].canonicalizedBody)
    verifyReceiptWithSigstore(dup.json, root, key.publicKeyPem)
    expect(await checkpointText(log.url)).toBe(before)

    // Another key over the same statement is another entry.
    const other = await post(log.url, (await signed(st)).body)
    expect(other.status).toBe(201)
    expect(other.json.verificationMaterial.tlogEntries[0].logIndex).toBe('1')
    expect((await verifyWholeLog(log.url, log.verifierKey)).size).toBe(2n)
  })

  test('dedup also holds against entries still queued or committing', async () => {
    const log = await start({ batchWaitMs: 200 })
    const key = generateKeyPair()
    const st = statement([hex(8)], hex(8, 40))
    const copies = await Promise.all([0, 1, 2, 3].map(() => signed(st, key)))
    const answers = await Promise.all(copies.map((copy) => post(log.url, copy.body)))
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 201])
    for (const answer of answers) expect(answer.json.verificationMaterial.tlogEntries[0].logIndex).toBe('0')
    const createdSig = answers.find((a) => a.status === 201)!.json.dsseEnvelope.signatures[0].sig
    for (const answer of answers) expect(answer.json.dsseEnvelope.signatures[0].sig).toBe(createdSig)
    expect((await verifyWholeLog(log.url, log.verifierKey)).size).toBe(1n)
  })
})

describe('the static API (C2SP tlog-tiles, tlog-checkpoint)', () => {
  test('tiles, entry bundles and checkpoint are byte-exact across full and partial tiles', async () => {
    const log = await start({ batchSize: 37, verifyWorkers: 1 })
    const key = generateKeyPair()
    const total = 300
    const bodies = await Promise.all(
      Array.from({ length: total }, (_, i) => signed(statement([hex(1000 + i)], hex(i, 40)), key)),
    )
    // In waves, so that batches of many sizes straddle the tile boundary at 256.
    for (let i = 0; i < total; i += 50) {
      const answers = await Promise.all(bodies.slice(i, i + 50).map((b) => post(log.url, b.body)))
      for (const answer of answers) expect(answer.status).toBe(201)
      await verifyWholeLog(log.url, log.verifierKey)
    }
    const whole = await verifyWholeLog(log.url, log.verifierKey)
    expect(whole.size).toBe(300n)

    const checkpoint = await fetch(`${log.url}/checkpoint`)
    expect(checkpoint.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(checkpoint.headers.get('cache-control')).toBe('no-cache')
    expect(checkpoint.headers.get('etag')).toBeNull()

    const full = await getBytes(`${log.url}/tile/0/000`)
    expect(full.status).toBe(200)
    expect(full.headers.get('content-type')).toBe('application/octet-stream')
    expect(full.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(full.bytes.length).toBe(256 * 32)
    // A partial tile of any width up to the stored one is the prefix of it.
    const partial = await getBytes(`${log.url}/tile/0/000.p/10`)
    expect(partial.status).toBe(200)
    expect(bytesEqual(partial.bytes, full.bytes.subarray(0, 320))).toBe(true)
    expect((await getBytes(`${log.url}/tile/0/001.p/44`)).bytes.length).toBe(44 * 32)
    expect((await getBytes(`${log.url}/tile/0/001.p/45`)).status).toBe(404)
    expect((await getBytes(`${log.url}/tile/0/001`)).status).toBe(404)
    expect((await getBytes(`${log.url}/tile/1/000.p/1`)).bytes.length).toBe(32)
    const bundle = await getBytes(`${log.url}/tile/entries/000`)
    const bundle3 = await getBytes(`${log.url}/tile/entries/000.p/3`)
    expect(bundle3.status).toBe(200)
    const first3 = whole.leaves.slice(0, 3).reduce((n, leaf) => n + 2 + leaf.length, 0)
    expect(bytesEqual(bundle3.bytes, bundle.bytes.subarray(0, first3))).toBe(true)
    expect((await getBytes(`${log.url}/tile/entries/001`)).status).toBe(404)
    expect((await getBytes(`${log.url}/tile/entries/001.p/45`)).status).toBe(404)
    // Non-canonical paths are not tiles.
    expect((await getBytes(`${log.url}/tile/0/0`)).status).toBe(404)
    expect((await getBytes(`${log.url}/tile/0/000.p/256`)).status).toBe(404)
    expect((await getBytes(`${log.url}/tile/8/0/000`)).status).toBe(404)
  })
})

describe('the JSON API', () => {
  test('entries, inclusion and consistency proofs verify against the checkpoints', async () => {
    const log = await start({ batchSize: 5 })
    const key = generateKeyPair()
    const roots: Uint8Array[] = []
    for (let i = 0; i < 12; i++) {
      expect(
        (await post(log.url, (await signed(statement([hex(50 + i)], hex(50 + i, 40)), key)).body)).status,
      ).toBe(201)
      roots.push((await verifyWholeLog(log.url, log.verifierKey)).root)
    }
    const whole = await verifyWholeLog(log.url, log.verifierKey)
    const entry = await getJSON(`${log.url}/api/v1/entries/7`)
    expect(entry.status).toBe(200)
    expect(entry.json.index).toBe(7)
    expect(entry.json.treeSize).toBe(12)
    expect(entry.json.checkpoint).toBe(whole.checkpoint)
    expect(entry.json.leaf).toBe(b64(whole.leaves[7]!))
    const proof = (entry.json.proof as string[]).map((h) => fromBase64(h, 32))
    verifyInclusion(hashLeaf(whole.leaves[7]!), 7n, 12n, proof, whole.root)

    for (const [index, size] of [
      [0, 1],
      [3, 5],
      [4, 12],
      [11, 12],
    ] as const) {
      const got = await getJSON(`${log.url}/api/v1/proof/inclusion?index=${index}&size=${size}`)
      expect(got.status).toBe(200)
      const hashes = (got.json.proof as string[]).map((h) => fromBase64(h, 32))
      verifyInclusion(hashLeaf(whole.leaves[index]!), BigInt(index), BigInt(size), hashes, roots[size - 1]!)
    }
    for (const [from, to] of [
      [1, 12],
      [5, 7],
      [8, 12],
      [12, 12],
    ] as const) {
      const got = await getJSON(`${log.url}/api/v1/proof/consistency?from=${from}&to=${to}`)
      expect(got.status).toBe(200)
      const hashes = (got.json.proof as string[]).map((h) => fromBase64(h, 32))
      verifyConsistency(BigInt(from), BigInt(to), hashes, roots[from - 1]!, roots[to - 1]!)
    }
    expect((await getJSON(`${log.url}/api/v1/log`)).json.size).toBe(12)
  })

  test('lookup by digest and commit: keyid filters, limit, cursor, total, proofs to one checkpoint', async () => {
    const log = await start({ batchSize: 3 })
    const [a, b, c] = [generateKeyPair(), generateKeyPair('ed25519'), generateKeyPair()]
    const shared = hex(0xd1)
    const commitX = hex(0xc1, 40)
    const plan = [
      { key: a, digests: [shared], commit: commitX },
      { key: b, digests: [hex(0xd2)], commit: hex(0xc2, 40) },
      { key: b, digests: [shared, hex(0xd3)], commit: commitX },
      { key: c, digests: [shared], commit: hex(0xc3, 40) },
      { key: a, digests: [shared, shared], commit: hex(0xc4, 40), builder: 'https://second.test' },
    ]
    for (const step of plan) {
      const answer = await post(
        log.url,
        (await signed(statement(step.digests, step.commit, step.builder), step.key)).body,
      )
      expect(answer.status).toBe(201)
    }
    const whole = await verifyWholeLog(log.url, log.verifierKey)
    const verifier = parseVerifierKey(log.verifierKey)
    const check = (json: Json, expectedIndexes: number[], total: number) => {
      expect(json.total).toBe(total)
      expect(json.entries.map((e: Json) => e.index)).toEqual(expectedIndexes)
      const { checkpoint } = openCheckpoint(json.checkpoint, verifier)
      expect(json.treeSize).toBe(Number(checkpoint.size))
      for (const e of json.entries) {
        const leaf = fromBase64(e.leaf)
        expect(bytesEqual(leaf, whole.leaves[e.index]!)).toBe(true)
        const proof = (e.proof as string[]).map((h) => fromBase64(h, 32))
        verifyInclusion(hashLeaf(leaf), BigInt(e.index), checkpoint.size, proof, checkpoint.root)
      }
    }
    const q = (query: string) => getJSON(`${log.url}/api/v1/lookup?${query}`)
    const all = await q(`digest=sha256:${shared}`)
    expect(all.status).toBe(200)
    check(all.json, [0, 2, 3, 4], 4)
    expect(all.json.nextCursor).toBeUndefined()
    expect(all.json.entries.map((e: Json) => e.keyId)).toEqual([a.keyId, b.keyId, c.keyId, a.keyId])

    check((await q(`digest=sha256:${shared}&keyid=${a.keyId}`)).json, [0, 4], 4)
    check((await q(`digest=sha256:${shared}&keyid=${a.keyId}&keyid=${c.keyId}`)).json, [0, 3, 4], 4)
    check((await q(`digest=sha256:${shared}&keyid=${hex(0)}`)).json, [], 4)

    const page1 = await q(`digest=sha256:${shared}&limit=3`)
    check(page1.json, [0, 2, 3], 4)
    expect(page1.json.nextCursor).toBe('4')
    const page2 = await q(`digest=sha256:${shared}&limit=3&cursor=${page1.json.nextCursor}`)
    check(page2.json, [4], 4)
    expect(page2.json.nextCursor).toBeUndefined()
    const filtered = await q(`digest=sha256:${shared}&keyid=${a.keyId}&keyid=${b.keyId}&limit=1&cursor=1`)
    check(filtered.json, [2], 4)
    expect(filtered.json.nextCursor).toBe('4')

    check((await q(`commit=${commitX}`)).json, [0, 2], 2)
    check((await q(`commit=${commitX}&keyid=${b.keyId}`)).json, [2], 2)
    check((await q(`digest=sha256:${hex(0xd3)}`)).json, [2], 1)
    check((await q(`digest=sha256:${hex(0xee)}`)).json, [], 0)
  })
})

describe('restarts', () => {
  test('a restart keeps size, root, key, indexes and dedup; a different key or origin is refused', async () => {
    let running = await start()
    const key = generateKeyPair()
    const first = await signed(statement([hex(0xaa)], hex(0xaa, 40)), key)
    for (const body of [first.body, (await signed(statement([hex(0xab)], hex(0xab, 40)), key)).body]) {
      expect((await post(running.url, body)).status).toBe(201)
    }
    const before = await verifyWholeLog(running.url, running.verifierKey)
    const verifierKey = running.verifierKey
    await running.close()

    // Without --origin the log takes its origin from log.key.
    running = await start({ origin: undefined })
    expect(running.verifierKey).toBe(verifierKey)
    expect(running.created).toBe(false)
    const after = await verifyWholeLog(running.url, running.verifierKey)
    expect(after.checkpoint).toBe(before.checkpoint)
    const lookup = await getJSON(`${running.url}/api/v1/lookup?digest=sha256:${hex(0xab)}`)
    expect(lookup.json.entries.map((e: Json) => e.index)).toEqual([1])
    expect((await post(running.url, first.body)).status).toBe(200)
    const third = await post(running.url, (await signed(statement([hex(0xac)], hex(0xac, 40)), key)).body)
    expect(third.json.verificationMaterial.tlogEntries[0].logIndex).toBe('2')
    const grown = await verifyWholeLog(running.url, running.verifierKey)
    const proof = await getJSON(`${running.url}/api/v1/proof/consistency?from=2&to=3`)
    verifyConsistency(
      2n,
      3n,
      (proof.json.proof as string[]).map((h) => fromBase64(h, 32)),
      before.root,
      grown.root,
    )
    await running.close()

    await expect(startLogServer(testConfig(dir.path, { origin: 'other.example/log' }))).rejects.toMatchObject(
      {
        code: 'DATA_MISMATCH',
      },
    )
    const keyFile = join(dir.path, 'log.key')
    const original = await readFile(keyFile, 'utf8')
    await writeFile(keyFile, generateNoteKey(ORIGIN).signerKey + '\n', { mode: 0o600 })
    const refused = startLogServer(testConfig(dir.path))
    await expect(refused).rejects.toBeInstanceOf(LogServerError)
    await expect(refused).rejects.toMatchObject({ code: 'DATA_MISMATCH' })
    // The refused starts changed nothing.
    await writeFile(keyFile, original)
    running = await start()
    expect((await verifyWholeLog(running.url, running.verifierKey)).checkpoint).toBe(grown.checkpoint)
  })
})
