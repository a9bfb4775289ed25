// Strict codecs for bytes that come off the wire: only canonical encodings pass, so one value has one text.
import { createHash } from 'node:crypto'

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const utf8Encoder = new TextEncoder()

/** Decodes canonical standard base64 (RFC 4648 §4, padded, unused bits zero); returns undefined otherwise. */
export function decodeBase64(text: string): Buffer | undefined {
  // Buffer decodes leniently (URL-safe letters, missing padding, set padding bits, stray characters), but
  // encodes only the canonical form: a text that survives the round trip unchanged is canonical. This
  // costs a fifth of the regular expression it replaced.
  const bytes = Buffer.from(text, 'base64')
  return bytes.toString('base64') === text ? bytes : undefined
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/** Decodes UTF-8 strictly (no replacement characters, a BOM is kept so JSON.parse rejects it). */
export function decodeUTF8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

export function encodeUTF8(text: string): Uint8Array {
  return utf8Encoder.encode(text)
}

export function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest()
}

export const SHA256_HEX = /^[0-9a-f]{64}$/
export const GIT_COMMIT_HEX = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
