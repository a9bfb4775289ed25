import { bundleFromLogEntry } from '@ledger/attestation'
import type { Hash } from '@ledger/tlog'
import type { TreeHead } from './sequencer.js'

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
 * The receipt (UTF-8 JSON) of entry `index` from its template, proved by `proof` into the tree of `head`,
 * whose signed checkpoint (with any cosignatures) it carries.
 */
export function receiptBytes(
  template: ReceiptTemplate,
  index: bigint,
  head: TreeHead,
  proof: readonly Hash[],
): Buffer {
  const parts = partsOf(head)
  let hashes = ''
  for (let i = 0; i < proof.length; i++) hashes += `${i === 0 ? '' : ','}"${b64(proof[i]!)}"`
  // The strings here are ASCII: decimal indexes, base64 and JSON punctuation.
  return Buffer.concat([
    template.head,
    Buffer.from(`[{"logIndex":"${index}",`, 'latin1'),
    template.entry,
    Buffer.from(
      `,"inclusionProof":{"logIndex":"${index}",${parts.beforeHashes},"hashes":[${hashes}],`,
      'latin1',
    ),
    parts.afterHashes,
    template.tail,
  ])
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
