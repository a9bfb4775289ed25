import { TlogError } from './errors.js'

/** Largest tree size and index the formats allow (C2SP checkpoints, signed 64-bit in Go and Rekor). */
export const MAX_TREE_SIZE = (1n << 63n) - 1n

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Decodes lowercase hex; `length`, when given, is the exact number of bytes expected. */
export function fromHex(hex: string, length?: number): Uint8Array {
  if (!HEX_RE.test(hex)) throw new TlogError('MALFORMED_HEX', 'not lowercase hex of whole bytes')
  if (length !== undefined && hex.length !== length * 2) {
    throw new TlogError('MALFORMED_HEX', `expected ${length} bytes of hex, got ${hex.length / 2}`)
  }
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/**
 * Decodes canonical standard base64 (RFC 4648 §4): padded, no line breaks, unused bits zero, so that
 * every byte string has exactly one accepted encoding. `length`, when given, is the exact decoded size.
 */
export function fromBase64(text: string, length?: number): Uint8Array {
  // Node decodes leniently (URL-safe letters, missing padding, set unused bits, stray characters) but
  // encodes only the canonical form: a text that survives the round trip unchanged is canonical, which is
  // all a regular expression of the alphabet and padding checked, and more.
  const decoded = Buffer.from(text, 'base64')
  if (decoded.toString('base64') !== text)
    throw new TlogError('MALFORMED_BASE64', 'not canonical padded base64 (RFC 4648 §4, unused bits zero)')
  const bytes = new Uint8Array(decoded)
  if (length !== undefined && bytes.length !== length) {
    throw new TlogError('MALFORMED_BASE64', `expected ${length} bytes, got ${bytes.length}`)
  }
  return bytes
}

const DECIMAL_RE = /^(?:0|[1-9][0-9]{0,18})$/

/** Parses a canonical decimal uint64 no larger than `max` (default 2^63-1): no sign, no leading zeros. */
export function parseDecimal(text: string, max: bigint = MAX_TREE_SIZE): bigint {
  if (!DECIMAL_RE.test(text)) throw new TlogError('MALFORMED_NUMBER', `not a canonical decimal number`)
  const value = BigInt(text)
  if (value > max) throw new TlogError('SIZE_OUT_OF_RANGE', `${text} is above ${max}`)
  return value
}

/** Writes `value` as 8 big-endian bytes. */
export function uint64BE(value: bigint): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, value)
  return out
}
