// Many clients at once against a real log (LevelDB in a temp dir, 127.0.0.1, real signatures, the default
// verify worker): every receipt verifies with stock @sigstore/verify, indexes are unique and dense, the
// final tree recomputed from the entry bundles and from the hash tiles is the checkpoint's, and concurrent
// resubmissions of one statement by one key (new signatures included) land exactly once.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Agent } from 'node:http'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { signStatement, validateApiError } from '@ledger/attestation'
import { defaultConfig, startLogServer, type RunningLog } from '@ledger/log-server'
import { bytesEqual, hashLeaf, openCheckpoint, parseVerifierKey, verifyInclusion } from '@ledger/tlog'
import { fetchJSON, keepAliveAgent, postEntry } from './support/http.js'
import {
  assertConsistentWith,
  auditLog,
  receiptEntry,
  verifyReceiptWithSigstore,
} from './support/log-audit.js'
import { makeSubmissions, newRebuilder, rebuildStatement, type Rebuilder } from './support/load.js'

const ORIGIN = 'reliability.test/concurrent'
const CLIENTS: readonly ('ecdsa-p256' | 'ed25519')[] = [
  'ecdsa-p256',
  'ed25519',
  'ecdsa-p256',
  'ed25519',
  'ecdsa-p256',
]
const PER_CLIENT = 100

let dir: string
let log: RunningLog
let trustedRoot: unknown
const agents: Agent[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ledger-reliability-'))
  // The production defaults (batching, a verify worker thread), on a test port and origin.
  log = await startLogServer({ ...defaultConfig(), dataDir: dir, host: '127.0.0.1', port: 0, origin: ORIGIN })
  trustedRoot = ((await fetchJSON(`${log.url}/api/v1/log`)) as { trustedRoot: unknown }).trustedRoot
})

afterAll(async () => {
  for (const agent of agents) agent.destroy()
  await log?.close()
  await rm(dir, { recursive: true, force: true })
})

interface Answer {
  client: number
  rebuilder: Rebuilder
  body: string
  status: number
  json: unknown
}

describe('concurrent submissions', () => {
  test(`${CLIENTS.length * PER_CLIENT} at once from ${CLIENTS.length} clients: verified, dense, and the tree recomputes`, async () => {
    const rebuilders = CLIENTS.map((type) => newRebuilder(type))
    const bodies = await Promise.all(
      rebuilders.map((r, c) => makeSubmissions(r, `concurrent-${c}`, 0, PER_CLIENT)),
    )
    // Each client its own connection pool, wide enough that every submission is in flight at once.
    const answers = await Promise.all(
      rebuilders.flatMap((rebuilder, c) => {
        const agent = keepAliveAgent(PER_CLIENT)
        agents.push(agent)
        return bodies[c]!.map(async (body): Promise<Answer> => {
          const res = await postEntry(agent, log.url, body)
          return {
            client: c,
            rebuilder,
            body,
            status: res.status,
            json: JSON.parse(res.body.toString('utf8')),
          }
        })
      }),
    )
    const total = CLIENTS.length * PER_CLIENT
    expect(answers.filter((a) => a.status !== 201).map((a) => a.json)).toEqual([])

    // Unique and dense: exactly 0..total-1.
    const entries = answers.map((a) => receiptEntry(a.json))
    const indexes = entries.map((e) => Number(e.index)).sort((a, b) => a - b)
    expect(indexes).toEqual(Array.from({ length: total }, (_, i) => i))

    const verifier = parseVerifierKey(log.verifierKey)
    answers.forEach((answer, i) => {
      // Stock Sigstore verification: signature by the rebuilder's key, inclusion proof, signed checkpoint.
      verifyReceiptWithSigstore(answer.json, trustedRoot, answer.rebuilder.publicKeyPem)
      // The receipt is the submitted bundle with the log's entry added.
      const submitted = (JSON.parse(answer.body) as { bundle: { dsseEnvelope: unknown } }).bundle
      expect((answer.json as { dsseEnvelope: unknown }).dsseEnvelope).toEqual(submitted.dsseEnvelope)
      // And independently with @ledger/tlog: the proof to the receipt's own checkpoint.
      const entry = entries[i]!
      const { checkpoint } = openCheckpoint(entry.checkpoint, verifier)
      expect(checkpoint.size).toBe(entry.treeSize)
      verifyInclusion(hashLeaf(entry.leaf), entry.index, checkpoint.size, entry.proof, checkpoint.root)
    })

    const audited = await auditLog(log.url, log.verifierKey)
    expect(audited.size).toBe(BigInt(total))
    for (const entry of entries)
      expect(bytesEqual(audited.leaves[Number(entry.index)]!, entry.leaf)).toBe(true)
    // Every checkpoint a receipt carried is a prefix of the final tree.
    const checked = await assertConsistentWith(
      log.url,
      log.verifierKey,
      audited,
      entries.map((e) => e.checkpoint),
    )
    expect(checked).toBeGreaterThan(0)

    // The index answers for what was logged: one artifact digest and one commit per statement.
    for (const c of [0, 1]) {
      const statement = rebuildStatement(`concurrent-${c}`, 7)
      const digest = `sha256:${statement.subject[0]!.digest.sha256}`
      const lookup = (await fetchJSON(`${log.url}/api/v1/lookup?digest=${digest}`)) as {
        total: number
        entries: { index: number; keyId: string }[]
      }
      const expected = answers.find((a) => a.client === c && a.body === bodies[c]![7])!
      expect(lookup.total).toBe(1)
      expect(lookup.entries.map((e) => [e.index, e.keyId])).toEqual([
        [Number(receiptEntry(expected.json).index), rebuilders[c]!.keyId],
      ])
    }
  }, 120_000)

  test('concurrent resubmissions of one statement by one key land once; the others get that entry', async () => {
    const before = await auditLog(log.url, log.verifierKey)
    const ecdsa = newRebuilder('ecdsa-p256')
    const ed25519 = newRebuilder('ed25519')
    const STATEMENTS = 8
    const COPIES = 4
    const submissions: { statement: number; rebuilder: Rebuilder; body: string }[] = []
    for (let s = 0; s < STATEMENTS; s++) {
      const rebuilder = s % 2 === 0 ? ecdsa : ed25519
      for (let copy = 0; copy < COPIES; copy++) {
        // ECDSA signs anew each time (a different signature over the same payload); Ed25519 repeats itself.
        const bundle = await signStatement(rebuildStatement('duplicates', s), rebuilder.privateKeyPem)
        submissions.push({
          statement: s,
          rebuilder,
          body: JSON.stringify({ bundle, publicKey: rebuilder.publicKeyPem }),
        })
      }
    }
    const agent = keepAliveAgent(submissions.length)
    agents.push(agent)
    const answers = await Promise.all(
      submissions.map(async (s) => {
        const res = await postEntry(agent, log.url, s.body)
        return { ...s, status: res.status, json: JSON.parse(res.body.toString('utf8')) as unknown }
      }),
    )
    for (const a of answers) {
      if (a.status !== 200 && a.status !== 201) validateApiError(a.json)
      expect([200, 201], JSON.stringify(a.json)).toContain(a.status)
    }
    const after = await auditLog(log.url, log.verifierKey)
    expect(after.size).toBe(before.size + BigInt(STATEMENTS))
    for (let s = 0; s < STATEMENTS; s++) {
      const group = answers.filter((a) => a.statement === s)
      expect(group.filter((a) => a.status === 201)).toHaveLength(1)
      const logged = group.map((a) => receiptEntry(a.json))
      const index = logged[0]!.index
      expect(index).toBeGreaterThanOrEqual(before.size)
      for (const [i, entry] of logged.entries()) {
        expect(entry.index).toBe(index)
        // Every answer, 200 or 201, is the LOGGED entry: its leaf, and a receipt whose signature matches it.
        expect(bytesEqual(entry.leaf, after.leaves[Number(index)]!)).toBe(true)
        verifyReceiptWithSigstore(group[i]!.json, trustedRoot, group[i]!.rebuilder.publicKeyPem)
      }
    }
  }, 60_000)
})
