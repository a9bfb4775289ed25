import { beforeAll, describe, expect, it } from 'vitest'
import {
  countReproductions,
  LedgerClient,
  loadTrustPolicy,
  MemoryStateStore,
  type TrustPolicy,
} from '../src/index.js'
import { FakeLog } from './fake-log.js'
import { COMMIT_A, COMMIT_B, makeKey, policyText, type TestKey } from './helpers.js'

const good = 'a'.repeat(64)
const bad = 'b'.repeat(64)
const other = 'c'.repeat(64)

let log: FakeLog
let policy: TrustPolicy
let keys: Record<'alice' | 'bob1' | 'bob2' | 'carol' | 'dave' | 'mallory', TestKey>
const index: Record<string, number> = {}

beforeAll(async () => {
  keys = {
    alice: makeKey(),
    bob1: makeKey(),
    bob2: makeKey('ed25519'),
    carol: makeKey(),
    dave: makeKey(),
    mallory: makeKey(),
  }
  log = new FakeLog()
  const submit = async (
    name: string,
    key: TestKey,
    sha256: string,
    commit = COMMIT_A,
    artifact = 'app.tar.gz',
  ) => {
    index[name] = log.appendBundle(await key.sign([{ name: artifact, sha256 }], commit), key.publicKeyPem)[0]
  }
  await submit('alice', keys.alice, good)
  await submit('bob1', keys.bob1, good)
  await submit('bob2', keys.bob2, good)
  await submit('carol', keys.carol, good, COMMIT_B)
  await submit('mallory', keys.mallory, good)
  // Dave rebuilt the same commit and got another digest: a conflict.
  await submit('dave', keys.dave, bad)
  // Noise: another artifact of the same commit (not a conflict), another digest of another commit.
  await submit('alice-other', keys.alice, other, COMMIT_A, 'docs.tar.gz')
  await submit('carol-other', keys.carol, other, COMMIT_B, 'docs.tar.gz')
  policy = loadTrustPolicy(
    policyText(
      { origin: log.origin, verifierKey: log.verifierKey },
      [
        { name: 'alice', keys: [keys.alice.publicKeyPem] },
        { name: 'bob', keys: [keys.bob1.keyId, keys.bob2.publicKeyPem] },
        { name: 'carol', keys: [keys.carol.keyId] },
        { name: 'dave', keys: [keys.dave.keyId] },
      ],
      3,
    ),
  )
})

const clientFor = () => LedgerClient.fromPolicy('http://fake.log', policy, { fetch: log.fetch, retries: 0 })

describe('countReproductions', () => {
  it('counts parties, not keys; lists unknown keys; reports the conflict', async () => {
    const answer = await countReproductions({ client: clientFor(), policy, digest: `sha256:${good}` })
    expect(answer.count).toBe(3)
    expect(answer.parties).toEqual([
      { name: 'alice', keyids: [keys.alice.keyId], entries: [index['alice']] },
      {
        name: 'bob',
        keyids: [keys.bob1.keyId, keys.bob2.keyId].sort(),
        entries: [index['bob1'], index['bob2']],
      },
      { name: 'carol', keyids: [keys.carol.keyId], entries: [index['carol']] },
    ])
    expect(answer.unknown).toEqual({ count: 1, keyids: [keys.mallory.keyId], notFetched: 0 })
    expect(answer.conflicts).toEqual([
      {
        party: 'dave',
        keyid: keys.dave.keyId,
        index: index['dave'],
        subject: 'app.tar.gz',
        digest: `sha256:${bad}`,
        commit: COMMIT_A,
      },
    ])
    expect(answer.threshold).toBe(3)
    expect(answer.ok).toBe(false) // met, but a conflict
    expect(answer.checkpoint).toBe(log.checkpoint())
    // Exactly the keys of DESIGN §8, in its order, then `complete` (deviations.md): no index pinned here.
    expect(Object.keys(answer)).toEqual([
      'digest',
      'count',
      'threshold',
      'ok',
      'parties',
      'conflicts',
      'unknown',
      'checkpoint',
      'complete',
    ])
    expect(answer.complete).toBe(false)
  })

  it('counts only rebuilds from the given commit', async () => {
    const answer = await countReproductions({
      client: clientFor(),
      policy,
      digest: `sha256:${good}`,
      commit: COMMIT_B,
      threshold: 1,
    })
    expect(answer.commit).toBe(COMMIT_B)
    expect(answer.parties.map((p) => p.name)).toEqual(['carol'])
    expect(answer.unknown.count).toBe(0)
    expect(answer.conflicts).toEqual([])
    expect(answer.ok).toBe(true)
  })

  it('is ok for a conflict-free digest that meets the threshold, and not ok below it', async () => {
    const two = await countReproductions({
      client: clientFor(),
      policy,
      digest: `sha256:${other}`,
      threshold: 2,
    })
    expect(two.parties.map((p) => p.name)).toEqual(['alice', 'carol'])
    expect(two.conflicts).toEqual([])
    expect(two.ok).toBe(true)
    const three = await countReproductions({
      client: clientFor(),
      policy,
      digest: `sha256:${other}`,
      threshold: 3,
    })
    expect(three.ok).toBe(false)
  })

  it('past the fetch-all limit, fetches only the policy keys and reports what it left', async () => {
    const client = clientFor()
    const answer = await countReproductions({ client, policy, digest: `sha256:${good}`, fetchAllLimit: 3 })
    expect(answer.count).toBe(3)
    expect(answer.unknown).toEqual({ count: 0, keyids: [], notFetched: 1 })
    expect(log.requests.some((r) => r.startsWith('/api/v1/lookup?digest=') && r.includes('keyid='))).toBe(
      true,
    )
  })

  it('pages through many matches', async () => {
    const before = log.requests.length
    const answer = await countReproductions({
      client: clientFor(),
      policy,
      digest: `sha256:${good}`,
      pageSize: 2,
    })
    expect(answer.count).toBe(3)
    expect(answer.unknown.count).toBe(1)
    const lookups = log.requests.slice(before).filter((r) => r.startsWith('/api/v1/lookup?digest='))
    expect(lookups).toHaveLength(3) // 5 matches, 2 per page
  })

  it('answers up to 1,000 matches in one lookup round trip', async () => {
    const before = log.requests.length
    await countReproductions({ client: clientFor(), policy, digest: `sha256:${good}` })
    const lookups = log.requests.slice(before).filter((r) => r.startsWith('/api/v1/lookup?digest='))
    expect(lookups).toHaveLength(1)
    expect(lookups[0]).toContain('limit=1000')
  })

  it('refuses bad arguments', async () => {
    await expect(countReproductions({ client: clientFor(), policy, digest: good })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    await expect(
      countReproductions({ client: clientFor(), policy, digest: `sha256:${good}`, threshold: 0 }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })

  it('fails with LOG_MISBEHAVING, not a count, when the log lies about one entry', async () => {
    const state = new MemoryStateStore()
    const client = LedgerClient.fromPolicy('http://fake.log', policy, { fetch: log.fetch, retries: 0, state })
    log.hook = (path, json) => {
      if (path !== '/api/v1/lookup') return json
      const j = json as { entries: { leaf: string }[] }
      // The first match swapped for another (validly signed) entry of the log.
      const swapped = Buffer.from(log.entries[7]!.leaf).toString('base64')
      return { ...j, entries: j.entries.map((e, i) => (i === 0 ? { ...e, leaf: swapped } : e)) }
    }
    try {
      await expect(countReproductions({ client, policy, digest: `sha256:${good}` })).rejects.toMatchObject({
        code: 'LOG_MISBEHAVING',
      })
    } finally {
      log.hook = undefined
    }
  })
})
