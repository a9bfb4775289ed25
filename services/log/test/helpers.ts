// Shared helpers of the log server tests: temp data dirs, signed submissions, an independent re-verification
// of the whole log through its public static API, and stock @sigstore/verify for receipts.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bundleFromJSON } from '@sigstore/bundle'
import { PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs'
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify'
import {
  buildStatement,
  generateKeyPair,
  publicKeyFromPEM,
  signStatement,
  type DSSEBundleJSON,
  type GeneratedKeyPair,
  type RebuildStatement,
} from '@ledger/attestation'
import {
  bytesEqual,
  decodeEntryBundle,
  entryBundlePath,
  entryBundlesForSize,
  hashLeaf,
  openCheckpoint,
  parseVerifierKey,
  rootFromLeafHashes,
  tilePath,
  tilesForSize,
  type Hash,
} from '@ledger/tlog'
import { expect } from 'vitest'
import { defaultConfig, type LogConfig } from '../src/config.js'

/** Parsed JSON of an answer: its shape is what the test checks. */
export type Json = ReturnType<typeof JSON.parse>

export const ORIGIN = 'log.test.example/2026'

/** A fresh directory under the OS temp dir, and a function that removes it. */
export async function tempDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'ledger-log-test-'))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

/** A configuration for an in-process test server: port 0, small batches and cache, main-thread verify. */
export function testConfig(dataDir: string, overrides: Partial<LogConfig> = {}): LogConfig {
  return {
    ...defaultConfig(),
    dataDir,
    host: '127.0.0.1',
    port: 0,
    origin: ORIGIN,
    batchSize: 64,
    batchWaitMs: 2,
    verifyWorkers: 0,
    cacheBytes: 4 * 1024 * 1024,
    ...overrides,
  }
}

export const hex = (n: number, length = 64) => n.toString(16).padStart(length, '0')

/** A rebuild statement naming `digests` (64 hex each) as subjects and `commit` (40 hex) as its source. */
export function statement(
  digests: readonly string[],
  commit: string,
  builder = 'https://rebuilder.test',
): RebuildStatement {
  return buildStatement({
    artifacts: digests.map((sha256, i) => ({ name: `artifact-${i}.tgz`, sha256 })),
    source: { uri: 'git+https://github.com/example/project', commit },
    builderId: builder,
  })
}

export interface Signed {
  bundle: DSSEBundleJSON
  key: GeneratedKeyPair
  /** The POST body. */
  body: string
}

export async function signed(
  st: RebuildStatement,
  key: GeneratedKeyPair = generateKeyPair(),
): Promise<Signed> {
  const bundle = await signStatement(st, key.privateKeyPem)
  return { bundle, key, body: JSON.stringify({ bundle, publicKey: key.publicKeyPem }) }
}

export async function post(
  url: string,
  body: string | Uint8Array,
  contentType = 'application/json',
): Promise<{ status: number; json: Json; headers: Headers }> {
  const res = await fetch(`${url}/api/v1/entries`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  })
  const text = await res.text()
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text), headers: res.headers }
}

export async function getJSON(url: string): Promise<{ status: number; json: Json; headers: Headers }> {
  const res = await fetch(url)
  return { status: res.status, json: await res.json(), headers: res.headers }
}

export async function getBytes(
  url: string,
): Promise<{ status: number; bytes: Uint8Array; headers: Headers }> {
  const res = await fetch(url)
  return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()), headers: res.headers }
}

export async function checkpointText(url: string): Promise<string> {
  const res = await fetch(`${url}/checkpoint`)
  expect(res.status).toBe(200)
  return res.text()
}

/**
 * Re-verifies the whole log through its static API only, with @ledger/tlog as the independent
 * reference: the checkpoint's signature (log key) and origin; every entry bundle decodes; the root of
 * their leaves is the checkpoint's root; every hash tile (full and partial) is byte-exact the hashes
 * recomputed from the leaves. Returns the size, root and leaves.
 */
export async function verifyWholeLog(
  url: string,
  verifierKey: string,
): Promise<{ size: bigint; root: Hash; leaves: Uint8Array[]; checkpoint: string }> {
  const checkpoint = await checkpointText(url)
  const opened = openCheckpoint(checkpoint, parseVerifierKey(verifierKey))
  const { size, root } = opened.checkpoint
  const leaves: Uint8Array[] = []
  for (const bundle of entryBundlesForSize(size)) {
    const got = await getBytes(`${url}/${entryBundlePath(bundle)}`)
    expect(got.status, entryBundlePath(bundle)).toBe(200)
    leaves.push(...decodeEntryBundle(got.bytes, bundle.width))
  }
  expect(BigInt(leaves.length)).toBe(size)
  const leafHashes = leaves.map((leaf) => hashLeaf(leaf))
  expect(bytesEqual(rootFromLeafHashes(leafHashes), root)).toBe(true)
  for (const tile of tilesForSize(size)) {
    const got = await getBytes(`${url}/${tilePath(tile)}`)
    expect(got.status, tilePath(tile)).toBe(200)
    const span = 1 << (8 * tile.level)
    const expected = new Uint8Array(tile.width * 32)
    for (let i = 0; i < tile.width; i++) {
      const first = (Number(tile.index) * 256 + i) * span
      expected.set(rootFromLeafHashes(leafHashes.slice(first, first + span)), i * 32)
    }
    expect(bytesEqual(got.bytes, expected), tilePath(tile)).toBe(true)
  }
  return { size, root, leaves, checkpoint }
}

/**
 * Verifies a receipt with stock @sigstore/verify: trust material from the log's published trusted root
 * and the submitter's public key, tlogThreshold 1 (the receipt's inclusion proof and checkpoint must
 * verify), ctlog and timestamp thresholds 0. Throws when it does not verify.
 */
export function verifyReceiptWithSigstore(
  receipt: unknown,
  trustedRoot: unknown,
  publicKeyPem: string,
): void {
  const key = publicKeyFromPEM(publicKeyPem)
  const details =
    key.keyDetails === 'PKIX_ED25519'
      ? PublicKeyDetails.PKIX_ED25519
      : PublicKeyDetails.PKIX_ECDSA_P256_SHA_256
  const material = toTrustMaterial(TrustedRoot.fromJSON(trustedRoot), {
    [key.keyId]: { rawBytes: Buffer.from(key.spkiDer), keyDetails: details, validFor: undefined },
  })
  const verifier = new Verifier(material, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 0 })
  verifier.verify(toSignedEntity(bundleFromJSON(receipt)))
}
