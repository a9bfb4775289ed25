import { bundleFromLogEntry } from '@ledger/attestation'
import type { Hash } from '@ledger/tlog'
import type { LogKey } from './log-key.js'
import type { TreeHead } from './sequencer.js'
import { ENTRY_KIND, ENTRY_VERSION } from './trusted-root.js'

const b64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')

/**
 * The Sigstore `TransparencyLogEntry` (protobuf JSON, int64 fields as decimal strings) of the leaf at
 * `index`, with its inclusion proof to `head` and the signed checkpoint as the proof's envelope. There is
 * no signed entry timestamp: `integratedTime` is 0 and verifiers rely on the inclusion proof.
 */
export function tlogEntryJSON(
  key: LogKey,
  index: bigint,
  leaf: Uint8Array,
  head: TreeHead,
  proof: readonly Hash[],
): Record<string, unknown> {
  return {
    logIndex: index.toString(),
    logId: { keyId: b64(key.logId) },
    kindVersion: { kind: ENTRY_KIND, version: ENTRY_VERSION },
    integratedTime: '0',
    canonicalizedBody: b64(leaf),
    inclusionProof: {
      logIndex: index.toString(),
      rootHash: b64(head.root),
      treeSize: head.size.toString(),
      hashes: proof.map(b64),
      checkpoint: { envelope: head.checkpoint },
    },
  }
}

/** The receipt of a new entry: the submitted bundle (as cut by verify-core) with its tlog entry. */
export function receiptFromTemplate(head: string, tail: string, tlogEntry: Record<string, unknown>): string {
  return `${head}[${JSON.stringify(tlogEntry)}]${tail}`
}

/** The receipt of a logged entry: its bundle rebuilt from the leaf, with its tlog entry (DESIGN §4). */
export function receiptFromLeaf(leaf: Uint8Array, tlogEntry: Record<string, unknown>): string {
  const bundle = bundleFromLogEntry(leaf)
  return JSON.stringify({
    ...bundle,
    verificationMaterial: { ...bundle.verificationMaterial, tlogEntries: [tlogEntry] },
  })
}
