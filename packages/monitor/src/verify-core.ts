import {
  AttestationError,
  statementIndexKeys,
  subjectDigestKeys,
  verifyLogEntry,
  type PublicKeyInfo,
} from '@ledger/attestation'

/** What re-verifying one leaf gives: its index keys, or why it failed (an AttestationError code). */
export type EntryOutcome =
  | {
      ok: true
      keyId: string
      digests: string[]
      commits: string[]
      /** Each subject's name and digests, `alg:hex` joined by commas (`sha256:<hex>` for most). */
      subjects: [name: string, digests: string][]
    }
  | { ok: false; code: string; message: string }

/** Parsed keys kept per thread; the log is open, so the cache is bounded (a flood of keys only costs time). */
const MAX_CACHED_KEYS = 10_000

/**
 * Re-verifies one leaf (untrusted bytes) as DESIGN §4 defines it: strict decoding, payload hash, DSSE
 * signature by the leaf's key over the in-toto PAE, statement schema. Never throws.
 */
export function verifyLeaf(leaf: Uint8Array, keyCache: Map<string, PublicKeyInfo>): EntryOutcome {
  if (keyCache.size > MAX_CACHED_KEYS) keyCache.clear()
  try {
    const entry = verifyLogEntry(leaf, { keyCache })
    const keys = statementIndexKeys(entry.statement)
    return {
      ok: true,
      keyId: entry.keyId,
      digests: keys.digests,
      commits: keys.commits,
      subjects: keys.subjects.map((s) => [s.name, subjectDigestKeys(s.digest).join(',')]),
    }
  } catch (err) {
    if (err instanceof AttestationError) return { ok: false, code: err.code, message: err.message }
    return { ok: false, code: 'UNEXPECTED', message: (err as Error).message }
  }
}

/** Leaves packed for a worker message: one buffer (transferred, not copied) and the end of each leaf. */
export interface PackedLeaves {
  data: ArrayBuffer
  ends: number[]
}

export function packLeaves(leaves: readonly Uint8Array[]): PackedLeaves {
  let total = 0
  for (const leaf of leaves) total += leaf.length
  const data = new Uint8Array(total)
  const ends: number[] = []
  let offset = 0
  for (const leaf of leaves) {
    data.set(leaf, offset)
    offset += leaf.length
    ends.push(offset)
  }
  return { data: data.buffer, ends }
}

export function unpackLeaves(packed: PackedLeaves): Uint8Array[] {
  const data = new Uint8Array(packed.data)
  let start = 0
  return packed.ends.map((end) => {
    const leaf = data.subarray(start, end)
    start = end
    return leaf
  })
}
