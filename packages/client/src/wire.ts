// Strict readers for the log's JSON answers. Everything here is untrusted: a missing field, a wrong type
// or a non-canonical encoding is the log answering what no honest log answers (LOG_MISBEHAVING).
import { fromBase64, MAX_TREE_SIZE } from '@ledger/tlog/bytes.js'
import type { Hash } from '@ledger/tlog/hash.js'
import { misbehaving } from './errors.js'

export type JSONObject = Record<string, unknown>

export function asObject(value: unknown, what: string): JSONObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw misbehaving('malformed', `${what} is not a JSON object`)
  }
  return value as JSONObject
}

export function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw misbehaving('malformed', `${what} is not a JSON array`)
  return value
}

export function getString(obj: JSONObject, field: string, what: string): string {
  const value = obj[field]
  if (typeof value !== 'string') throw misbehaving('malformed', `${what}.${field} is not a string`)
  return value
}

export function getOptionalString(obj: JSONObject, field: string, what: string): string | undefined {
  const value = obj[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw misbehaving('malformed', `${what}.${field} is not a string`)
  return value
}

/**
 * Reads an index or size: a JSON number that is a safe non-negative integer, or a canonical decimal string
 * (the protobuf JSON spelling of int64 in Sigstore bundles). Returns a bigint.
 */
export function toIndex(value: unknown, what: string): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value)
  if (typeof value === 'string' && /^(?:0|[1-9][0-9]{0,18})$/.test(value) && BigInt(value) <= MAX_TREE_SIZE) {
    return BigInt(value)
  }
  throw misbehaving('malformed', `${what} is not a canonical index`)
}

export function getIndex(obj: JSONObject, field: string, what: string): bigint {
  return toIndex(obj[field], `${what}.${field}`)
}

export function toBytes(value: unknown, what: string, length?: number): Uint8Array {
  if (typeof value !== 'string') throw misbehaving('malformed', `${what} is not a base64 string`)
  try {
    return fromBase64(value, length)
  } catch (cause) {
    throw misbehaving(
      'malformed',
      `${what} is not canonical base64${length ? ` of ${length} bytes` : ''}`,
      {},
      cause,
    )
  }
}

/**
 * A list of base64 hashes. `decoded`, when given, remembers each text decoded before (the proofs of one
 * page of a batch share most of their nodes: 14,000 texts, 2,000 distinct): the same checks, done once per
 * text. The hashes it returns are shared between the lists, never to be written to.
 */
export function toHashes(value: unknown, what: string, decoded?: Map<string, Hash>): Hash[] {
  const list = asArray(value, what)
  if (list.length > 63) throw misbehaving('malformed', `${what} has more than 63 hashes`)
  return list.map((item, i) => {
    if (decoded === undefined || typeof item !== 'string') return toBytes(item, `${what}[${i}]`, 32)
    let hash = decoded.get(item)
    if (hash === undefined) {
      hash = toBytes(item, `${what}[${i}]`, 32)
      decoded.set(item, hash)
    }
    return hash
  })
}

/** Encodes a path segment or query value; the log's paths are ASCII. */
export function query(
  params: Record<string, string | readonly string[] | bigint | number | undefined>,
): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue
    if (Array.isArray(value)) for (const item of value as readonly string[]) search.append(key, item)
    else search.append(key, String(value))
  }
  const text = search.toString()
  return text === '' ? '' : `?${text}`
}
