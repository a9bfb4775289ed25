// An independent auditor of a running log, through its public API only, with @ledger/tlog and stock
// @sigstore/verify as the references: the whole log re-read and re-hashed from its entry bundles and hash
// tiles, consistency of any served checkpoint with a later one, and receipts checked the way a Sigstore
// client checks them.
import { bundleFromJSON } from '@sigstore/bundle'
import { PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs'
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify'
import { publicKeyFromPEM } from '@ledger/attestation'
import {
  bytesEqual,
  decodeEntryBundle,
  entryBundlePath,
  entryBundlesForSize,
  hashChildren,
  hashLeaf,
  openCheckpoint,
  parseVerifierKey,
  proveConsistency,
  rootFromLeafHashes,
  tileHashReader,
  tilePath,
  tilesForSize,
  treeRoot,
  trustedTileHashReader,
  verifyConsistency,
  type Hash,
  type SubtreeHashReader,
  type TileId,
} from '@ledger/tlog'
import { fetchGet } from './http.js'

/** GET `url`; throws unless the answer is 200. */
export async function getOk(url: string): Promise<Uint8Array> {
  const res = await fetchGet(url)
  const bytes = res.body
  if (res.status !== 200) {
    throw new Error(`GET ${url}: ${res.status} ${Buffer.from(bytes).toString('utf8').slice(0, 200)}`)
  }
  return bytes
}

export interface AuditedLog {
  /** The signed checkpoint the audit started from (GET /checkpoint), verified. */
  checkpoint: string
  size: bigint
  root: Hash
  /** Every leaf, in index order, from the entry bundles. */
  leaves: Uint8Array[]
}

/** Opens a signed checkpoint with the log's verifier key; returns its size and root. Throws on any fault. */
export function openLogCheckpoint(text: string, verifierKey: string): { size: bigint; root: Hash } {
  const { checkpoint } = openCheckpoint(text, parseVerifierKey(verifierKey))
  return { size: checkpoint.size, root: checkpoint.root }
}

/**
 * The complete-subtree hashes of a tree, level by level, computed from the leaf hashes with hashChildren
 * only: `levels[k][i]` is the hash of leaves [i·2^k, (i+1)·2^k).
 */
function subtreeLevels(leafHashes: readonly Hash[]): Hash[][] {
  const levels: Hash[][] = [leafHashes.slice()]
  for (let k = 1; levels[k - 1]!.length >= 2; k++) {
    const below = levels[k - 1]!
    const level: Hash[] = []
    for (let i = 0; i + 1 < below.length; i += 2) level.push(hashChildren(below[i]!, below[i + 1]!))
    levels.push(level)
  }
  return levels
}

/**
 * Re-reads the whole log through its static API: the checkpoint (signature by `verifierKey`, origin),
 * every entry bundle (exact widths), the root of their leaves against the checkpoint's, and every hash tile
 * of that size (full and partial) byte for byte against hashes recomputed from the leaves, and the root
 * computed from the hash tiles alone against the checkpoint's. Throws an Error naming the first discrepancy.
 */
export async function auditLog(baseUrl: string, verifierKey: string): Promise<AuditedLog> {
  const checkpoint = Buffer.from(await getOk(`${baseUrl}/checkpoint`)).toString('utf8')
  const { size, root } = openLogCheckpoint(checkpoint, verifierKey)
  const bundles = entryBundlesForSize(size)
  const leaves: Uint8Array[] = []
  // A few requests at a time: enough to hide the round trips, few enough to stay polite on a busy machine.
  for (let i = 0; i < bundles.length; i += 8) {
    const slice = bundles.slice(i, i + 8)
    const contents = await Promise.all(slice.map((b) => getOk(`${baseUrl}/${entryBundlePath(b)}`)))
    contents.forEach((bytes, j) => leaves.push(...decodeEntryBundle(bytes, slice[j]!.width)))
  }
  if (BigInt(leaves.length) !== size) throw new Error(`${leaves.length} leaves for size ${size}`)
  const leafHashes = leaves.map((leaf) => hashLeaf(leaf))
  if (!bytesEqual(rootFromLeafHashes(leafHashes), root)) {
    throw new Error(`the entry bundles do not hash to the checkpoint root at size ${size}`)
  }
  const levels = subtreeLevels(leafHashes)
  const tiles = tilesForSize(size)
  for (let i = 0; i < tiles.length; i += 8) {
    const slice = tiles.slice(i, i + 8)
    const contents = await Promise.all(slice.map((t) => getOk(`${baseUrl}/${tilePath(t)}`)))
    contents.forEach((bytes, j) => {
      const tile = slice[j]!
      const nodes = levels[8 * tile.level]!
      const expected = new Uint8Array(tile.width * 32)
      for (let w = 0; w < tile.width; w++) expected.set(nodes[Number(tile.index) * 256 + w]!, w * 32)
      if (!bytesEqual(bytes, expected))
        throw new Error(`${tilePath(tile)} differs from the recomputed hashes`)
    })
  }
  // And the root from the hash tiles alone (the tiles' own right edge, no leaves): the checkpoint's.
  if (size > 0n) {
    const fromTiles = await treeRoot(
      size,
      trustedTileHashReader(size, (ids) => Promise.all(ids.map((t) => getOk(`${baseUrl}/${tilePath(t)}`)))),
    )
    if (!bytesEqual(fromTiles, root))
      throw new Error(`the hash tiles do not hash to the root at size ${size}`)
  }
  return { checkpoint, size, root, leaves }
}

/**
 * A SubtreeHashReader over the log's tiles for the tree of `size` leaves with trusted root `root`: tiles
 * are fetched over HTTP and authenticated against the root by @ledger/tlog's tileHashReader.
 */
export function httpTileReader(baseUrl: string, size: bigint, root: Hash): SubtreeHashReader {
  return tileHashReader(size, root, (tiles: readonly TileId[]) =>
    Promise.all(tiles.map((tile) => getOk(`${baseUrl}/${tilePath(tile)}`))),
  )
}

/**
 * Checks that every checkpoint in `served` (signed notes, any order, duplicates allowed) was signed by the
 * log and is consistent with the tree (`size`, `root`): a consistency proof built from the log's tiles
 * (authenticated against `root`) with proveConsistency, checked with verifyConsistency. Returns the number
 * of distinct checkpoints checked. Throws on the first that is not.
 */
export async function assertConsistentWith(
  baseUrl: string,
  verifierKey: string,
  final: { size: bigint; root: Hash },
  served: Iterable<string>,
): Promise<number> {
  const reader = httpTileReader(baseUrl, final.size, final.root)
  const distinct = new Set(served)
  for (const text of distinct) {
    const old = openLogCheckpoint(text, verifierKey)
    if (old.size > final.size) throw new Error(`checkpoint of size ${old.size} is beyond ${final.size}`)
    const proof = old.size === 0n ? [] : await proveConsistency(old.size, final.size, reader)
    try {
      verifyConsistency(old.size, final.size, proof, old.root, final.root)
    } catch (cause) {
      throw new Error(`checkpoint of size ${old.size} is not consistent with size ${final.size}`, { cause })
    }
  }
  return distinct.size
}

/**
 * Verifies a receipt (a Sigstore bundle with one tlog entry) with stock @sigstore/verify: trust material
 * from the log's published trusted root and the submitter's public key, tlogThreshold 1 (its inclusion
 * proof and signed checkpoint must verify), ctlog and timestamp thresholds 0. Throws when it does not.
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

/** The parts of a receipt's `verificationMaterial.tlogEntries[0]` the tests check. */
export interface ReceiptEntry {
  index: bigint
  leaf: Uint8Array
  /** The signed checkpoint carried by the inclusion proof. */
  checkpoint: string
  treeSize: bigint
  proof: Hash[]
}

/** Reads the tlog entry of a receipt (parsed JSON). Throws when it is missing or misshapen. */
export function receiptEntry(receipt: unknown): ReceiptEntry {
  const entry = (
    receipt as {
      verificationMaterial?: {
        tlogEntries?: {
          logIndex: string
          canonicalizedBody: string
          inclusionProof: { treeSize: string; hashes: string[]; checkpoint: { envelope: string } }
        }[]
      }
    }
  ).verificationMaterial?.tlogEntries?.[0]
  if (entry === undefined) throw new Error('the receipt has no tlog entry')
  return {
    index: BigInt(entry.logIndex),
    leaf: new Uint8Array(Buffer.from(entry.canonicalizedBody, 'base64')),
    checkpoint: entry.inclusionProof.checkpoint.envelope,
    treeSize: BigInt(entry.inclusionProof.treeSize),
    proof: entry.inclusionProof.hashes.map((h) => new Uint8Array(Buffer.from(h, 'base64'))),
  }
}
