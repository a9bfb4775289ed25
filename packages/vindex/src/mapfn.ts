// MapFn (docs/design/verifiable-index.md §1): the key strings a log entry files under, and the map key of
// a key string.
import { sha256, type Hash } from '@ledger/tlog'

/** What MapFn reads of an entry: the fields the log itself indexes. */
export interface MapFnInput {
  /** Lowercase hex SHA-256 of the signer's SPKI DER. */
  keyId: string
  /** Subject digests as `<alg>:<hex>`. */
  digests: readonly string[]
  /** Source commits (lowercase hex). */
  commits: readonly string[]
}

/** The distinct key strings of one entry, in the order subjects, commits, key. */
export function mapFn(entry: MapFnInput): string[] {
  const keys = new Set<string>()
  for (const digest of entry.digests) keys.add(`subject:${digest}`)
  for (const commit of entry.commits) keys.add(`commit:${commit}`)
  keys.add(`key:${entry.keyId}`)
  return [...keys]
}

const utf8 = new TextEncoder()

/** The map key of a key string: SHA-256 of its UTF-8 bytes. */
export function mapKey(keyString: string): Hash {
  return sha256(utf8.encode(keyString))
}
