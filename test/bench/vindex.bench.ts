// The verifiable index's map (@ledger/vindex), in memory: how fast a monitor rebuilds it from entries,
// how big one key's proof is, and what the map costs in memory, at N entries shaped like the log's: every
// entry names one subject by three digests (sha256, sha512, blake2b, as `attest submit --artifact`
// records), one source commit shared by the three rebuilders who reproduced it, and one of 16 keys.
// `VINDEX_ENTRIES` sets N (default 1,000,000).
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnLog } from '../support/log-process.js'
import { newRebuilder } from '../support/load.js'
import { CLIENTS, presign, submitAllTimed, submitPhase } from './log-load.js'
import { sha256 } from '@ledger/tlog'
import { mapKey, VerifiableMap, type MapFnInput } from '@ledger/vindex'
import { row } from './measure.js'

const ENTRIES = Number(process.env.VINDEX_ENTRIES ?? 1_000_000)

function entry(i: number): MapFnInput {
  const artifact = Math.floor(i / 3)
  const seed = Buffer.alloc(8)
  seed.writeUInt32BE(artifact)
  const hex = (alg: string) => createHash(alg).update(seed).digest('hex')
  return {
    keyId: Buffer.from(sha256(new Uint8Array([i % 16]))).toString('hex'),
    digests: [`sha256:${hex('sha256')}`, `sha512:${hex('sha512')}`, `blake2b:${hex('blake2b512')}`],
    commits: [hex('sha1')],
  }
}

/** Ingest into a log process with and without --index, in one run; then how far the index trails. */
async function ingestWithIndex(): Promise<void> {
  const rebuilders = Array.from({ length: 16 }, () => newRebuilder('ecdsa-p256'))
  const dir = await mkdtemp(join(tmpdir(), 'ledger-bench-vindex-'))
  try {
    const rates: number[] = []
    for (const withIndex of [false, true]) {
      const server = spawnLog([
        '--data',
        join(dir, withIndex ? 'indexed' : 'plain'),
        '--port',
        '0',
        '--origin',
        'bench.example/vindex',
        ...(withIndex ? ['--index'] : []),
      ])
      try {
        const url = await server.listening
        await submitAllTimed(url, presign(rebuilders, `warm-${withIndex}`, 2000))
        console.log(withIndex ? 'with --index:' : 'without the index:')
        const load = await submitPhase(
          url,
          server.child.pid!,
          presign(rebuilders, `run-${withIndex}`, 20_000),
          CLIENTS,
        )
        rates.push(load.count / load.seconds)
        if (withIndex) {
          // How far the index trails the log right after the load: entries, and time until it caught up.
          const info = async () =>
            ((await (await fetch(`${url}/api/v1/log`)).json()) as { index: { trailing: number } }).index
              .trailing
          const trailing = await info()
          const begin = performance.now()
          while ((await info()) > 0) await new Promise((resolve) => setTimeout(resolve, 5))
          row('  index trails the log at the end of the load by', trailing, 'entries')
          row('  ... and catches up in', performance.now() - begin, 'ms')
        }
      } finally {
        await server.stop()
      }
    }
    row('ingest with --index : without', rates[1]! / rates[0]!, '(target >= 0.85)')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export async function run(): Promise<void> {
  await ingestWithIndex()
  const inputs = Array.from({ length: ENTRIES }, (_, i) => entry(i))
  const heapBefore = process.memoryUsage()
  const map = new VerifiableMap()
  const begin = performance.now()
  inputs.forEach((input, i) => map.addEntry(i, input))
  const root = map.rootHash()
  const seconds = (performance.now() - begin) / 1000
  row(`map rebuild, ${ENTRIES} entries (${map.size} keys), root included`, ENTRIES / seconds, 'entries/s')
  row('map rebuild : 20,000 entries/s', ENTRIES / seconds / 20_000, '(target >= 1)')
  const after = process.memoryUsage()
  row('  map heap (entries themselves excluded)', (after.heapUsed - heapBefore.heapUsed) / 2 ** 20, 'MiB')
  row('  process RSS', after.rss / 2 ** 20, 'MiB')
  const sizes = [0, 1, ENTRIES - 1].flatMap((i) => {
    const e = inputs[i]!
    return [
      `subject:${e.digests[0]}`,
      `commit:${e.commits[0]}`,
      `key:${e.keyId}`,
      `subject:sha256:${'0'.repeat(64)}`,
    ]
  })
  const proofBytes = sizes.map((key) => map.prove(mapKey(key)).length)
  row("  one key's map proof, largest of 12 (present and absent)", Math.max(...proofBytes), 'bytes')
  row("  one key's map proof : 1.5 KiB", Math.max(...proofBytes) / 1536, '(target <= 1)')
  // One more entry after the whole map: what the log pays per entry to keep the index current.
  const more = Array.from({ length: 10_000 }, (_, i) => entry(ENTRIES + i))
  const t = performance.now()
  for (let i = 0; i < more.length; i += 1000) {
    more.slice(i, i + 1000).forEach((input, j) => map.addEntry(ENTRIES + i + j, input))
    map.rootHash()
  }
  row(
    '  incremental: 10,000 entries in batches of 1,000, root per batch',
    10_000 / ((performance.now() - t) / 1000),
    'entries/s',
  )
  if (root.length !== 32) throw new Error('no root')
}
