// Bootstrap chains, on evidence tables (the pure walk; the client feeds it proven batch lookups).
import { describe, expect, test } from 'vitest'
import {
  chainToDot,
  distinctToolchains,
  evaluateChain,
  renderChainTree,
  type ArtifactEvidence,
  type BuildInput,
} from '../src/chain.js'

const d = (name: string) => `sha256:${Buffer.from(name).toString('hex').padEnd(64, '0').slice(0, 64)}`
const APP = { name: 'app', digest: d('app') }
const RUSTC = { name: 'rustc 1.55', digest: d('rustc55') }
const BOOT = { name: 'rustc 1.54 upstream', digest: d('rustc54') }
const GCC = { name: 'gcc 12', digest: d('gcc12') }

function reproduced(count: number, ...parties: BuildInput[][]): ArtifactEvidence {
  return {
    count,
    threshold: 2,
    conflicts: 0,
    attestedByRoot: false,
    inputsByParty: parties.map((inputs, i) => ({ party: `party${i}`, inputs })),
  }
}

function table(entries: Record<string, ArtifactEvidence>) {
  const asked: string[][] = []
  const evidence = async (digests: string[]) => {
    asked.push(digests)
    return new Map(
      digests.map((digest) => [digest, entries[digest] ?? reproduced(0)] as [string, ArtifactEvidence]),
    )
  }
  return { evidence, asked }
}

describe('evaluateChain', () => {
  test('app <- compiler <- bootstrap compiler, a root at the bottom: ok, asked one level at a time', async () => {
    const { evidence, asked } = table({
      [APP.digest]: reproduced(3, [RUSTC], [RUSTC]),
      [RUSTC.digest]: reproduced(2, [BOOT], [BOOT]),
    })
    const answer = await evaluateChain(APP, { roots: [BOOT] }, evidence)
    expect(answer.ok).toBe(true)
    expect(answer.nodes.map((n) => [n.name, n.verdict, n.depth])).toEqual([
      ['app', 'reproduced', 0],
      ['rustc 1.55', 'reproduced', 1],
      ['rustc 1.54 upstream', 'root', 2],
    ])
    // Roots are not looked up.
    expect(asked).toEqual([[APP.digest], [RUSTC.digest]])
    expect(renderChainTree(answer)).toContain('chain ok')
    expect(chainToDot(answer)).toMatch(/^digraph chain \{/)
  })

  test('without the root, the chain breaks at the bootstrap compiler, named as the weakest link', async () => {
    const { evidence } = table({
      [APP.digest]: reproduced(3, [RUSTC], [RUSTC]),
      [RUSTC.digest]: reproduced(2, [BOOT], [BOOT]),
      [BOOT.digest]: reproduced(1, []),
    })
    const answer = await evaluateChain(APP, { roots: [] }, evidence)
    expect(answer.ok).toBe(false)
    expect(answer.weakest).toMatchObject({ name: 'rustc 1.54 upstream', verdict: 'too-few', count: 1 })
    expect(answer.nodes.find((n) => n.name === 'app')!.ok).toBe(false)
    expect(renderChainTree(answer)).toMatch(/weakest link rustc 1\.54 upstream .*too few: 1 of 2 parties/)
  })

  test('a compiler attested as built by itself is a cycle, reported and never looped', async () => {
    const { evidence, asked } = table({
      [APP.digest]: reproduced(2, [RUSTC], [RUSTC]),
      [RUSTC.digest]: reproduced(2, [RUSTC], [RUSTC]),
    })
    const answer = await evaluateChain(APP, { roots: [] }, evidence)
    expect(answer.ok).toBe(false)
    expect(answer.edges).toContainEqual({
      from: RUSTC.digest,
      to: RUSTC.digest,
      name: 'rustc 1.55',
      cycle: true,
    })
    expect(answer.weakest).toMatchObject({ name: 'rustc 1.55', verdict: 'cycle' })
    expect(asked).toHaveLength(2)
    expect(renderChainTree(answer)).toContain('trusting trust')
  })

  test('two parties with different compilers and the same bytes: diversity 2, and a policy may require it', async () => {
    const entries = {
      [APP.digest]: reproduced(2, [RUSTC], [GCC]),
      [RUSTC.digest]: reproduced(2, [BOOT], [BOOT]),
    }
    const diverse = await evaluateChain(APP, { roots: [BOOT, GCC] }, table(entries).evidence)
    expect(diverse.ok).toBe(true)
    expect(diverse.nodes[0]).toMatchObject({ toolchains: 2 })
    const required = await evaluateChain(
      APP,
      { roots: [BOOT, GCC], minDistinctToolchains: 2 },
      table(entries).evidence,
    )
    expect(required.ok).toBe(true)
    const same = await evaluateChain(
      APP,
      { roots: [BOOT], minDistinctToolchains: 2 },
      table({ ...entries, [APP.digest]: reproduced(2, [RUSTC], [RUSTC]) }).evidence,
    )
    expect(same.ok).toBe(false)
    expect(same.weakest).toMatchObject({ name: 'app', verdict: 'too-few-toolchains', toolchains: 1 })
  })

  test('beyond the depth limit, a conflict, and an upstream that attests its own release', async () => {
    const deep = table({
      [APP.digest]: reproduced(2, [RUSTC], [RUSTC]),
      [RUSTC.digest]: reproduced(2, [BOOT], [BOOT]),
    })
    const limited = await evaluateChain(APP, { roots: [], depth: 1 }, deep.evidence)
    expect(limited.ok).toBe(false)
    expect(limited.weakest).toMatchObject({ name: 'rustc 1.54 upstream', verdict: 'beyond-depth' })
    expect(deep.asked).toHaveLength(2)

    const conflict = await evaluateChain(
      APP,
      { roots: [] },
      table({ [APP.digest]: { ...reproduced(3, [RUSTC]), conflicts: 1 } }).evidence,
    )
    expect(conflict.weakest).toMatchObject({ name: 'app', verdict: 'conflict' })

    const upstream = await evaluateChain(
      APP,
      { roots: [] },
      table({
        [APP.digest]: reproduced(2, [BOOT], [BOOT]),
        [BOOT.digest]: { ...reproduced(0), attestedByRoot: true },
      }).evidence,
    )
    expect(upstream.ok).toBe(true)
    expect(upstream.nodes[1]).toMatchObject({ verdict: 'root' })
  })
})

describe('distinctToolchains', () => {
  const t = (party: string, ...inputs: BuildInput[]) => ({ party, inputs })
  test('counts distinct build-input sets, the order and repeats of inputs aside', () => {
    expect(distinctToolchains([t('a', RUSTC, BOOT), t('b', BOOT, RUSTC, RUSTC)])).toBe(1)
    expect(distinctToolchains([t('a', RUSTC), t('b', GCC), t('c')])).toBe(3)
    expect(distinctToolchains([])).toBe(0)
  })
  test('one party with several attestations stands for one set only', () => {
    // a built with rustc and with gcc: alone, one toolchain.
    expect(distinctToolchains([t('a', RUSTC), t('a', GCC)])).toBe(1)
    // b only with rustc: a stands for gcc, two.
    expect(distinctToolchains([t('a', RUSTC), t('a', GCC), t('b', RUSTC)])).toBe(2)
    // a and b only rustc, c rustc and gcc: c takes gcc, two (not three sets among three parties).
    expect(distinctToolchains([t('a', RUSTC), t('b', RUSTC), t('c', RUSTC), t('c', GCC)])).toBe(2)
  })
})

test('a conflict is reported even when a root party attested the artifact', async () => {
  const answer = await evaluateChain(
    APP,
    { roots: [] },
    table({ [APP.digest]: { ...reproduced(2, [RUSTC]), attestedByRoot: true, conflicts: 1 } }).evidence,
  )
  expect(answer.ok).toBe(false)
  expect(answer.weakest).toMatchObject({ name: 'app', verdict: 'conflict' })
})
