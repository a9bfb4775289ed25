// Issue 14, the installer's side: `attest verify` with a trust policy that pins the verifiable index, over a
// real log (--index) and through hostile proxies. The hole of the issue: trusted parties alice and bob
// logged digest D from commit C, carol logged the same commit and subject with another digest. Without the
// index, a proxy that deletes carol's entries from lookup answers turns "NOT OK (conflict)" into "OK"; with
// the index pinned, every lie ends in exit 3 with evidence, never in a count:
// (a) an entry dropped from an answer, (b) another key's map proof, (c) an old output leaf replayed after
// the client saw a newer one (rollback), (d) a second output checkpoint of the same size, signed with the
// index key by a log that rebuilt its map without carol (fork).
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyEntryLeaf } from '@ledger/client'
import type { RunningLog } from '@ledger/log-server'
import {
  encodeCheckpoint,
  fromBase64,
  hashLeaf,
  openCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  proveInclusion,
  rootFromInclusionProof,
  rootFromLeafHashes,
  signNote,
  toBase64,
} from '@ledger/tlog'
import {
  decodeOutputLeaf,
  encodeOutputLeaf,
  mapKey,
  VerifiableMap,
  type IndexBatchLookupAnswer,
} from '@ledger/vindex'
import { cli, removeDir, startLog, tempDir, type CliRun } from './e2e-support.js'

const COMMIT = 'c0ffee00'.repeat(5)
const REPO = 'git+https://github.com/example/app'

let dir: string
let log: RunningLog
let indexKey: string
let attest: ReturnType<typeof cli>
let proxy: Proxy
const D = createHash('sha256').update('the reproducible bytes\n').digest('hex')
const OTHER = createHash('sha256').update('carol built it with a timestamp\n').digest('hex')
const keyIds: Record<string, string> = {}

function expectCode(run: CliRun, code: number) {
  if (run.code !== code)
    throw new Error(`exit ${run.code}, expected ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`)
}

/** A proxy over the real log; hooks may rewrite the answers of the lookups (index and plain). */
interface Proxy {
  url: string
  /** POST /api/v1/index/lookup: the answer to send instead (the request's keys given). */
  index?: (answer: IndexBatchLookupAnswer, keys: string[]) => Promise<unknown> | unknown
  /** POST /api/v1/index/lookup: answer 422 ANSWER_TOO_LARGE instead, as the log does past its limit. */
  tooLarge?: (keys: string[]) => boolean
  /** Every index batch asked, its keys. */
  asked: string[][]
  /** GET /api/v1/lookup: the answer to send instead. */
  lookup?: (answer: LookupAnswer) => unknown
  /** GET /checkpoint: the signed checkpoint to send instead. */
  checkpoint?: (note: string) => string
  close(): Promise<void>
}
type LookupAnswer = { total: number; entries: { keyId: string }[] } & Record<string, unknown>

async function startProxy(target: string): Promise<Proxy> {
  const proxy: Proxy = { url: '', asked: [], close: async () => undefined }
  const server: Server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const body = req.method === 'POST' ? Buffer.concat(chunks) : undefined
      if (req.method === 'POST' && req.url === '/api/v1/index/lookup') {
        const { keys } = JSON.parse(body!.toString('utf8')) as { keys: string[] }
        proxy.asked.push(keys)
        if (proxy.tooLarge?.(keys)) {
          res.writeHead(422, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ error: { code: 'ANSWER_TOO_LARGE', message: 'ask for fewer keys' } }))
          return
        }
      }
      const upstream = await fetch(target + (req.url ?? '/'), {
        method: req.method,
        headers: req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {},
        ...(body !== undefined && { body }),
      })
      let answer: Buffer = Buffer.from(await upstream.arrayBuffer())
      if (upstream.status === 200) {
        const path = (req.url ?? '').split('?')[0]
        if (req.method === 'POST' && path === '/api/v1/index/lookup' && proxy.index) {
          const { keys } = JSON.parse(body!.toString('utf8')) as { keys: string[] }
          const honest = JSON.parse(answer.toString('utf8')) as IndexBatchLookupAnswer
          answer = Buffer.from(JSON.stringify(await proxy.index(honest, keys)))
        } else if (req.method === 'GET' && path === '/api/v1/lookup' && proxy.lookup) {
          answer = Buffer.from(
            JSON.stringify(proxy.lookup(JSON.parse(answer.toString('utf8')) as LookupAnswer)),
          )
        } else if (req.method === 'GET' && path === '/checkpoint' && proxy.checkpoint) {
          answer = Buffer.from(proxy.checkpoint(answer.toString('utf8')))
        }
      }
      res.writeHead(upstream.status, {
        'content-type': upstream.headers.get('content-type') ?? 'application/json',
      })
      res.end(answer)
    })().catch((err: unknown) => {
      res.writeHead(502)
      res.end(String(err))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  return proxy
}

async function submit(name: string, subject: string, commit = COMMIT): Promise<void> {
  const run = await attest(
    'submit',
    '--log',
    log.url,
    '--key',
    `${name}.key`,
    '--subject',
    subject,
    '--repo',
    REPO,
    '--commit',
    commit,
    '--log-key',
    log.verifierKey,
    '--receipt',
    `${name}-${subject.slice(-8)}.receipt.json`,
    '--state',
    `state-${name}`,
  )
  expectCode(run, 0)
}

/** Waits until the index covers every entry the log has committed. */
async function indexCaughtUp(): Promise<void> {
  for (;;) {
    const info = (await (await fetch(`${log.url}/api/v1/log`)).json()) as { index: { trailing: number } }
    if (info.index.trailing === 0) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** `attest verify --digest D` through the proxy, with `policy`, in its own state dir. */
const verify = (policy: string, state: string, ...more: string[]) =>
  attest(
    'verify',
    '--log',
    proxy.url,
    '--policy',
    policy,
    '--digest',
    `sha256:${D}`,
    '--state',
    state,
    ...more,
  )

type Refusal = { error: { code: string; evidence: { kind: string; trusted?: string; received?: string } } }

/** Exit 3, the evidence on stderr and in --json, and no count anywhere. */
function expectMisbehaved(run: CliRun, kind: string): Refusal['error']['evidence'] {
  expectCode(run, 3)
  const { error } = run.json() as Refusal
  expect(error.code).toBe('LOG_MISBEHAVING')
  expect(error.evidence.kind).toBe(kind)
  expect(run.stderr).toContain(`the log misbehaved (${kind})`)
  expect(run.stdout).not.toMatch(/"count"/)
  return error.evidence
}

beforeAll(async () => {
  dir = await tempDir('attest-index-')
  log = await startLog(join(dir, 'log-data'), 'index-verify.example/log', 0, { index: true })
  attest = cli(dir)
  for (const name of ['alice', 'bob', 'carol']) {
    const run = await attest('keygen', '--out', name, '--json')
    expectCode(run, 0)
    keyIds[name] = (run.json() as { keyId: string }).keyId
  }
  const info = (await (await fetch(`${log.url}/api/v1/log`)).json()) as { index: { verifierKey: string } }
  indexKey = info.index.verifierKey
  await submit('alice', `app.tar.gz=sha256:${D}`)
  await submit('bob', `app.tar.gz=sha256:${D}`)
  await submit('carol', `app.tar.gz=sha256:${OTHER}`)
  await indexCaughtUp()
  const policy = (index: boolean) =>
    JSON.stringify({
      log: { origin: log.origin, verifierKey: log.verifierKey },
      ...(index && { index: { verifierKey: indexKey } }),
      parties: ['alice', 'bob', 'carol'].map((name) => ({ name, keys: [keyIds[name]] })),
      threshold: 2,
    })
  await writeFile(join(dir, 'policy.json'), policy(false))
  await writeFile(join(dir, 'policy-index.json'), policy(true))
  proxy = await startProxy(log.url)
})

afterAll(async () => {
  await proxy?.close()
  await log?.close()
  await removeDir(dir)
})

/** Deletes carol's entries from a plain lookup answer and lowers its total: the hole. */
const hideCarol = (answer: LookupAnswer) => {
  const kept = answer.entries.filter((e) => e.keyId !== keyIds['carol'])
  return { ...answer, total: answer.total - (answer.entries.length - kept.length), entries: kept }
}

describe('attest verify with the index pinned', () => {
  it('answers complete: the conflict with carol, "complete as of index size N (log size M)", exit 1', async () => {
    proxy.index = undefined
    proxy.lookup = undefined
    const run = await verify('policy-index.json', 'state-honest', '--json')
    expectCode(run, 1)
    const answer = run.json() as {
      count: number
      conflicts: { party: string }[]
      complete: boolean
      indexSize: number
      indexedSize: number
    }
    expect(answer.count).toBe(2)
    expect(answer.conflicts.map((c) => c.party)).toEqual(['carol'])
    expect(answer.complete).toBe(true)
    expect(answer.indexedSize).toBe(3)
    expect(answer.indexSize).toBeGreaterThan(0)
    const human = await verify('policy-index.json', 'state-honest')
    expectCode(human, 1)
    expect(human.stdout).toContain('NOT OK (conflict)')
    expect(human.stdout).toContain(
      `complete as of index size ${answer.indexSize} (log size ${answer.indexedSize})`,
    )
    // attest lookup with the same policy: the commit's complete list, said so.
    const listed = await attest(
      'lookup',
      '--log',
      proxy.url,
      '--policy',
      'policy-index.json',
      '--commit',
      COMMIT,
      '--state',
      'state-honest',
      '--json',
    )
    expectCode(listed, 0)
    const list = listed.json() as {
      total: number
      entries: { party: string }[]
      complete: boolean
      indexedSize: number
    }
    expect(list.entries.map((e) => e.party)).toEqual(['alice', 'bob', 'carol'])
    expect(list.complete).toBe(true)
    expect(list.indexedSize).toBe(3)
    // A chain walk through the index: the same conflict, each level answered by the index.
    const chain = await verify('policy-index.json', 'state-honest', '--chain', '--json')
    expectCode(chain, 1)
    expect((chain.json() as { nodes: { verdict: string }[] }).nodes[0]!.verdict).toBe('conflict')
    // Without the index: the same verdict, not proven complete.
    const plain = await verify('policy.json', 'state-plain', '--json')
    expectCode(plain, 1)
    expect((plain.json() as { complete: boolean }).complete).toBe(false)
  })

  it("the hole: a proxy deleting carol's entries says OK without the index, never with it", async () => {
    proxy.index = undefined
    proxy.lookup = hideCarol
    // The reproduction, as it stands without the index: the lie is not caught.
    const fooled = await verify('policy.json', 'state-hole-plain', '--json')
    expectCode(fooled, 0)
    expect((fooled.json() as { complete: boolean }).complete).toBe(false)
    // With the index pinned, the plain lookups are not used: the proxy cannot hide carol, exit 1.
    expectCode(await verify('policy-index.json', 'state-hole-index'), 1)
    // And a proxy that deletes carol from the index answers (the list and the entry): exit 3.
    proxy.index = (answer) => {
      const carol = answer.entries.filter((e) => {
        const leaf = verifyEntryLeaf(fromBase64(e.leaf))
        return leaf.keyId === keyIds['carol']
      })
      const hidden = new Set(carol.map((e) => e.index))
      return {
        ...answer,
        results: answer.results.map((r) => ({ ...r, indexes: r.indexes.filter((i) => !hidden.has(i)) })),
        entries: answer.entries.filter((e) => !hidden.has(e.index)),
      }
    }
    expectMisbehaved(await verify('policy-index.json', 'state-hole-index', '--json'), 'bad-proof')
    const human = await verify('policy-index.json', 'state-hole-index')
    expectCode(human, 3)
    expect(human.stdout).toBe('')
    expect(human.stderr).toMatch(/map proof/)
  })

  it('an index behind the log, or ahead of the checkpoint the log serves: consistent either way, complete as of its leaf', async () => {
    proxy.lookup = undefined
    proxy.index = undefined
    proxy.checkpoint = undefined
    await indexCaughtUp()
    // Record the index answers and the log's checkpoint of now, then let the log grow by one entry.
    const answers = new Map<string, IndexBatchLookupAnswer>()
    proxy.index = (answer, keys) => {
      answers.set(JSON.stringify(keys), answer)
      return answer
    }
    let oldCheckpoint = ''
    proxy.checkpoint = (note) => (oldCheckpoint = note)
    const before = await verify('policy-index.json', 'state-behind-record', '--json')
    expectCode(before, 1)
    const size = (before.json() as { indexedSize: number }).indexedSize
    await submit('bob', `other.tar.gz=sha256:${'cd'.repeat(32)}`, 'beef0000'.repeat(5))
    await indexCaughtUp()
    // The index behind: its old leaf (size N) against the log's newer checkpoint (a proof N -> S).
    proxy.index = (answer, keys) => answers.get(JSON.stringify(keys)) ?? answer
    proxy.checkpoint = undefined
    const behind = await verify('policy-index.json', 'state-behind', '--json')
    expectCode(behind, 1)
    expect((behind.json() as { indexedSize: number; complete: boolean }).indexedSize).toBe(size)
    // The index ahead of the checkpoint served (as when the log serves its witnessed checkpoint): its
    // newest leaf against the log's older checkpoint (a proof S -> N).
    proxy.index = undefined
    proxy.checkpoint = () => oldCheckpoint
    const ahead = await verify('policy-index.json', 'state-ahead', '--json')
    expectCode(ahead, 1)
    const answer = ahead.json() as { indexedSize: number; checkpoint: string }
    expect(answer.indexedSize).toBe(size + 1)
    expect(answer.checkpoint).toBe(oldCheckpoint)
    proxy.checkpoint = undefined
  })

  it('(a) an entry dropped from an answer, its index still listed: exit 3', async () => {
    proxy.lookup = undefined
    proxy.index = (answer) => ({ ...answer, entries: answer.entries.slice(1) })
    expectMisbehaved(await verify('policy-index.json', 'state-a', '--json'), 'bad-entry')
  })

  it("(b) another key's map proof: exit 3", async () => {
    proxy.lookup = undefined
    proxy.index = async (answer) => {
      const other = (await (
        await fetch(`${log.url}/api/v1/index/lookup`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ keys: [`subject:sha256:${OTHER}`] }),
        })
      ).json()) as IndexBatchLookupAnswer
      return {
        ...answer,
        results: answer.results.map((r, i) => (i === 0 ? { ...r, mapProof: other.results[0]!.mapProof } : r)),
      }
    }
    expectMisbehaved(await verify('policy-index.json', 'state-b', '--json'), 'bad-proof')
  })

  it('(c) an old output leaf, after the client saw a newer one: rollback, exit 3, both signed', async () => {
    proxy.lookup = undefined
    // Record the honest answers of now, then let the log (and its index) grow.
    const recorded = new Map<string, IndexBatchLookupAnswer>()
    proxy.index = (answer, keys) => {
      recorded.set(JSON.stringify(keys), answer)
      return answer
    }
    expectCode(await verify('policy-index.json', 'state-c'), 1)
    await submit('alice', `lib.tar.gz=sha256:${'ab'.repeat(32)}`, 'feed0000'.repeat(5))
    await indexCaughtUp()
    proxy.index = undefined
    expectCode(await verify('policy-index.json', 'state-c'), 1) // the client stores the newer output checkpoint
    proxy.index = (answer, keys) => recorded.get(JSON.stringify(keys)) ?? answer
    const evidence = expectMisbehaved(await verify('policy-index.json', 'state-c', '--json'), 'rollback')
    const verifier = parseVerifierKey(indexKey)
    const trusted = openCheckpoint(evidence.trusted!, verifier).checkpoint
    const received = openCheckpoint(evidence.received!, verifier).checkpoint
    expect(received.size).toBeLessThan(trusted.size)
    expect(trusted.origin).toBe(`${log.origin}/index`)
  })

  it('(d) a second output checkpoint of the same size, signed by the index key, a map without carol: fork, exit 3', async () => {
    proxy.lookup = undefined
    proxy.index = undefined
    await indexCaughtUp()
    expectCode(await verify('policy-index.json', 'state-d'), 1)
    // The log's operator holds the index key: it rebuilds the map without carol's entries, restates the
    // newest output leaf with that map root, and signs the output tree that leaf makes (same size).
    const signer = parseSignerKey((await readFile(join(dir, 'log-data', 'index.key'), 'utf8')).trimEnd())
    proxy.index = async (answer, keys) => {
      const leaf = decodeOutputLeaf(fromBase64(answer.leaf))
      const map = new VerifiableMap()
      const leaves: Uint8Array[] = []
      for (let i = 0; i < Number(leaf.inputSize); i++) {
        const entry = (await (await fetch(`${log.url}/api/v1/entries/${i}`)).json()) as { leaf: string }
        const bytes = fromBase64(entry.leaf)
        leaves.push(bytes)
        const verified = verifyEntryLeaf(bytes)
        if (verified.keyId === keyIds['carol']) continue
        map.addEntry(i, {
          keyId: verified.keyId,
          digests: verified.keys.digests,
          commits: verified.keys.commits,
        })
      }
      const forgedLeaf = encodeOutputLeaf({ ...leaf, mapRoot: map.rootHash() })
      const size = BigInt(answer.leafIndex) + 1n
      const root = rootFromInclusionProof(
        hashLeaf(forgedLeaf),
        BigInt(answer.leafIndex),
        size,
        answer.leafProof.map((h) => fromBase64(h)),
      )
      const checkpoint = signNote(
        encodeCheckpoint({ origin: `${log.origin}/index`, size, root, extensions: [] }),
        [signer],
      )
      const results = keys.map((key) => ({
        key,
        mapProof: toBase64(map.prove(mapKey(key))),
        indexes: [...(map.get(mapKey(key)) ?? [])],
      }))
      const listed = new Set(results.flatMap((r) => r.indexes))
      return {
        ...answer,
        checkpoint,
        leaf: toBase64(forgedLeaf),
        results,
        entries: answer.entries.filter((e) => listed.has(e.index)),
      }
    }
    const evidence = expectMisbehaved(await verify('policy-index.json', 'state-d', '--json'), 'fork')
    const verifier = parseVerifierKey(indexKey)
    const trusted = openCheckpoint(evidence.trusted!, verifier).checkpoint
    const received = openCheckpoint(evidence.received!, verifier).checkpoint
    expect(received.size).toBe(trusted.size)
    expect(toBase64(received.root)).not.toBe(toBase64(trusted.root))
    // The forged answer is otherwise whole: a client that never saw the honest output checkpoint (and a
    // policy without witnesses for the output log) cannot tell. Witness cosigning of the output log is
    // what closes that (issue 14, item 3); this client's memory is what catches it here.
    expectCode(await verify('policy-index.json', 'state-d-fresh'), 0)
  })

  it("(e) an output leaf whose log tree is not the log's (carol's leaf replaced): fork with the log's checkpoint, exit 3", async () => {
    proxy.lookup = undefined
    // A fresh client: nothing stored of the output log, so only the leaf's log tree can betray the lie.
    const signer = parseSignerKey((await readFile(join(dir, 'log-data', 'index.key'), 'utf8')).trimEnd())
    proxy.index = async (answer, keys) => {
      const leaf = decodeOutputLeaf(fromBase64(answer.leaf))
      const leaves: Uint8Array[] = []
      for (let i = 0; i < Number(leaf.inputSize); i++) {
        const entry = (await (await fetch(`${log.url}/api/v1/entries/${i}`)).json()) as { leaf: string }
        leaves.push(fromBase64(entry.leaf))
      }
      // Another history of the same size: carol's entry replaced by a copy of alice's.
      const carolAt = leaves.findIndex((l) => verifyEntryLeaf(l).keyId === keyIds['carol'])
      leaves[carolAt] = leaves[0]!
      const hashes = leaves.map((l) => hashLeaf(l))
      const read = (ids: readonly { level: number; index: bigint }[]) =>
        ids.map(({ level, index }) =>
          rootFromLeafHashes(hashes.slice(Number(index) << level, (Number(index) + 1) << level)),
        )
      const map = new VerifiableMap()
      leaves.forEach((bytes, i) => {
        const verified = verifyEntryLeaf(bytes)
        map.addEntry(i, {
          keyId: verified.keyId,
          digests: verified.keys.digests,
          commits: verified.keys.commits,
        })
      })
      const forgedLeaf = encodeOutputLeaf({
        inputSize: leaf.inputSize,
        inputRoot: rootFromLeafHashes(hashes),
        mapRoot: map.rootHash(),
      })
      const size = BigInt(answer.leafIndex) + 1n
      const root = rootFromInclusionProof(
        hashLeaf(forgedLeaf),
        BigInt(answer.leafIndex),
        size,
        answer.leafProof.map((h) => fromBase64(h)),
      )
      const checkpoint = signNote(
        encodeCheckpoint({ origin: `${log.origin}/index`, size, root, extensions: [] }),
        [signer],
      )
      const results = keys.map((key) => ({
        key,
        mapProof: toBase64(map.prove(mapKey(key))),
        indexes: [...(map.get(mapKey(key)) ?? [])],
      }))
      const listed = [...new Set(results.flatMap((r) => r.indexes))].sort((a, b) => a - b)
      const entries = await Promise.all(
        listed.map(async (index) => ({
          index,
          leaf: toBase64(leaves[index]!),
          proof: (await proveInclusion(BigInt(index), leaf.inputSize, read)).map(toBase64),
        })),
      )
      return { ...answer, checkpoint, leaf: toBase64(forgedLeaf), results, entries }
    }
    const evidence = expectMisbehaved(await verify('policy-index.json', 'state-e', '--json'), 'fork')
    // The log's own signed checkpoint, and the index checkpoint whose leaf names the other history.
    expect(openCheckpoint(evidence.trusted!, parseVerifierKey(log.verifierKey)).checkpoint.origin).toBe(
      log.origin,
    )
    expect(openCheckpoint(evidence.received!, parseVerifierKey(indexKey)).checkpoint.origin).toBe(
      `${log.origin}/index`,
    )
  })

  it('--lockfile through the index: complete, and a dropped entry is exit 3', async () => {
    proxy.lookup = undefined
    proxy.index = undefined
    await writeFile(join(dir, 'SHA256SUMS'), `${D}  app.tar.gz\n`)
    const lockfile = (state: string, ...more: string[]) =>
      attest(
        'verify',
        '--log',
        proxy.url,
        '--policy',
        'policy-index.json',
        '--lockfile',
        'SHA256SUMS',
        '--state',
        state,
        ...more,
      )
    const run = await lockfile('state-lock', '--json')
    expectCode(run, 1)
    const answer = run.json() as {
      complete: boolean
      indexSize: number
      indexedSize: number
      summary: { conflict: number }
    }
    expect(answer.summary.conflict).toBe(1)
    expect(answer.complete).toBe(true)
    const human = await lockfile('state-lock')
    expectCode(human, 1)
    expect(human.stdout).toContain(
      `complete as of index size ${answer.indexSize} (log size ${answer.indexedSize})`,
    )
    proxy.index = (honest) => ({ ...honest, entries: honest.entries.slice(0, -1) })
    expectMisbehaved(await lockfile('state-lock', '--json'), 'bad-entry')
  })

  it('--lockfile: a batch refused as ANSWER_TOO_LARGE is asked again in halves; one key refused is exit 2', async () => {
    proxy.lookup = undefined
    proxy.index = undefined
    const E = createHash('sha256').update('another package\n').digest('hex')
    await writeFile(join(dir, 'TWO.SHA256SUMS'), `${D}  app.tar.gz\n${E}  lib.tar.gz\n`)
    const lockfile = (...more: string[]) =>
      attest(
        'verify',
        '--log',
        proxy.url,
        '--policy',
        'policy-index.json',
        '--lockfile',
        'TWO.SHA256SUMS',
        '--state',
        'state-split',
        ...more,
      )
    proxy.tooLarge = (keys) => keys.length > 1
    proxy.asked = []
    const run = await lockfile('--json')
    expectCode(run, 1)
    expect((run.json() as { complete: boolean }).complete).toBe(true)
    expect(proxy.asked[0]).toHaveLength(2)
    expect(proxy.asked.slice(1, 3)).toEqual([[`subject:sha256:${D}`], [`subject:sha256:${E}`]])
    proxy.tooLarge = () => true
    const refused = await lockfile('--json')
    expectCode(refused, 2)
    expect((refused.json() as { error: { code: string } }).error.code).toBe('REJECTED')
    expect(refused.stdout).not.toMatch(/"count"/)
    proxy.tooLarge = undefined
  })
})
