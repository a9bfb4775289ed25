// The verifiable index's map (@ledger/vindex), in memory: how fast a monitor rebuilds it from entries,
// how big one key's proof is, and what the map costs in memory, at N entries shaped like the log's: every
// entry names one subject by three digests (sha256, sha512, blake2b, as `attest submit --artifact`
// records), one source commit shared by the three rebuilders who reproduced it, and one of 16 keys.
// `VINDEX_ENTRIES` sets N (default 1,000,000).
import { createHash, sign } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnLog } from '../support/log-process.js'
import { newRebuilder } from '../support/load.js'
import { CLIENTS, presign, submitAllTimed, submitPhase } from './log-load.js'
import {
  buildStatement,
  canonicalJSON,
  dssePAE,
  encodeLogEntry,
  IN_TOTO_PAYLOAD_TYPE,
  privateKeyFromPEM,
} from '@ledger/attestation'
import {
  checkState,
  indexedEntryOf,
  LevelStore,
  loadEdge,
  LOG_KEY_FILE,
  logKeyFromSignerKey,
  signCheckpoint,
} from '@ledger/log-server'
import { sha256 } from '@ledger/tlog'
import { defaultConfig as witnessDefaults, startWitness, type RunningWitness } from '@ledger/witness'
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

/**
 * The log process itself at N entries with the index: N real signed leaves (shaped as `entry(i)` says) are
 * written into a LevelDB log through the store's commit path (as `migrate` writes), then the log starts
 * with --index and rebuilds the map from its own leaves: that rebuild's rate (leaves read from LevelDB,
 * decoded and parsed, MapFn, the map, its root), the process's RSS once caught up, and one key's proof as
 * the lookup endpoint serves it; then again after a SIGTERM, when the map comes from its snapshot.
 */
async function logAtScale(): Promise<void> {
  const origin = 'bench.example/vindex-scale'
  // VINDEX_LOG_DIR keeps the data dir between runs: its N entries are written once.
  const kept = process.env.VINDEX_LOG_DIR
  const dir = kept ?? (await mkdtemp(join(tmpdir(), 'ledger-bench-vindex-scale-')))
  try {
    await mkdir(dir, { recursive: true })
    const first = spawnLog(['--data', dir, '--port', '0', '--origin', origin])
    const checkpoint = await (await fetch(`${await first.listening}/checkpoint`)).text()
    await first.stop()
    const held = Number(checkpoint.split('\n')[1])
    if (held !== 0 && held !== ENTRIES) throw new Error(`${dir} holds ${held} entries, not ${ENTRIES}`)
    // The first start below must re-read the log.
    await rm(join(dir, 'index-map.snapshot'), { force: true })
    const key = logKeyFromSignerKey((await readFile(join(dir, LOG_KEY_FILE), 'utf8')).trimEnd())
    const signers = Array.from({ length: 16 }, () => {
      const { keyObject, publicKey } = privateKeyFromPEM(newRebuilder('ed25519').privateKeyPem)
      return { keyObject, publicKey }
    })
    const leafOf = (i: number): Uint8Array => {
      const e = entry(i)
      const statement = buildStatement({
        artifacts: [
          {
            name: `pkg-${Math.floor(i / 3)}.tar.gz`,
            digest: {
              sha256: e.digests[0]!.slice('sha256:'.length),
              sha512: e.digests[1]!.slice('sha512:'.length),
              blake2b: e.digests[2]!.slice('blake2b:'.length),
            },
          },
        ],
        source: { uri: 'git+https://github.com/example/project', commit: e.commits[0]! },
        builderId: `https://rebuilders.example/${i % 16}`,
      })
      const payload = Buffer.from(canonicalJSON(statement), 'utf8')
      const signer = signers[i % 16]!
      return encodeLogEntry({
        payload,
        signature: sign(null, dssePAE(IN_TOTO_PAYLOAD_TYPE, payload), signer.keyObject),
        spkiDer: signer.publicKey.spkiDer,
        keyDetails: signer.publicKey.keyDetails,
      })
    }
    const store = await LevelStore.open(join(dir, 'db'))
    const written = performance.now()
    try {
      let edge = await loadEdge(store, checkState((await store.readState())!, origin).range)
      // Nothing to write when a kept data dir holds them already.
      for (let at = held; at < ENTRIES; at += 4096) {
        const count = Math.min(4096, ENTRIES - at)
        const entries = Array.from({ length: count }, (_, j) =>
          indexedEntryOf(BigInt(at + j), leafOf(at + j)),
        )
        const growth = edge.append(entries)
        const size = growth.edge.size
        const checkpoint = signCheckpoint(key.signer, origin, size, growth.edge.root())
        await store.commit({
          state: {
            size,
            compactRange: growth.edge.compactRange().serialize(),
            checkpoint: Buffer.from(checkpoint),
          },
          tiles: growth.tiles,
          entries,
        })
        edge = growth.edge
      }
    } finally {
      await store.close()
    }
    row(
      `  (set-up: ${ENTRIES} signed entries ${held === 0 ? 'written to LevelDB' : 'already there'} in)`,
      (performance.now() - written) / 1000,
      's',
    )

    // Three starts: the first re-reads the log (as after a crash); a SIGTERM saves the map; the second
    // loads that snapshot; the third, with a witness (and so a second map, the one served until the
    // witness cosigned the newest leaf), re-reads the log again.
    const indexKey = logKeyFromSignerKey((await readFile(join(dir, 'index.key'), 'utf8')).trimEnd())
    const logs = join(dir, 'witnessed-logs')
    await writeFile(logs, `log ${key.verifierKey}\nlog ${indexKey.verifierKey}\n`)
    for (const [start, witnessed] of [
      ['first start, the map rebuilt from the log', false],
      ['restart after SIGTERM, from the map snapshot', false],
      ['with a witness (two maps), the map rebuilt from the log', true],
    ] as const) {
      let witness: RunningWitness | undefined
      if (witnessed) {
        await rm(join(dir, 'index-map.snapshot'), { force: true })
        witness = await startWitness({
          ...witnessDefaults(),
          dataDir: join(dir, 'witness'),
          host: '127.0.0.1',
          port: 0,
          name: 'bench.example/witness',
          logsFile: logs,
        })
      }
      const begin = performance.now()
      const server = spawnLog([
        ...['--data', dir, '--port', '0', '--origin', origin, '--index'],
        ...(witness === undefined ? [] : ['--witness', `${witness.url}=${witness.verifierKey}`]),
      ])
      try {
        const url = await server.listening
        const info = async () =>
          ((await (await fetch(`${url}/api/v1/log`)).json()) as { index: { trailing: number } }).index
            .trailing
        while ((await info()) > 0) await new Promise((resolve) => setTimeout(resolve, 20))
        const seconds = (performance.now() - begin) / 1000
        console.log(`log with --index over ${ENTRIES} entries, ${start}:`)
        row('  start until the index covers the log', seconds, 's')
        row('  ... as a rate', ENTRIES / seconds, 'entries/s')
        const status = await readFile(`/proc/${server.child.pid}/status`, 'utf8')
        const mib = (field: string) =>
          Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024
        row('  RSS', mib('VmRSS'), 'MiB')
        row("  ... anonymous (the process's own memory)", mib('RssAnon'), 'MiB')
        row("  ... file-backed (LevelDB's memory-mapped tables, the binary)", mib('RssFile'), 'MiB')
        row('  RSS : 1 GiB', mib('VmRSS') / 1024, '(target <= 1)')
        const e = entry(ENTRIES - 1)
        const res = await fetch(
          `${url}/api/v1/index/lookup?key=${encodeURIComponent(`subject:${e.digests[0]}`)}`,
        )
        const answer = (await res.json()) as { mapProof?: string }
        if (answer.mapProof === undefined)
          throw new Error(`index lookup: ${res.status} ${JSON.stringify(answer)}`)
        row('  served map proof for one subject', Buffer.from(answer.mapProof, 'base64').length, 'bytes')
      } finally {
        await server.stop()
        await witness?.close()
      }
    }
  } finally {
    if (kept === undefined) await rm(dir, { recursive: true, force: true })
  }
}

export async function run(): Promise<void> {
  await ingestWithIndex()
  await logAtScale()
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
  // The map's nodes are typed arrays: outside the JavaScript heap, in arrayBuffers.
  const mapBytes = after.heapUsed - heapBefore.heapUsed + (after.arrayBuffers - heapBefore.arrayBuffers)
  row('  map memory, heap and typed arrays (the entries themselves excluded)', mapBytes / 2 ** 20, 'MiB')
  row('  ... per key', mapBytes / map.size, 'bytes')
  row('  this process RSS (the entries included)', after.rss / 2 ** 20, 'MiB')
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
