// The verifiable index's map (@ledger/vindex), in memory: how fast a monitor rebuilds it from entries,
// how big one key's proof is, and what the map costs in memory, at N entries shaped like the log's: every
// entry names one subject by three digests (sha256, sha512, blake2b, as `attest submit --artifact`
// records), one source commit shared by the three rebuilders who reproduced it, and one of 16 keys.
// `VINDEX_ENTRIES` sets N (default 1,000,000).
import { createHash } from 'node:crypto'
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

export async function run(): Promise<void> {
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
