// Receipts are written as bytes by hand (receipt.ts): they must be the JSON the parts say, whatever the
// proof's length and the checkpoint's text.
import { randomBytes } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { cutAtMarker, entryFields, receiptBytes } from '../src/receipt.js'
import type { TreeHead } from '../src/sequencer.js'

const bundle = {
  mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  verificationMaterial: { publicKey: { hint: 'ab'.repeat(32) }, tlogEntries: '~marker~' },
  dsseEnvelope: {
    payload: 'eyJ9',
    payloadType: 'application/vnd.in-toto+json',
    signatures: [{ sig: 'AAAA' }],
  },
}

function head(size: bigint, origin: string): TreeHead {
  const checkpoint = `${origin}\n${size}\n${randomBytes(32).toString('base64')}\n\n— ${origin} AAAA\n`
  return { size, root: randomBytes(32), checkpoint, checkpointBytes: Buffer.from(checkpoint) }
}

describe('receiptBytes', () => {
  test.each([0, 1, 2, 17, 63])('writes the JSON of its parts, with a proof of %i hashes', (length) => {
    const cut = cutAtMarker(JSON.stringify(bundle), '~marker~')!
    const leaf = randomBytes(700)
    const logId = randomBytes(32).toString('base64')
    const proof = Array.from({ length }, () => new Uint8Array(randomBytes(32)))
    // A non-ASCII origin: the checkpoint part is UTF-8, the rest ASCII.
    const tree = head(9_007_199_254_740_991n, 'log.example/ünïcode')
    const index = 9_007_199_254_740_990n
    const receipt = receiptBytes(
      { head: Buffer.from(cut.head), entry: entryFields(logId, leaf), tail: Buffer.from(cut.tail) },
      index,
      tree,
      proof,
    )
    const parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(receipt)) as typeof bundle & {
      verificationMaterial: { tlogEntries: Record<string, unknown>[] }
    }
    expect(parsed.dsseEnvelope).toEqual(bundle.dsseEnvelope)
    expect(parsed.verificationMaterial.publicKey).toEqual(bundle.verificationMaterial.publicKey)
    expect(parsed.verificationMaterial.tlogEntries).toEqual([
      {
        logIndex: String(index),
        logId: { keyId: logId },
        kindVersion: { kind: 'dsse', version: '0.0.2' },
        integratedTime: '0',
        canonicalizedBody: leaf.toString('base64'),
        inclusionProof: {
          logIndex: String(index),
          rootHash: Buffer.from(tree.root).toString('base64'),
          treeSize: String(tree.size),
          hashes: proof.map((hash) => Buffer.from(hash).toString('base64')),
          checkpoint: { envelope: tree.checkpoint },
        },
      },
    ])
  })
})
