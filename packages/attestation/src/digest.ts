// Subject digests (DESIGN §3): the in-toto digest-set algorithms the ledger indexes, and the spellings an
// installer meets them in (`alg:hex`, bare sha256 hex, Subresource Integrity `alg-base64`). Pure.
import { createHash } from 'node:crypto'
import { AttestationError } from './errors.js'

/** The digest algorithms a subject may carry, by their in-toto digest-set names; blake2b is BLAKE2b-512. */
export const DIGEST_ALGORITHMS = ['sha256', 'sha384', 'sha512', 'blake2b'] as const
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number]

/** Length in bytes of each algorithm's digest. */
export const DIGEST_LENGTHS: Readonly<Record<DigestAlgorithm, number>> = {
  sha256: 32,
  sha384: 48,
  sha512: 64,
  blake2b: 64,
}

/** node:crypto's name of each algorithm. */
const NODE_HASH: Readonly<Record<DigestAlgorithm, string>> = {
  sha256: 'sha256',
  sha384: 'sha384',
  sha512: 'sha512',
  blake2b: 'blake2b512',
}

/** A subject's digests restricted to the ledger's algorithms: algorithm to lowercase hex. */
export type SubjectDigests = Partial<Record<DigestAlgorithm, string>>

/** One (algorithm, value) pair: what the log indexes and what a lookup asks for. */
export interface Digest {
  algorithm: DigestAlgorithm
  /** Lowercase hex of DIGEST_LENGTHS[algorithm] bytes. */
  hex: string
}

const HEX_PATTERNS: Readonly<Record<DigestAlgorithm, RegExp>> = {
  sha256: /^[0-9a-f]{64}$/,
  sha384: /^[0-9a-f]{96}$/,
  sha512: /^[0-9a-f]{128}$/,
  blake2b: /^[0-9a-f]{128}$/,
}

export function isDigestAlgorithm(name: string): name is DigestAlgorithm {
  return (DIGEST_ALGORITHMS as readonly string[]).includes(name)
}

/** True when `hex` is the lowercase hex of a digest of `algorithm`. */
export function isDigestHex(algorithm: DigestAlgorithm, hex: string): boolean {
  return HEX_PATTERNS[algorithm].test(hex)
}

/** `alg:hex`, the spelling of the log's index and lookup API. */
export function formatDigest(digest: Digest): string {
  return `${digest.algorithm}:${digest.hex}`
}

/**
 * Parses the canonical `alg:hex` spelling (lowercase hex, an accepted algorithm): the log's API and the
 * client take only this. Returns undefined for anything else.
 */
export function parseCanonicalDigest(text: string): Digest | undefined {
  const colon = text.indexOf(':')
  if (colon < 0) return undefined
  const algorithm = text.slice(0, colon)
  const hex = text.slice(colon + 1)
  if (!isDigestAlgorithm(algorithm) || !isDigestHex(algorithm, hex)) return undefined
  return { algorithm, hex }
}

/** SRI's spellings of the algorithms (W3C Subresource Integrity names sha256, sha384, sha512). */
const SRI_RE = /^(sha256|sha384|sha512|blake2b)-([A-Za-z0-9+/]+={0,2})$/

/**
 * Parses a digest as people and ecosystems write it: `alg:hex` (hex in either case, normalised to
 * lowercase), bare 64 hex (sha256), or an SRI string `alg-<base64>` (npm's `integrity`; an SRI value with
 * several space-separated hashes is refused: pick one). Untrusted input; throws AttestationError
 * DIGEST_INVALID naming what is wrong (an algorithm outside DIGEST_ALGORITHMS such as sha1 or md5, a
 * wrong length, non-hex or non-canonical base64).
 */
export function parseDigest(text: string): Digest {
  const fail = (why: string): never => {
    throw new AttestationError('DIGEST_INVALID', `digest ${JSON.stringify(text)}: ${why}`)
  }
  if (/^[0-9a-fA-F]{64}$/.test(text)) return { algorithm: 'sha256', hex: text.toLowerCase() }
  const colon = text.indexOf(':')
  if (colon > 0) {
    const algorithm = text.slice(0, colon).toLowerCase()
    if (!isDigestAlgorithm(algorithm))
      return fail(`algorithm ${algorithm} is not one of ${DIGEST_ALGORITHMS.join(', ')}`)
    const hex = text.slice(colon + 1).toLowerCase()
    if (!isDigestHex(algorithm, hex)) return fail(`not ${DIGEST_LENGTHS[algorithm] * 2} hex digits`)
    return { algorithm, hex }
  }
  const dash = text.indexOf('-')
  if (dash > 0) {
    const match = SRI_RE.exec(text)
    if (match === null) {
      const algorithm = text.slice(0, dash)
      if (!isDigestAlgorithm(algorithm))
        return fail(`algorithm ${algorithm} is not one of ${DIGEST_ALGORITHMS.join(', ')}`)
      return fail('not an SRI string alg-<base64>')
    }
    const algorithm = match[1] as DigestAlgorithm
    const bytes = Buffer.from(match[2]!, 'base64')
    if (bytes.toString('base64') !== match[2] || bytes.length !== DIGEST_LENGTHS[algorithm]) {
      return fail(`not the canonical base64 of ${DIGEST_LENGTHS[algorithm]} bytes`)
    }
    return { algorithm, hex: bytes.toString('hex') }
  }
  return fail('expected alg:hex, 64 hex digits (sha256) or an SRI string alg-<base64>')
}

/** The SRI spelling `alg-<base64>` of a digest. */
export function toSRI(digest: Digest): string {
  return `${digest.algorithm}-${Buffer.from(digest.hex, 'hex').toString('base64')}`
}

/** An incremental hash of several algorithms at once over the same bytes. */
export interface MultiHash {
  update(chunk: Uint8Array): void
  /** The digests, lowercase hex, in the order asked. Call once. */
  digest(): SubjectDigests
}

/** Starts hashing with each of `algorithms` (e.g. a file read in chunks). */
export function multiHash(algorithms: readonly DigestAlgorithm[]): MultiHash {
  const hashes = algorithms.map((algorithm) => [algorithm, createHash(NODE_HASH[algorithm])] as const)
  return {
    update(chunk) {
      for (const [, hash] of hashes) hash.update(chunk)
    },
    digest() {
      const out: SubjectDigests = {}
      for (const [algorithm, hash] of hashes) out[algorithm] = hash.digest('hex')
      return out
    },
  }
}

/** The digests of `bytes` with each of `algorithms`. */
export function digestBytes(bytes: Uint8Array, algorithms: readonly DigestAlgorithm[]): SubjectDigests {
  const hash = multiHash(algorithms)
  hash.update(bytes)
  return hash.digest()
}

/** The subject's digests of the accepted algorithms, in DIGEST_ALGORITHMS order, as `alg:hex`. */
export function subjectDigestKeys(digests: SubjectDigests): string[] {
  const out: string[] = []
  for (const algorithm of DIGEST_ALGORITHMS) {
    const hex = digests[algorithm]
    if (hex !== undefined) out.push(`${algorithm}:${hex}`)
  }
  return out
}

/**
 * The first algorithm both digest sets name with different values, or undefined when they agree on every
 * algorithm they share (DESIGN §8: a conflict is a difference in an algorithm both name).
 */
export function digestsDiffer(a: SubjectDigests, b: SubjectDigests): DigestAlgorithm | undefined {
  for (const algorithm of DIGEST_ALGORITHMS) {
    const x = a[algorithm]
    const y = b[algorithm]
    if (x !== undefined && y !== undefined && x !== y) return algorithm
  }
  return undefined
}
