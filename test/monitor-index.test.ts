// The monitor's audit of the verifiable index (docs/design/verifiable-index.md §9), against a real log
// with --index on loopback: it rebuilds the map from the log's tiles alone and checks every output leaf.
// The honest log raises no alert, and a second run continues where the first stopped (its state). A log
// that lies about its index (a proxy serving an output log whose last leaf states another map root,
// signed with the real index key read from the data directory) raises index-mismatch, exit 1, with the
// signed evidence: the output checkpoint, the leaf and its inclusion proof, which verify on their own.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildStatement, generateKeyPair, signStatement, type GeneratedKeyPair } from '@ledger/attestation'
import { defaultConfig as logDefaults, startLogServer, type RunningLog } from '@ledger/log-server'
import {
  EXIT_ALERTS,
  EXIT_CLEAN,
  LevelMonitorStore,
  parseConfig,
  runMonitor,
  type Alert,
  type MonitorConfig,
} from '@ledger/monitor'
import {
  decodeEntryBundle,
  encodeCheckpoint,
  encodeEntryBundle,
  entryBundlePath,
  fromBase64,
  hashLeaf,
  openCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  rootFromLeafHashes,
  signNote,
  tilePath,
  verifyInclusion,
} from '@ledger/tlog'
import { decodeOutputLeaf, encodeOutputLeaf } from '@ledger/vindex'

const ORIGIN = 'monitor-index.example/log'
const hex = (n: number, length = 64) => n.toString(16).padStart(length, '0')

let dir: string
let log: RunningLog
let rebuilder: GeneratedKeyPair
let indexKey: string
let submitted = 0

async function submit(count: number): Promise<void> {
  for (let n = 0; n < count; n++, submitted++) {
    const statement = buildStatement({
      artifacts: [{ name: `m-${submitted}.tgz`, sha256: hex(submitted + 1) }],
      source: { uri: 'git+https://github.com/example/project', commit: hex((submitted % 3) + 1, 40) },
      builderId: 'https://rebuilder.example/monitor-index',
    })
    const bundle = await signStatement(statement, rebuilder.privateKeyPem)
    const res = await fetch(`${log.url}/api/v1/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ bundle, publicKey: rebuilder.publicKeyPem }),
    })
    expect(res.status).toBe(201)
    await res.arrayBuffer()
  }
  // The index may trail the log by a step: wait until it covers every entry.
  for (;;) {
    const info = (await (await fetch(`${log.url}/api/v1/log`)).json()) as { index: { trailing: number } }
    if (info.index.trailing === 0) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function config(url: string, data: string): MonitorConfig {
  const request = parseConfig(
    ['--log', url, '--log-key', log.verifierKey, '--data', join(dir, data), '--once'],
    {},
  )
  if (request.kind !== 'run') throw new Error('unexpected help')
  return { ...request.config, workers: 0, sample: 2 }
}

async function run(url: string, data: string): Promise<{ code: number; alerts: Alert[] }> {
  const out: string[] = []
  const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: () => true } }
  const code = await runMonitor(config(url, data), io)
  const alerts = out
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Alert)
  return { code, alerts }
}

async function indexState(data: string) {
  const store = await LevelMonitorStore.open(join(dir, data, 'db'))
  try {
    return await store.readIndexState()
  } finally {
    await store.close()
  }
}

async function outputSize(): Promise<bigint> {
  const text = await (await fetch(`${log.url}/index/checkpoint`)).text()
  return openCheckpoint(text, parseVerifierKey(indexKey)).checkpoint.size
}

/**
 * A proxy over the log that serves, under /index/, an output log whose last leaf states another map root:
 * checkpoint and tiles rebuilt from the real leaves, signed with the real index key.
 */
async function startLyingProxy(): Promise<{ url: string; close(): Promise<void> }> {
  const signer = parseSignerKey((await readFile(join(dir, 'log', 'index.key'), 'utf8')).trim())
  const size = await outputSize()
  const width = Number(size)
  const bundle = await (
    await fetch(`${log.url}/index/${entryBundlePath({ index: 0n, width })}`)
  ).arrayBuffer()
  const leaves = decodeEntryBundle(new Uint8Array(bundle), width)
  const last = decodeOutputLeaf(leaves[width - 1]!)
  const forgedRoot = last.mapRoot.slice()
  forgedRoot[0]! ^= 0xff
  leaves[width - 1] = encodeOutputLeaf({ ...last, mapRoot: forgedRoot })
  const hashes = leaves.map((leaf) => hashLeaf(leaf))
  const body = encodeCheckpoint({
    origin: `${ORIGIN}/index`,
    size,
    root: rootFromLeafHashes(hashes),
    extensions: [],
  })
  const forged = new Map<string, Uint8Array>([
    ['/index/checkpoint', new TextEncoder().encode(signNote(body, [signer]))],
    [`/index/${tilePath({ level: 0, index: 0n, width })}`, Buffer.concat(hashes)],
    [`/index/${entryBundlePath({ index: 0n, width })}`, encodeEntryBundle(leaves)],
  ])
  const server: Server = createServer(async (req, res) => {
    const path = req.url ?? '/'
    const lie = forged.get(path)
    if (lie !== undefined) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      res.end(lie)
      return
    }
    const upstream = await fetch(log.url + path)
    res.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream',
    })
    res.end(Buffer.from(await upstream.arrayBuffer()))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ledger-monitor-index-'))
  rebuilder = await generateKeyPair('ecdsa-p256')
  log = await startLogServer({
    ...logDefaults(),
    dataDir: join(dir, 'log'),
    host: '127.0.0.1',
    port: 0,
    origin: ORIGIN,
    verifyWorkers: 0,
    batchWaitMs: 1,
    index: true,
  })
  indexKey = ((await (await fetch(`${log.url}/api/v1/log`)).json()) as { index: { verifierKey: string } })
    .index.verifierKey
  await submit(6)
})

afterAll(async () => {
  await log?.close()
  await rm(dir, { recursive: true, force: true })
})

describe('the monitor and the verifiable index', () => {
  it('checks every output leaf of an honest log: no alert; a second run continues from its state', async () => {
    const first = await run(log.url, 'honest')
    expect(first.alerts).toEqual([])
    expect(first.code).toBe(EXIT_CLEAN)
    const after = await indexState('honest')
    expect(after?.verifierKey).toBe(indexKey) // advertised by the log, pinned
    expect(after?.checked).toBe(await outputSize())
    expect(after?.inputSize).toBe(6n)

    await submit(5)
    const second = await run(log.url, 'honest')
    expect(second.alerts).toEqual([])
    expect(second.code).toBe(EXIT_CLEAN)
    const later = await indexState('honest')
    expect(later!.checked).toBe(await outputSize())
    expect(later!.checked).toBeGreaterThan(after!.checked)
    expect(later!.inputSize).toBe(11n)
  })

  it('a log whose output leaf states another map root: index-mismatch with the signed evidence, exit 1', async () => {
    const proxy = await startLyingProxy()
    try {
      const { code, alerts } = await run(proxy.url, 'lied-to')
      expect(code).toBe(EXIT_ALERTS)
      expect(alerts.map((a) => a.type)).toEqual(['index-mismatch'])
      const alert = alerts[0] as Extract<Alert, { type: 'index-mismatch' }>
      expect(alert.kind).toBe('root')
      expect(alert.message).toMatch(/the map rebuilt from the log/)
      // The evidence stands on its own: a checkpoint signed by the index key, the leaf included in it.
      const checkpoint = openCheckpoint(alert.checkpoint, parseVerifierKey(indexKey)).checkpoint
      const leaf = fromBase64(alert.leaf)
      verifyInclusion(
        hashLeaf(leaf),
        BigInt(alert.leafIndex),
        checkpoint.size,
        alert.proof.map((p) => fromBase64(p, 32)),
        checkpoint.root,
      )
      expect(Buffer.from(decodeOutputLeaf(leaf).mapRoot).toString('base64')).toBe(alert.claimed!.mapRoot)
      expect(alert.claimed!.mapRoot).not.toBe(alert.expected!.mapRoot)
      expect(alert.claimed!.inputRoot).toBe(alert.expected!.inputRoot)
      expect(BigInt(alert.leafIndex)).toBe(checkpoint.size - 1n)

      // The monitor that checked the honest output log sees two output checkpoints of one size: a fork.
      const honest = await run(proxy.url, 'honest')
      expect(honest.code).toBe(EXIT_ALERTS)
      expect(honest.alerts).toMatchObject([{ type: 'inconsistent-checkpoint', log: 'index', kind: 'fork' }])
    } finally {
      await proxy.close()
    }
  })
})
