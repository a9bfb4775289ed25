// POST /api/v1/index/lookup: many keys of the verifiable index in one round trip, every key answered
// against ONE output leaf (docs/design/verifiable-index.md §5). The request is validated here, pure.
import { parseJsonObjectBody } from './batch-lookup.js'
import { LogServerError } from './errors.js'

/** The key strings MapFn files entries under (docs/design/verifiable-index.md §1). */
export const INDEX_KEY_RE =
  /^(?:subject:[a-z0-9]{1,16}:[0-9a-f]{40,128}|commit:[0-9a-f]{40,64}|key:[0-9a-f]{64})$/

/** Most keys one batch names (as POST /api/v1/lookup). */
export const MAX_INDEX_BATCH_KEYS = 1000
/** Largest request body: 1,000 sha512 subject keys fit with room to spare. */
export const MAX_INDEX_BATCH_BODY = 256 * 1024
/**
 * Most distinct entries one answer carries. The answer is complete or refused (ANSWER_TOO_LARGE): it
 * cannot leave entries out, so a batch whose keys list more must be asked in smaller batches.
 */
export const MAX_INDEX_BATCH_ENTRIES = 20_000

const INDEX_BATCH_FIELDS = new Set(['keys'])

function malformed(message: string): LogServerError {
  return new LogServerError('MALFORMED_REQUEST', message)
}

/**
 * Validates an untrusted batch body (bytes): a JSON object whose only field, `keys`, is an array of 1 to
 * MAX_INDEX_BATCH_KEYS distinct key strings, each `subject:<alg>:<hex>`, `commit:<hex>` or
 * `key:<key id>`, lowercase. Returns the keys in request order. Throws LogServerError MALFORMED_REQUEST
 * naming the field.
 */
export function parseIndexBatchRequest(body: Uint8Array): string[] {
  const { keys } = parseJsonObjectBody(body, INDEX_BATCH_FIELDS)
  if (!Array.isArray(keys)) throw malformed('keys is not an array of key strings')
  if (keys.length === 0) throw malformed('give at least one key')
  if (keys.length > MAX_INDEX_BATCH_KEYS) throw malformed(`more than ${MAX_INDEX_BATCH_KEYS} keys`)
  const seen = new Set<string>()
  keys.forEach((key: unknown, i) => {
    if (typeof key !== 'string' || !INDEX_KEY_RE.test(key))
      throw malformed(`keys[${i}] is not subject:<alg>:<hex>, commit:<hex> or key:<key id>, lowercase`)
    if (seen.has(key)) throw malformed(`keys[${i}] is repeated`)
    seen.add(key)
  })
  return keys as string[]
}
