// Issue 15: trust roots and bootstrap chains against a real log. Rebuilders record their build inputs with
// `attest submit --input`; an installer walks app ← compiler ← bootstrap compiler with `attest verify
// --chain`, every level proven against one checkpoint (a log that grows during the walk does not move it,
// and a log that lies in a later level's answer is exit 3); a compiler built by itself is a cycle; two
// parties with different compilers and the same bytes are two toolchains. Bad inputs and policies: exit 2
// naming what is wrong.
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { buildStatement, signStatement } from '@ledger/attestation'
import type { RunningLog } from '@ledger/log-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, removeDir, startLog, tempDir, type CliRun } from './e2e-support.js'
import { newRebuilder, submitAll, type Rebuilder } from './support/load.js'

let dir: string
let log: RunningLog
let attest: ReturnType<typeof cli>
const keys: Record<string, Rebuilder> = {}
const PARTIES = ['alice', 'bob', 'carol', 'upstream'] as const

/** The pretend files: their contents, and their sha256 as `sha256:<hex>`. */
const FILES = {
  app: 'app 1.0 release tarball',
  rustc: 'rustc 1.55 built from source',
  boot: 'rustc 1.54 upstream binary',
  gcc: 'gcc 12 from the distribution',
  app2: 'app 2.0, built with a self-hosted compiler',
  selfcc: 'a compiler that built itself',
  app3: 'app 3.0, built with two compilers',
} as const
type File = keyof typeof FILES
const sha = (file: File) => `sha256:${createHash('sha256').update(FILES[file]).digest('hex')}`
const commit = (file: File) => createHash('sha1').update(file).digest('hex')

function expectCode(run: CliRun, code: number) {
  if (run.code !== code)
    throw new Error(`exit ${run.code}, expected ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`)
}

/** `attest submit` of `file` by `party`, with build inputs NAME=DIGEST. */
async function submit(party: string, file: File, ...inputs: string[]) {
  const run = await attest(
    'submit',
    '--log',
    log.url,
    '--log-key',
    log.verifierKey,
    '--key',
    `${party}.key`,
    '--artifact',
    `${file}.bin`,
    '--repo',
    `git+https://github.com/example/${file}`,
    '--commit',
    commit(file),
    '--receipt',
    `${party}-${file}.receipt.json`,
    ...inputs.flatMap((input) => ['--input', input]),
    '--json',
  )
  expectCode(run, 0)
  return run.json() as { inputs: { name: string; digest: string; digests: string[] }[] }
}

async function writePolicy(
  file: string,
  extra: Record<string, unknown>,
  parties: readonly string[] = PARTIES,
) {
  await writeFile(
    join(dir, file),
    JSON.stringify({
      log: { origin: 'e2e.example/log', verifierKey: log.verifierKey },
      parties: parties.map((name) => ({ name, keys: [keys[name]!.keyId] })),
      threshold: 2,
      ...extra,
    }),
  )
}

beforeAll(async () => {
  dir = await tempDir('attest-chain-')
  log = await startLog(join(dir, 'log-data'))
  attest = cli(dir)
  for (const party of PARTIES) {
    keys[party] = newRebuilder()
    await writeFile(join(dir, `${party}.key`), keys[party].privateKeyPem, { mode: 0o600 })
  }
  for (const [file, content] of Object.entries(FILES)) await writeFile(join(dir, `${file}.bin`), content)

  // app ← rustc 1.55 ← rustc 1.54 (upstream's binary): alice and bob rebuilt app and the compiler.
  for (const party of ['alice', 'bob']) {
    await submit(party, 'app', `rustc 1.55=${sha('rustc')}`)
    await submit(party, 'rustc', `rustc 1.54 upstream=${sha('boot')}`)
  }
  // The trusting-trust case: a compiler attested as built by itself.
  for (const party of ['alice', 'bob']) {
    await submit(party, 'app2', `selfcc=${sha('selfcc')}`)
    await submit(party, 'selfcc', `selfcc=${sha('selfcc')}`)
  }
  // Diverse double-compiling: the same app3 bytes from rustc (alice) and from gcc (bob).
  await submit('alice', 'app3', `rustc 1.55=${sha('rustc')}`)
  await submit('bob', 'app3', `gcc 12=${sha('gcc')}`)

  const boot = { name: 'rustc 1.54.0 upstream', digest: sha('boot') }
  const gcc = { name: 'gcc 12 (distribution)', digest: sha('gcc') }
  await writePolicy('rooted.json', { roots: [boot, gcc] })
  await writePolicy('unrooted.json', { roots: [gcc] })
  await writePolicy('by-party.json', { roots: [gcc, { name: 'upstream releases', party: 'upstream' }] })
  await writePolicy('diverse-2.json', { roots: [boot, gcc], minDistinctToolchains: 2 })
  await writePolicy('diverse-3.json', { roots: [boot, gcc], minDistinctToolchains: 3 })
}, 120_000)

afterAll(async () => {
  await log?.close()
  await removeDir(dir)
})

const verifyChain = (policy: string, ...args: string[]) =>
  attest('verify', '--log', log.url, '--policy', policy, '--chain', ...args)

interface ChainJSON {
  ok: boolean
  artifact: { name: string; digest: string }
  toolchains: number
  minDistinctToolchains: number
  weakest?: { name: string; digest: string; verdict: string }
  nodes: {
    name: string
    digest: string
    depth: number
    verdict: string
    count?: number
    ok: boolean
    evidence?: { party: string; entry: number; inputs: { name: string; digest: string }[] }[]
  }[]
  edges: { from: string; to: string; name: string; cycle: boolean }[]
  checkpoint: string
}

const treeSize = (note: string) => Number(note.split('\n')[1])

describe('attest submit --input', () => {
  it('records each build input as a resolvedDependencies entry {name, digest} beside the source commit', async () => {
    const run = await attest(
      'lookup',
      '--log',
      log.url,
      '--log-key',
      log.verifierKey,
      '--digest',
      sha('app'),
      '--json',
    )
    expectCode(run, 0)
    const entries = (run.json() as { entries: { inputs: unknown[] }[] }).entries
    expect(entries.map((e) => e.inputs)).toEqual(
      Array(2).fill([{ name: 'rustc 1.55', digest: sha('rustc'), digests: [sha('rustc')] }]),
    )
    // The signed statement itself, from the saved receipt.
    const receipt = JSON.parse(await readFile(join(dir, 'alice-app.receipt.json'), 'utf8')) as {
      dsseEnvelope: { payload: string }
    }
    const statement = JSON.parse(Buffer.from(receipt.dsseEnvelope.payload, 'base64').toString('utf8')) as {
      predicate: { buildDefinition: { resolvedDependencies: unknown[] } }
    }
    expect(statement.predicate.buildDefinition.resolvedDependencies).toEqual([
      { uri: 'git+https://github.com/example/app', digest: { gitCommit: commit('app') } },
      { name: 'rustc 1.55', digest: { sha256: sha('rustc').slice(7) } },
    ])
  })

  it('takes SRI and bare hex, and a name repeated for several digests', async () => {
    const sha512 = createHash('sha512').update(FILES.boot).digest()
    const answer = await submit(
      'carol',
      'gcc',
      `boot=sha512-${sha512.toString('base64')}`,
      `boot=${sha('boot').slice(7).toUpperCase()}`,
    )
    expect(answer.inputs).toEqual([
      {
        name: 'boot',
        digest: sha('boot'),
        digests: [sha('boot'), `sha512:${sha512.toString('hex')}`],
      },
    ])
  })

  it.each([
    ['no name', ['--input', sha('boot')], /--input .*expected NAME=ALG:HEX/],
    ['md5', ['--input', `x=md5:${'0'.repeat(32)}`], /--input x=md5:.*md5/],
    ['a short digest', ['--input', 'x=sha256:abcd'], /--input x=sha256:abcd/],
    ['a 257-character name', ['--input', `${'n'.repeat(257)}=${sha('boot')}`], /at most 256 characters/],
    [
      '257 inputs',
      Array.from({ length: 257 }, (_, i) => ['--input', `tool${i}=${sha('boot')}`]).flat(),
      /257 build inputs, more than the 256/,
    ],
    [
      'two sha256 for one name',
      ['--input', `x=${sha('boot')}`, '--input', `x=${sha('gcc')}`],
      /two different sha256/,
    ],
  ])('refuses %s: exit 2, nothing logged', async (_label, flags, message) => {
    const size = (await fetch(`${log.url}/api/v1/log`).then((r) => r.json())) as { size: number }
    const run = await attest(
      'submit',
      '--log',
      log.url,
      '--log-key',
      log.verifierKey,
      '--key',
      'carol.key',
      '--artifact',
      'gcc.bin',
      '--repo',
      'git+https://github.com/example/gcc',
      '--commit',
      commit('gcc'),
      ...flags,
      '--json',
    )
    expectCode(run, 2)
    expect((run.json() as { error: { message: string } }).error.message).toMatch(message)
    expect(run.stderr).toMatch(message)
    const after = (await fetch(`${log.url}/api/v1/log`).then((r) => r.json())) as { size: number }
    expect(after.size).toBe(size.size)
  })
})

describe('attest verify --chain', () => {
  it('app ← compiler ← bootstrap compiler, a root at the bottom: exit 0, one checkpoint', async () => {
    const run = await verifyChain('rooted.json', '--artifact', 'app.bin', '--json')
    expectCode(run, 0)
    const answer = run.json() as ChainJSON
    expect(answer.ok).toBe(true)
    expect(answer.artifact).toEqual({ name: 'app.bin', digest: sha('app') })
    expect(answer.nodes.map((n) => [n.name, n.digest, n.depth, n.verdict])).toEqual([
      ['app.bin', sha('app'), 0, 'reproduced'],
      ['rustc 1.55', sha('rustc'), 1, 'reproduced'],
      ['rustc 1.54 upstream', sha('boot'), 2, 'root'],
    ])
    expect(answer.edges).toEqual([
      { from: sha('app'), to: sha('rustc'), name: 'rustc 1.55', cycle: false },
      { from: sha('rustc'), to: sha('boot'), name: 'rustc 1.54 upstream', cycle: false },
    ])
    // The evidence: the counted entries and the build inputs each names.
    expect(answer.nodes[0]!.evidence!.map((e) => [e.party, e.inputs])).toEqual([
      ['alice', [{ name: 'rustc 1.55', digest: sha('rustc') }]],
      ['bob', [{ name: 'rustc 1.55', digest: sha('rustc') }]],
    ])
    expect(answer.toolchains).toBe(1)

    const tree = await verifyChain('rooted.json', '--digest', sha('app'))
    expectCode(tree, 0)
    const lines = tree.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ok app\.bin {2}sha256:[0-9a-f]{64} {2}reproduced by 2 of 2 parties/)
    expect(lines[1]).toMatch(/^ {2}ok rustc 1\.55 /)
    expect(lines[2]).toMatch(/^ {4}ok rustc 1\.54 upstream .*root of trust: rustc 1\.54\.0 upstream$/)
    expect(tree.stdout).toMatch(
      /toolchain diversity: the 2 parties counted for app\.bin used 1 distinct build-input set\n/,
    )
    expect(lines.at(-1)).toBe('chain ok: every path ends in a root of trust or a reproduced artifact')

    const dot = await verifyChain('rooted.json', '--digest', sha('app'), '--dot')
    expectCode(dot, 0)
    expect(dot.stdout).toMatch(/^digraph chain \{/)
    expect(dot.stdout).toContain(`"${sha('rustc')}" -> "${sha('boot')}" [label="rustc 1.54 upstream"]`)
  })

  it('without the root: exit 1, the summary names the bootstrap compiler as the weakest link', async () => {
    const run = await verifyChain('unrooted.json', '--digest', sha('app'))
    expectCode(run, 1)
    const summary = run.stdout.trimEnd().split('\n').at(-1)!
    expect(summary).toBe(
      `chain NOT ok: weakest link rustc 1.54 upstream (${sha('boot')}): too few: 0 of 2 parties`,
    )
    const json = (await verifyChain('unrooted.json', '--digest', sha('app'), '--json')).json() as ChainJSON
    expect(json.weakest).toEqual({ name: 'rustc 1.54 upstream', digest: sha('boot'), verdict: 'too-few' })
    expect(json.nodes.map((n) => n.ok)).toEqual([false, false, false])
  })

  it('a root by party: the upstream that attests its own release', async () => {
    expectCode(await verifyChain('by-party.json', '--digest', sha('app')), 1)
    await submit('upstream', 'boot')
    const run = await verifyChain('by-party.json', '--digest', sha('app'), '--json')
    expectCode(run, 0)
    expect((run.json() as ChainJSON).nodes.at(-1)).toMatchObject({
      digest: sha('boot'),
      verdict: 'root',
      rootName: 'upstream releases (attested by upstream)',
    })
  })

  it('an artifact that is itself a root by digest: exit 0, the log not needed', async () => {
    const run = await verifyChain('rooted.json', '--digest', sha('gcc'), '--json')
    expectCode(run, 0)
    const answer = run.json() as ChainJSON
    expect(answer.nodes).toMatchObject([
      { digest: sha('gcc'), verdict: 'root', rootName: 'gcc 12 (distribution)' },
    ])
    expect(answer.checkpoint).toBeUndefined()
  })

  it('beyond the depth: --depth 0 checks the artifact only', async () => {
    const run = await verifyChain('rooted.json', '--digest', sha('app'), '--depth', '0', '--json')
    expectCode(run, 1)
    expect((run.json() as ChainJSON).weakest).toMatchObject({ name: 'rustc 1.55', verdict: 'beyond-depth' })
  })

  it('a compiler attested as built by itself is a cycle, reported and not looped: exit 1', async () => {
    const run = await verifyChain('rooted.json', '--digest', sha('app2'), '--json')
    expectCode(run, 1)
    const answer = run.json() as ChainJSON
    expect(answer.edges).toContainEqual({
      from: sha('selfcc'),
      to: sha('selfcc'),
      name: 'selfcc',
      cycle: true,
    })
    expect(answer.weakest).toMatchObject({ name: 'selfcc', verdict: 'cycle' })
    const tree = await verifyChain('rooted.json', '--digest', sha('app2'))
    expect(tree.stdout).toContain('trusting trust')
    expect(tree.stdout.trimEnd().split('\n').at(-1)).toMatch(/^chain NOT ok: weakest link selfcc .*cycle/)
  })

  it('two parties, two compilers, the same bytes: two toolchains; minDistinctToolchains 2 met, 3 not', async () => {
    const run = await verifyChain('rooted.json', '--digest', sha('app3'), '--json')
    expectCode(run, 0)
    const answer = run.json() as ChainJSON
    expect(answer.toolchains).toBe(2)
    expect(answer.nodes.map((n) => n.digest).sort()).toEqual(
      [sha('app3'), sha('rustc'), sha('gcc'), sha('boot')].sort(),
    )
    const two = await verifyChain('diverse-2.json', '--digest', sha('app3'))
    expectCode(two, 0)
    expect(two.stdout).toContain('used 2 distinct build-input sets (the policy asks for 2)')
    const three = await verifyChain('diverse-3.json', '--digest', sha('app3'), '--json')
    expectCode(three, 1)
    expect((three.json() as ChainJSON).weakest).toMatchObject({
      name: 'app3.bin',
      verdict: 'too-few-toolchains',
    })
    // The same compiler twice is one toolchain.
    expectCode(await verifyChain('diverse-2.json', '--digest', sha('app')), 1)
  })

  it.each([
    [
      'a root digest that is not alg:hex',
      { roots: [{ name: 'x', digest: 'sha1:abcd' }] },
      /\/roots\/0\/digest/,
    ],
    ['a root with neither digest nor party', { roots: [{ name: 'x' }] }, /\/roots\/0: missing key "digest"/],
    [
      'a root party that is not a party',
      { roots: [{ name: 'x', party: 'mallory' }] },
      /\/roots\/0\/party: "mallory" is not a party/,
    ],
    [
      'an unknown key in a root',
      { roots: [{ name: 'x', digest: sha('boot'), key: 'k' }] },
      /\/roots\/0: unknown key "key"/,
    ],
    ['minDistinctToolchains 0', { minDistinctToolchains: 0 }, /\/minDistinctToolchains/],
    [
      'minDistinctToolchains above the parties',
      { minDistinctToolchains: 5 },
      /\/minDistinctToolchains: 5 is more than the 4 parties/,
    ],
  ])('a policy with %s: exit 2 naming the path', async (_label, extra, message) => {
    await writePolicy('bad.json', extra)
    const run = await verifyChain('bad.json', '--digest', sha('app'), '--json')
    expectCode(run, 2)
    const error = (run.json() as { error: { code: string; message: string } }).error
    expect(error.code).toBe('POLICY_INVALID')
    expect(error.message).toMatch(message)
    expect(run.stderr).toMatch(message)
  })

  it.each([
    ['--depth 65', ['--digest', sha('app'), '--depth', '65']],
    ['--depth -1', ['--digest', sha('app'), '--depth', '-1']],
    ['--json with --dot', ['--digest', sha('app'), '--json', '--dot']],
    ['--chain with --lockfile', ['--lockfile', 'rooted.json']],
    ['a bad digest', ['--digest', 'md5:abc']],
  ])('usage: %s is exit 2', async (_label, args) => {
    expectCode(await verifyChain('rooted.json', ...args), 2)
  })

  it('--depth and --dot without --chain are exit 2', async () => {
    expectCode(
      await attest('verify', '--log', log.url, '--policy', 'rooted.json', '--digest', sha('app'), '--dot'),
      2,
    )
  })
})

/** A proxy over the real log; `hook` sees each POST /api/v1/lookup (its request and answer) and may lie. */
async function startProxy(
  target: string,
  hook: (request: Record<string, unknown>, answer: Buffer) => Promise<Buffer> | Buffer,
): Promise<{ url: string; requests: Record<string, unknown>[]; close(): Promise<void> }> {
  const requests: Record<string, unknown>[] = []
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = req.method === 'POST' ? Buffer.concat(chunks) : undefined
    const upstream = await fetch(target + (req.url ?? '/'), {
      method: req.method,
      headers: req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {},
      ...(body !== undefined && { body }),
    })
    let answer: Buffer = Buffer.from(await upstream.arrayBuffer())
    if (req.method === 'POST' && req.url === '/api/v1/lookup' && upstream.status === 200) {
      const request = JSON.parse(body!.toString('utf8')) as Record<string, unknown>
      requests.push(request)
      answer = await hook(request, answer)
    }
    res.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'application/json',
    })
    res.end(answer)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

const asks = (request: Record<string, unknown>, digest: string) =>
  Array.isArray(request['digests']) && (request['digests'] as string[]).includes(digest)

describe('attest verify --chain: one checkpoint for every level', () => {
  it('a log that grows during the walk: every level is still proven against the first checkpoint', async () => {
    let grown = false
    const proxy = await startProxy(log.url, async (request, answer) => {
      if (!grown && asks(request, sha('app'))) {
        grown = true
        const extra = newRebuilder()
        const statement = buildStatement({
          artifacts: [{ name: 'grow.tgz', sha256: 'ab'.repeat(32) }],
          source: { uri: 'git+https://github.com/example/grow', commit: 'ab'.repeat(20) },
          builderId: 'https://rebuilders.example/grow',
        })
        const bundle = await signStatement(statement, extra.privateKeyPem)
        await submitAll(log.url, [JSON.stringify({ bundle, publicKey: extra.publicKeyPem })], 1)
      }
      return answer
    })
    try {
      const before = treeSize(await fetch(`${log.url}/checkpoint`).then((r) => r.text()))
      const run = await attest(
        'verify',
        '--log',
        proxy.url,
        '--policy',
        'rooted.json',
        '--chain',
        '--digest',
        sha('app'),
        '--json',
      )
      expectCode(run, 0)
      const answer = run.json() as ChainJSON
      expect(grown).toBe(true)
      expect(treeSize(answer.checkpoint)).toBe(before)
      expect(treeSize(await fetch(`${log.url}/checkpoint`).then((r) => r.text()))).toBe(before + 1)
      // The compiler's level asked the log about the first checkpoint's tree.
      const level1 = proxy.requests.filter((r) => asks(r, sha('rustc')))
      expect(level1.length).toBeGreaterThan(0)
      expect(level1.every((r) => r['size'] === before)).toBe(true)
    } finally {
      await proxy.close()
    }
  })

  it('a log that lies in a later level (drops an entry of the compiler): exit 3, never a verdict', async () => {
    const proxy = await startProxy(log.url, (request, answer) => {
      if (!asks(request, sha('rustc'))) return answer
      const page = JSON.parse(answer.toString('utf8')) as {
        results: { indexes: number[] }[]
        entries: { index: number }[]
      }
      const dropped = page.entries.shift()
      if (dropped !== undefined)
        for (const result of page.results) result.indexes = result.indexes.filter((i) => i !== dropped.index)
      return Buffer.from(JSON.stringify(page))
    })
    try {
      const run = await attest(
        'verify',
        '--log',
        proxy.url,
        '--policy',
        'rooted.json',
        '--chain',
        '--digest',
        sha('app'),
        '--json',
      )
      expectCode(run, 3)
      expect((run.json() as { error: { code: string } }).error.code).toBe('LOG_MISBEHAVING')
    } finally {
      await proxy.close()
    }
  })
})
