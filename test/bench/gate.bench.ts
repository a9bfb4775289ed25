// The installer's gate (issue #12), end to end against a real log process on loopback:
// 1. one `attest verify --digest` process (3 attestations), start to exit, beside `node -e 0`;
// 2. a 1,000-package lockfile with 3 attestations each (3,000 entries in a log of 10,000+): the
//    `attest verify --lockfile` process and the in-process batch count, every signature and proof checked,
//    beside the raw cost of 3,000 signature verifications measured in the same run;
// 3. GET /api/v1/lookup of a popular digest (16 attestations) at 64 connections.
// Figures are printed, never asserted. `npm run bench -- gate`.
import { execFile } from 'node:child_process'
import { verify } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  dssePAE,
  IN_TOTO_PAYLOAD_TYPE,
  publicKeyFromDER,
  statementIndexKeys,
  verifyLogEntry,
  type PublicKeyInfo,
} from '@ledger/attestation'
import { countReproductionsBatch, LedgerClient, loadTrustPolicy, lookupBatch } from '@ledger/client'
import { getLoad } from '../support/http-load.js'
import { newRebuilder, rebuildStatement, signSubmissionsFast, submitAll } from '../support/load.js'
import { spawnLog } from '../support/log-process.js'
import { CLIENTS, getRow } from './log-load.js'
import { percentile, ratio, row } from './measure.js'

const ATTEST = fileURLToPath(new URL('../../packages/cli/bin/attest.js', import.meta.url))
const PACKAGES = 1000
const PER_PACKAGE = 3
const LOG_SIZE = 10_000
const POPULAR = 16
const PROCESS_RUNS = 7
const LOCKFILE_RUNS = 5
const GET_SECONDS = 5

function timeProcess(args: string[], expectCode = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    execFile(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 }, (err, _stdout, stderr) => {
      const ms = performance.now() - start
      const code = err === null ? 0 : (err as { code?: number }).code
      if (code !== expectCode) reject(new Error(`${args.join(' ')}: exit ${String(code)}: ${stderr}`))
      else resolve(ms)
    })
  })
}

async function median(runs: number, op: () => Promise<number>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < runs; i++) times.push(await op())
  return percentile(
    times.sort((a, b) => a - b),
    50,
  )
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'attest-gate-bench-'))
  const server = spawnLog(['--data', join(dir, 'log'), '--port', '0', '--origin', 'bench.example/gate'])
  try {
    const url = await server.listening
    const verifierKey = server.verifierKey()
    const rebuilders = Array.from({ length: PER_PACKAGE }, (_, i) =>
      newRebuilder(i === 1 ? 'ed25519' : 'ecdsa-p256'),
    )
    const popular = Array.from({ length: POPULAR }, () => newRebuilder())
    const fill = newRebuilder()
    const signStart = performance.now()
    const bodies = [
      ...rebuilders.flatMap((r) => signSubmissionsFast(r, 'gate', 0, PACKAGES)),
      ...popular.flatMap((r) => signSubmissionsFast(r, 'popular', 0, 1)),
      ...signSubmissionsFast(fill, 'filler', 0, LOG_SIZE - PACKAGES * PER_PACKAGE - POPULAR),
    ]
    const results = await submitAll(url, bodies, 32)
    const failed = results.filter((r) => r.status !== 201).length
    if (failed > 0) throw new Error(`${failed} submissions failed`)
    console.log(
      `    (log of ${bodies.length} entries signed and submitted in ${((performance.now() - signStart) / 1000).toFixed(1)} s)`,
    )

    const policyJSON = JSON.stringify({
      log: { origin: 'bench.example/gate', verifierKey },
      parties: rebuilders.map((r, i) => ({ name: `rebuilder-${i}`, keys: [r.keyId] })),
      threshold: PER_PACKAGE,
    })
    await writeFile(join(dir, 'policy.json'), policyJSON)
    const digests = Array.from(
      { length: PACKAGES },
      (_, n) => statementIndexKeys(rebuildStatement('gate', n)).digests[0]!,
    )
    // A sha256sum list of the 1,000 packages: the lockfile.
    await writeFile(
      join(dir, 'SHA256SUMS'),
      digests.map((d, n) => `${d.slice('sha256:'.length)}  pkg-${n}.tar.gz\n`).join(''),
    )
    const state = join(dir, 'state')

    // 1. One digest, one process.
    const nodeZero = await median(PROCESS_RUNS, () => timeProcess(['-e', '0']))
    const verifyArgs = [
      ATTEST,
      'verify',
      '--log',
      url,
      '--policy',
      join(dir, 'policy.json'),
      '--state',
      state,
    ]
    // The log is warmed first, untimed, as a log that serves installers is: the first requests of a kind
    // run its code before V8 has optimised it. Every timed run is a fresh client process, cold as ever.
    await timeProcess([...verifyArgs, '--digest', digests[0]!])
    const one = await median(PROCESS_RUNS, () => timeProcess([...verifyArgs, '--digest', digests[0]!]))
    const version = await median(PROCESS_RUNS, () => timeProcess([ATTEST, '--version']))
    row('node -e 0, start to exit (median)', nodeZero, 'ms')
    row('attest --version, start to exit (median)', version, 'ms')
    row(`attest verify --digest (${PER_PACKAGE} attestations), start to exit`, one, 'ms')
    ratio('attest verify --digest / 250 ms', one, 250, '<= 1')
    ratio('attest verify --digest : node -e 0', one, nodeZero)
    // Loading the CLI alone (commander, the commands' wiring), beside starting Node.
    ratio('attest --version : node -e 0', version, nodeZero)

    // 2. The lockfile: the process, then the same count in this process, then the raw verifications.
    await timeProcess([...verifyArgs, '--lockfile', join(dir, 'SHA256SUMS')])
    const lockProcess = await median(LOCKFILE_RUNS, () =>
      timeProcess([...verifyArgs, '--lockfile', join(dir, 'SHA256SUMS')]),
    )
    const policy = loadTrustPolicy(policyJSON)
    const inProcess = await median(LOCKFILE_RUNS, async () => {
      const start = performance.now()
      const client = LedgerClient.fromPolicy(url, policy)
      const answer = await countReproductionsBatch({
        client,
        policy,
        queries: digests.map((digest) => ({ digest })),
      })
      if (!answer.answers.every((a) => a.ok)) throw new Error('a package did not meet the threshold')
      return performance.now() - start
    })
    // The 3,000 leaves themselves, for the raw cost of checking their signatures.
    const batch = await lookupBatch(LedgerClient.fromPolicy(url, policy), { digests })
    const leaves = [...batch.digests.values()].flatMap((a) => a.entries.map((e) => e.leaf))
    const opened = leaves.map((leaf) => {
      const entry = verifyLogEntry(leaf)
      return {
        key: publicKeyFromDER(entry.spkiDer),
        pae: dssePAE(IN_TOTO_PAYLOAD_TYPE, entry.payload),
        signature: entry.signature,
      }
    })
    const rawStart = performance.now()
    for (const { key, pae, signature } of opened) {
      const ok =
        key.keyDetails === 'PKIX_ED25519'
          ? verify(null, pae, key.keyObject, signature)
          : verify('sha256', pae, { key: key.keyObject, dsaEncoding: 'der' }, signature)
      if (!ok) throw new Error('raw verify failed')
    }
    const raw = performance.now() - rawStart
    const cache = new Map<string, PublicKeyInfo>()
    const leafStart = performance.now()
    for (const leaf of leaves) verifyLogEntry(leaf, { keyCache: cache })
    const leafChecks = performance.now() - leafStart
    row(`attest verify --lockfile (${PACKAGES} packages x ${PER_PACKAGE}), process`, lockProcess, 'ms')
    row('countReproductionsBatch of the same, in process', inProcess, 'ms')
    row(`raw: ${leaves.length} signature verifications (node:crypto)`, raw, 'ms')
    row(`raw: ${leaves.length} verifyLogEntry (decode, signature, schema)`, leafChecks, 'ms')
    ratio('attest verify --lockfile / 1,500 ms', lockProcess, 1500, '<= 1')
    ratio('attest verify --lockfile : raw signature verifications', lockProcess, raw)
    ratio('in-process batch count : raw signature verifications', inProcess, raw)
    // What a fresh process adds to the same count: start, module loading, code not yet optimized.
    ratio('attest verify --lockfile : in-process batch count', lockProcess, inProcess)

    // 3. A popular digest, every installer asking.
    const hot = statementIndexKeys(rebuildStatement('popular', 0)).digests[0]!
    const lookups = await getLoad(url, () => `/api/v1/lookup?digest=${hot}`, CLIENTS, GET_SECONDS)
    const lookupRate = getRow(`GET /api/v1/lookup (${POPULAR} attestations), ${CLIENTS} connections`, lookups)
    ratio('lookups/s : 3,000', lookupRate, 3000, '>= 1')
  } finally {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
