// Client throughput: verified threshold queries (countReproductions: lookup, checkpoint check, every entry
// verified, the conflict lookup by commit) for a digest with 10 attestations, against a real log on
// loopback, next to the raw verification cost of those same 10 entries (verifyLogEntry and an inclusion
// proof each) measured in the same run, so the ratio says what the network and bookkeeping add. The log runs
// in this process: its side of each round trip (LevelDB reads, proofs, JSON) is in the query figures too.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildStatement, generateKeyPair, signStatement, verifyLogEntry } from '@ledger/attestation'
import {
  countReproductions,
  LedgerClient,
  loadTrustPolicy,
  MemoryStateStore,
  type LookupPage,
} from '@ledger/client'
import { defaultConfig, startLogServer } from '@ledger/log-server'
import { hashLeaf, verifyInclusion } from '@ledger/tlog'
import { percentile, rate, rateAsync, ratio, row } from './measure.js'

const ATTESTATIONS = 10
const DIGEST = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
const COMMIT = '0123456789abcdef0123456789abcdef01234567'
const ROUNDS = 3
const SLICE_SECONDS = 1

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'attest-bench-'))
  const log = await startLogServer({
    ...defaultConfig(),
    dataDir: dir,
    port: 0,
    origin: 'bench.example/log',
    verifyWorkers: 0,
  })
  try {
    const parties: { name: string; keys: string[] }[] = []
    const submitter = new LedgerClient({
      url: log.url,
      log: loadTrustPolicy(
        JSON.stringify({
          log: { origin: log.origin, verifierKey: log.verifierKey },
          parties: [{ name: 'x', keys: ['0'.repeat(64)] }],
          threshold: 1,
        }),
      ).log,
    })
    for (let i = 0; i < ATTESTATIONS; i++) {
      const pair = generateKeyPair(i % 2 === 0 ? 'ecdsa-p256' : 'ed25519')
      const statement = buildStatement({
        artifacts: [{ name: 'pkg-1.0.0.tgz', sha256: DIGEST }],
        source: { uri: 'git+https://github.com/example/pkg', commit: COMMIT },
        builderId: `https://rebuilder.example/${i}`,
      })
      await submitter.submit(await signStatement(statement, pair.privateKeyPem), pair.publicKeyPem)
      parties.push({ name: `rebuilder-${i}`, keys: [pair.keyId] })
    }
    const policy = loadTrustPolicy(
      JSON.stringify({
        log: { origin: log.origin, verifierKey: log.verifierKey },
        parties,
        threshold: ATTESTATIONS,
      }),
    )
    const client = LedgerClient.fromPolicy(log.url, policy, { state: new MemoryStateStore() })
    const query = () => countReproductions({ client, policy, digest: `sha256:${DIGEST}` })
    const first = await query()
    if (first.count !== ATTESTATIONS || !first.ok)
      throw new Error(`expected ${ATTESTATIONS} parties, got ${first.count}`)

    // The raw work every query must do at least: the 10 leaves and their inclusion proofs, verified.
    const page: LookupPage = await client.lookup({ digest: `sha256:${DIGEST}` })
    const raw = page.entries.map((entry) => ({
      leaf: entry.leaf,
      index: entry.index,
      proof: [] as Uint8Array[],
    }))
    for (const item of raw)
      item.proof = await client.inclusionProof(item.index, hashLeaf(item.leaf), page.checkpoint)
    const { size, root } = page.checkpoint.checkpoint
    // Parsed keys are cached, as the client caches them: the raw figure is the signature work itself.
    const keyCache = new Map()
    const verifyRaw = () => {
      for (const item of raw) {
        verifyLogEntry(item.leaf, { keyCache })
        verifyInclusion(hashLeaf(item.leaf), item.index, size, item.proof, root)
      }
    }

    // Interleaved slices, best of each: the raw and the query figures see the same machine load.
    let bestQueries = 0
    let bestRaw = 0
    let bestLookups = 0
    const latencies: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      let count = 0
      const start = performance.now()
      const deadline = start + SLICE_SECONDS * 1000
      let now = start
      while (now < deadline) {
        const t0 = performance.now()
        await query()
        now = performance.now()
        latencies.push(now - t0)
        count++
      }
      bestQueries = Math.max(bestQueries, (count * 1000) / (now - start))
      bestRaw = Math.max(bestRaw, rate(verifyRaw, SLICE_SECONDS))
      bestLookups = Math.max(
        bestLookups,
        await rateAsync(() => client.lookup({ digest: `sha256:${DIGEST}` }), SLICE_SECONDS),
      )
    }
    latencies.sort((a, b) => a - b)
    row(`verified threshold queries (${ATTESTATIONS} attestations)`, bestQueries, 'queries/s')
    row('  p50 latency', percentile(latencies, 50), 'ms')
    row('  p99 latency', percentile(latencies, 99), 'ms')
    row('  of which: one verified lookup round trip', bestLookups, 'lookups/s')
    row(`raw verification of the ${ATTESTATIONS} entries (leaf + proof)`, bestRaw, 'sets/s')
    ratio('query cost / raw verification cost', bestRaw, bestQueries)
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
}
