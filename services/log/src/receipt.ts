import { bundleFromLogEntry } from '@ledger/attestation'
import type { Hash } from '@ledger/tlog'
import type { TreeHead } from './log-tree.js'

/** The kind and version of our log entries, as Rekor v2 names them (DESIGN §4). */
const ENTRY_KIND = 'dsse'
const ENTRY_VERSION = '0.0.2'

/*
 * A receipt is the submitted Sigstore bundle with `verificationMaterial.tlogEntries[0]` filled: a Sigstore
 * `TransparencyLogEntry` (protobuf JSON, int64 fields as decimal strings) whose inclusion proof carries the
 * signed checkpoint as its envelope. There is no signed entry timestamp: `integratedTime` is 0 and
 * verifiers rely on the inclusion proof. The receipt is written as text from parts: those that depend on
 * the entry alone are made where it is verified (a worker thread), those that depend on the checkpoint
 * once per checkpoint, and only the index and the proof per receipt.
 */

/**
 * The parts of a receipt that depend on the entry alone, as UTF-8 bytes: they cross from the worker in a
 * transferred buffer, and the receipt is assembled and sent as bytes, with no string on the main thread.
 */
export interface ReceiptTemplate {
  /** The bundle JSON text up to the value of `verificationMaterial.tlogEntries`. */
  head: Uint8Array
  /** The tlog entry's fields that do not depend on the checkpoint: logId, kindVersion, ..., canonicalizedBody. */
  entry: Uint8Array
  /** The bundle JSON text after the value of `verificationMaterial.tlogEntries`. */
  tail: Uint8Array
}

const b64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')

/** The checkpoint-dependent fields of the inclusion proof, around its `hashes`. */
interface HeadParts {
  /** ASCII only (base64 and decimal digits). */
  beforeHashes: string
  /** UTF-8: the checkpoint note, which may name a non-ASCII origin. */
  afterHashes: Buffer
}

const headParts = new WeakMap<TreeHead, HeadParts>()

function partsOf(head: TreeHead): HeadParts {
  let parts = headParts.get(head)
  if (parts === undefined) {
    parts = {
      beforeHashes: `"rootHash":"${b64(head.root)}","treeSize":"${head.size}"`,
      afterHashes: Buffer.from(`"checkpoint":{"envelope":${JSON.stringify(head.checkpoint)}}}}]`, 'utf8'),
    }
    headParts.set(head, parts)
  }
  return parts
}

/**
 * The tlog entry fields that depend only on the log (`logIdB64`: base64 SHA-256 of the log key's SPKI) and
 * the leaf, as JSON members without braces, UTF-8.
 */
export function entryFields(logIdB64: string, leaf: Uint8Array): Buffer {
  return Buffer.from(
    `"logId":{"keyId":"${logIdB64}"},"kindVersion":{"kind":"${ENTRY_KIND}","version":"${ENTRY_VERSION}"},` +
      `"integratedTime":"0","canonicalizedBody":"${b64(leaf)}"`,
    'latin1',
  )
}

/**
 * Receipts are cut from shared slabs: over 4 KiB, Buffer.allocUnsafe gives each its own allocation, which
 * cost the main thread more than writing the receipt. A slab lives until its last receipt is sent.
 */
const SLAB_BYTES = 1 << 20
let slab = Buffer.allocUnsafeSlow(0)
let slabUsed = 0

function allocate(length: number): Buffer {
  if (length > SLAB_BYTES / 8) return Buffer.allocUnsafe(length)
  if (slabUsed + length > slab.length) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
    slabUsed = 0
  }
  const out = slab.subarray(slabUsed, slabUsed + length)
  // Keep the next receipt 8-byte aligned, as Buffer's own pool does.
  slabUsed += (length + 7) & ~7
  return out
}

const BASE64_ALPHABET = Buffer.from(
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
  'latin1',
)
/** Base64 length of a 32-byte hash: ten 3-byte groups, then 2 bytes padded to 4 characters. */
const HASH_BASE64_LENGTH = 44

/** Writes `"<base64 of hash>"` (a 32-byte hash) at `out[at]`; returns the offset after it. */
function writeQuotedHash(out: Buffer, at: number, hash: Uint8Array): number {
  out[at++] = 0x22
  let i = 0
  for (; i + 3 <= 30; i += 3) {
    const n = (hash[i]! << 16) | (hash[i + 1]! << 8) | hash[i + 2]!
    out[at++] = BASE64_ALPHABET[n >> 18]!
    out[at++] = BASE64_ALPHABET[(n >> 12) & 63]!
    out[at++] = BASE64_ALPHABET[(n >> 6) & 63]!
    out[at++] = BASE64_ALPHABET[n & 63]!
  }
  const n = (hash[30]! << 16) | (hash[31]! << 8)
  out[at++] = BASE64_ALPHABET[n >> 18]!
  out[at++] = BASE64_ALPHABET[(n >> 12) & 63]!
  out[at++] = BASE64_ALPHABET[(n >> 6) & 63]!
  out[at++] = 0x3d
  out[at++] = 0x22
  return at
}

/**
 * The receipt (UTF-8 JSON) of entry `index` from its template, proved by `proof` into the tree of `head`,
 * whose signed checkpoint (with any cosignatures) it carries. Written into one buffer: this runs once per
 * submission on the main thread.
 */
export function receiptBytes(
  template: ReceiptTemplate,
  index: bigint,
  head: TreeHead,
  proof: readonly Hash[],
): Buffer {
  const parts = partsOf(head)
  // ASCII only: decimal indexes, base64 and JSON punctuation.
  const open = `[{"logIndex":"${index}",`
  const middle = `,"inclusionProof":{"logIndex":"${index}",${parts.beforeHashes},"hashes":[`
  const hashesLength = proof.length === 0 ? 0 : proof.length * (HASH_BASE64_LENGTH + 3) - 1
  const out = allocate(
    template.head.length +
      open.length +
      template.entry.length +
      middle.length +
      hashesLength +
      2 +
      parts.afterHashes.length +
      template.tail.length,
  )
  let at = 0
  out.set(template.head, at)
  at += template.head.length
  at += out.write(open, at, 'latin1')
  out.set(template.entry, at)
  at += template.entry.length
  at += out.write(middle, at, 'latin1')
  for (let i = 0; i < proof.length; i++) {
    if (i > 0) out[at++] = 0x2c
    at = writeQuotedHash(out, at, proof[i]!)
  }
  out[at++] = 0x5d
  out[at++] = 0x2c
  out.set(parts.afterHashes, at)
  at += parts.afterHashes.length
  out.set(template.tail, at)
  at += template.tail.length
  if (at !== out.length) throw new Error(`receipt length ${at}, expected ${out.length}`)
  return out
}

/**
 * Cuts bundle JSON text where its `verificationMaterial.tlogEntries` value is, given that the value was
 * set to the string `marker`, which occurs nowhere else in it. Undefined when the marker is not found once.
 */
export function cutAtMarker(text: string, marker: string): { head: string; tail: string } | undefined {
  const quoted = JSON.stringify(marker)
  const at = text.indexOf(quoted)
  if (at < 0 || text.indexOf(quoted, at + 1) >= 0) return undefined
  return { head: text.slice(0, at), tail: text.slice(at + quoted.length) }
}

/**
 * The receipt of a logged entry: its bundle rebuilt from the leaf (DESIGN §4), with its tlog entry proved
 * into `head`.
 */
export function receiptFromLeaf(
  logIdB64: string,
  leaf: Uint8Array,
  index: bigint,
  head: TreeHead,
  proof: readonly Hash[],
): Buffer {
  const bundle = bundleFromLogEntry(leaf)
  // The rebuilt bundle holds base64, hex and fixed strings only: a marker with '~' cannot occur in it.
  const marker = '~tlogEntries~'
  const text = JSON.stringify({
    ...bundle,
    verificationMaterial: { ...bundle.verificationMaterial, tlogEntries: marker },
  })
  const cut = cutAtMarker(text, marker)!
  return receiptBytes(
    {
      head: Buffer.from(cut.head, 'utf8'),
      entry: entryFields(logIdB64, leaf),
      tail: Buffer.from(cut.tail, 'utf8'),
    },
    index,
    head,
    proof,
  )
}
