// Log entries as the client sees them: leaves off the wire, decoded and verified by @ledger/attestation.
import type { PublicKeyInfo } from '@ledger/attestation/keys.js'
import { verifyLogEntry } from '@ledger/attestation/log-entry.js'
import { statementIndexKeys, type StatementIndexKeys } from '@ledger/attestation/statement.js'
import type { RebuildStatement } from '@ledger/attestation/types.js'

export { IN_TOTO_PAYLOAD_TYPE } from '@ledger/attestation/constants.js'

/** A leaf that verified: DESIGN §4 shape, payload hash, DSSE signature by its key, statement schema. */
export interface VerifiedLeaf {
  keyId: string
  spkiDer: Uint8Array
  payload: Uint8Array
  signature: Uint8Array
  statement: RebuildStatement
  keys: StatementIndexKeys
}

// Parsing a key costs more than verifying with it; a client checking many entries meets few keys.
const keyCache = new Map<string, PublicKeyInfo>()
const KEY_CACHE_LIMIT = 4096

/**
 * Decodes and verifies an untrusted leaf (attestation's verifyLogEntry) and extracts what it names.
 * Throws AttestationError (LEAF_MALFORMED, PAYLOAD_HASH_MISMATCH, BAD_SIGNATURE, STATEMENT_INVALID, ...).
 */
export function verifyEntryLeaf(leaf: Uint8Array): VerifiedLeaf {
  if (keyCache.size > KEY_CACHE_LIMIT) keyCache.clear()
  const entry = verifyLogEntry(leaf, { keyCache })
  return {
    keyId: entry.keyId,
    spkiDer: entry.spkiDer,
    payload: entry.payload,
    signature: entry.signature,
    statement: entry.statement,
    keys: statementIndexKeys(entry.statement),
  }
}
