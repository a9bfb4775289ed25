import { createPrivateKey, createPublicKey, sign as cryptoSign } from 'node:crypto'
import { bundleFromJSON } from '@sigstore/bundle'
import { Entry } from '@sigstore/protobuf-specs/rekor/v2'
import { signatureContent } from '@sigstore/verify/dist/bundle/index.js'
import { verifyTLogBody } from '@sigstore/verify/dist/tlog/index.js'
import canonicalizeModule from 'canonicalize'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  AttestationError,
  bundleFromLogEntry,
  decodeLogEntry,
  encodeLogEntry,
  MAX_LEAF_SIZE,
  publicKeyFromPEM,
  signPayload,
  signStatement,
  verifyBundle,
  verifyBundleFast,
  verifyLogEntry,
} from '@ledger/attestation'
import type { DSSEBundleJSON, KeyDetails, PublicKeyInfo } from '@ledger/attestation'
import { b64, FIXTURE_KEY_IDS, fixture, KEY_TYPES, sampleStatement, sha256Hex } from './helpers.js'

// canonicalize (RFC 8785, by its author) builds well-formed variants of a leaf; see src/canonical-json.ts.
const canonicalize = ((canonicalizeModule as unknown as { default?: unknown }).default ??
  canonicalizeModule) as (value: unknown) => string

function code(f: () => unknown): string | undefined {
  try {
    f()
  } catch (error) {
    if (error instanceof AttestationError) return error.code
    throw error
  }
  return undefined
}

// The sample statement as RFC 8785 canonical JSON, keys sorted by hand (the payload signStatement writes).
const PAYLOAD =
  '{"_type":"https://in-toto.io/Statement/v1","predicate":{"buildDefinition":{"buildType":' +
  '"https://rebuild-ledger.dev/buildtypes/rebuild/v1","externalParameters":{},"resolvedDependencies":' +
  '[{"digest":{"gitCommit":"0123456789abcdef0123456789abcdef01234567"},"uri":"git+https://github.com/o/r"}]},' +
  '"runDetails":{"builder":{"id":"https://rebuilder.example/b1"}}},"predicateType":' +
  '"https://slsa.dev/provenance/v1","subject":[{"digest":{"sha256":' +
  '"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},"name":"pkg-1.0.0.tgz"}]}'

/** DESIGN §4, with the keys of every object in canonical (sorted) order, written out by hand. */
function leafByHand(payload: Buffer, signature: Buffer, spkiDer: Uint8Array, keyDetails: string): string {
  const digest = Buffer.from(sha256Hex(payload), 'hex').toString('base64')
  return (
    `{"apiVersion":"0.0.2","kind":"dsse","payload":"${b64(payload)}",` +
    `"spec":{"dsseV002":{"payloadHash":{"algorithm":"SHA2_256","digest":"${digest}"},` +
    `"signatures":[{"content":"${b64(signature)}","verifier":{"keyDetails":"${keyDetails}",` +
    `"publicKey":{"rawBytes":"${b64(spkiDer)}"}}}]}}}`
  )
}

const edPublic = (): PublicKeyInfo => publicKeyFromPEM(fixture('ed25519.pub'))
/** An Ed25519 signature (deterministic) over a DSSE PAE built by hand, with node:crypto. */
function edSignature(payload: Buffer): Buffer {
  const pae = Buffer.concat([
    Buffer.from(`DSSEv1 28 application/vnd.in-toto+json ${payload.length} `),
    payload,
  ])
  return cryptoSign(null, pae, createPrivateKey(fixture('ed25519.key')))
}

describe('a fixed statement and a fixed key give stable leaf bytes', () => {
  const payload = Buffer.from(PAYLOAD)
  const signature = edSignature(payload)
  const spkiDer = createPublicKey(fixture('ed25519.pub')).export({ type: 'spki', format: 'der' })
  const expected = leafByHand(payload, signature, spkiDer, 'PKIX_ED25519')

  it('encodeLogEntry writes exactly the hand-built leaf', () => {
    const leaf = encodeLogEntry({ payload, signature, spkiDer, keyDetails: 'PKIX_ED25519' })
    expect(Buffer.from(leaf).toString('utf8')).toBe(expected)
  })

  it('signStatement → verify → encodeLogEntry gives the same bytes end to end', async () => {
    const bundle = await signStatement(sampleStatement(), fixture('ed25519.key'))
    const verified = verifyBundleFast(bundle, fixture('ed25519.pub'))
    const leaf = encodeLogEntry({
      payload: verified.payload,
      signature: verified.signature,
      spkiDer: verified.publicKey.spkiDer,
      keyDetails: verified.publicKey.keyDetails,
    })
    expect(Buffer.from(leaf).toString('utf8')).toBe(expected)
  })

  it('decodeLogEntry gives the parts back, and verifyLogEntry the statement and key id', () => {
    const leaf = Buffer.from(expected)
    const entry = decodeLogEntry(leaf)
    expect(entry.payload).toEqual(payload)
    expect(entry.signature).toEqual(signature)
    expect(entry.spkiDer).toEqual(spkiDer)
    expect(entry.keyDetails).toBe('PKIX_ED25519')
    expect(Buffer.from(entry.payloadHash).toString('hex')).toBe(sha256Hex(payload))
    expect(entry.keyId).toBe(FIXTURE_KEY_IDS.ed25519)
    const verified = verifyLogEntry(leaf)
    expect(verified.statement).toEqual(sampleStatement())
    expect(verified.keyId).toBe(FIXTURE_KEY_IDS.ed25519)
  })

  it('is a Rekor v2 dsse entry as the Sigstore protobuf JSON mapping reads it', () => {
    const entry = Entry.fromJSON(JSON.parse(expected))
    expect(entry.kind).toBe('dsse')
    expect(entry.apiVersion).toBe('0.0.2')
    const spec = entry.spec?.spec
    if (spec?.$case !== 'dsseV002') throw new Error('not a dsseV002 spec')
    expect(Buffer.from(spec.dsseV002.payloadHash!.digest).toString('hex')).toBe(sha256Hex(payload))
    expect(Buffer.from(spec.dsseV002.signatures[0]!.content)).toEqual(signature)
    const verifier = spec.dsseV002.signatures[0]!.verifier!
    if (verifier.verifier?.$case !== 'publicKey') throw new Error('not a public key verifier')
    expect(Buffer.from(verifier.verifier.publicKey.rawBytes!)).toEqual(spkiDer)
  })
})

describe('decodeLogEntry is strict', () => {
  const payload = Buffer.from(PAYLOAD)
  const signature = edSignature(payload)
  const spkiDer = edPublic().spkiDer
  const canonicalText = leafByHand(payload, signature, spkiDer, 'PKIX_ED25519')
  interface LeafJSON {
    apiVersion: unknown
    kind: unknown
    payload: string
    extra?: unknown
    spec: {
      dsseV002: {
        payloadHash: { algorithm: unknown; digest: unknown }
        signatures: {
          content: unknown
          keyid?: unknown
          verifier: { keyDetails: unknown; publicKey: unknown }
        }[]
      }
    }
  }
  const parsed = () => JSON.parse(canonicalText) as LeafJSON
  const canonicalOf = (mutate: (leaf: LeafJSON) => void) => {
    const leaf = parsed()
    mutate(leaf)
    return Buffer.from(canonicalize(leaf))
  }
  const dsse = (leaf: LeafJSON) => leaf.spec.dsseV002
  const keysOutOfOrder = () => {
    const { kind, ...rest } = parsed()
    return Buffer.from(JSON.stringify({ kind, ...rest }))
  }

  it.each([
    ['pretty-printed JSON', Buffer.from(JSON.stringify(parsed(), null, 1)), 'LEAF_MALFORMED'],
    ['keys out of order', keysOutOfOrder(), 'LEAF_MALFORMED'],
    [
      'a needless escape',
      Buffer.from(canonicalText.replace('"kind":"dsse"', '"kind":"\\u0064sse"')),
      'LEAF_MALFORMED',
    ],
    ['a trailing newline', Buffer.from(canonicalText + '\n'), 'LEAF_MALFORMED'],
    [
      'a duplicate key',
      Buffer.from(
        canonicalText.replace('{"apiVersion":"0.0.2",', '{"apiVersion":"0.0.1","apiVersion":"0.0.2",'),
      ),
      'LEAF_MALFORMED',
    ],
    [
      'bytes that are not UTF-8',
      Buffer.concat([Buffer.from(canonicalText.slice(0, -1)), Buffer.from([0xff, 0x7d])]),
      'LEAF_MALFORMED',
    ],
    ['text that is not JSON', Buffer.from(canonicalText.slice(0, -1)), 'LEAF_MALFORMED'],
    ['a JSON array', Buffer.from(`[${canonicalText}]`), 'LEAF_MALFORMED'],
    ['an extra top-level field', canonicalOf((l) => (l.extra = 1)), 'LEAF_MALFORMED'],
    ['an extra signature field', canonicalOf((l) => (dsse(l).signatures[0]!.keyid = 'x')), 'LEAF_MALFORMED'],
    ['no payload', canonicalOf((l) => delete (l as Partial<LeafJSON>).payload), 'LEAF_MALFORMED'],
    ['apiVersion 0.0.1', canonicalOf((l) => (l.apiVersion = '0.0.1')), 'LEAF_MALFORMED'],
    ['kind hashedrekord', canonicalOf((l) => (l.kind = 'hashedrekord')), 'LEAF_MALFORMED'],
    ['two signatures', canonicalOf((l) => dsse(l).signatures.push(dsse(l).signatures[0]!)), 'LEAF_MALFORMED'],
    ['no signature', canonicalOf((l) => (dsse(l).signatures = [])), 'LEAF_MALFORMED'],
    [
      'algorithm SHA2_384',
      canonicalOf((l) => (dsse(l).payloadHash.algorithm = 'SHA2_384')),
      'LEAF_MALFORMED',
    ],
    [
      'a 31-byte payload hash',
      canonicalOf((l) => (dsse(l).payloadHash.digest = b64(Buffer.alloc(31)))),
      'LEAF_MALFORMED',
    ],
    [
      'an RSA keyDetails',
      canonicalOf((l) => (dsse(l).signatures[0]!.verifier.keyDetails = 'PKIX_RSA_PKCS1V15_2048_SHA256')),
      'LEAF_MALFORMED',
    ],
    [
      'keyDetails as a number',
      canonicalOf((l) => (dsse(l).signatures[0]!.verifier.keyDetails = 7)),
      'LEAF_MALFORMED',
    ],
    [
      'a certificate verifier',
      canonicalOf((l) => (dsse(l).signatures[0]!.verifier.publicKey = { x509Certificate: 'AA==' })),
      'LEAF_MALFORMED',
    ],
    [
      'a line break inside the payload base64',
      canonicalOf((l) => (l.payload = l.payload.slice(0, 8) + '\n' + l.payload.slice(8))),
      'LEAF_MALFORMED',
    ],
    ['an empty signature', canonicalOf((l) => (dsse(l).signatures[0]!.content = '')), 'LEAF_MALFORMED'],
    ['a payload that is a number', canonicalOf((l) => (l.payload = 12 as never)), 'LEAF_MALFORMED'],
    ['65,536 bytes', Buffer.alloc(MAX_LEAF_SIZE + 1, 0x20), 'LEAF_TOO_LARGE'],
  ])('refuses %s', (_label, leaf, expected) => {
    expect(code(() => decodeLogEntry(leaf))).toBe(expected)
  })
})

describe('verifyLogEntry', () => {
  const payload = Buffer.from(PAYLOAD)
  const signature = edSignature(payload)
  const key = edPublic()
  const leafOf = (parts: {
    payload?: Buffer
    signature?: Buffer
    spkiDer?: Uint8Array
    keyDetails?: string
  }) =>
    Buffer.from(
      leafByHand(
        parts.payload ?? payload,
        parts.signature ?? signature,
        parts.spkiDer ?? key.spkiDer,
        parts.keyDetails ?? 'PKIX_ED25519',
      ),
    )

  it('refuses a payload hash that is not the payload’s', () => {
    const leaf = JSON.parse(leafOf({}).toString()) as {
      spec: { dsseV002: { payloadHash: { digest: string } } }
    }
    leaf.spec.dsseV002.payloadHash.digest = b64(Buffer.alloc(32))
    expect(code(() => verifyLogEntry(Buffer.from(canonicalize(leaf))))).toBe('PAYLOAD_HASH_MISMATCH')
  })

  it('refuses a signature that does not verify, or by another key', () => {
    const flipped = Buffer.from(signature)
    flipped[0]! ^= 1
    expect(code(() => verifyLogEntry(leafOf({ signature: flipped })))).toBe('BAD_SIGNATURE')
    const other = publicKeyFromPEM(fixture('ecdsa-p256.pub'))
    expect(
      code(() => verifyLogEntry(leafOf({ spkiDer: other.spkiDer, keyDetails: 'PKIX_ECDSA_P256_SHA_256' }))),
    ).toBe('BAD_SIGNATURE')
  })

  it('refuses a signature over the PAE of another payload type', () => {
    const pae = Buffer.concat([Buffer.from(`DSSEv1 16 application/json ${payload.length} `), payload])
    const sig = cryptoSign(null, pae, createPrivateKey(fixture('ed25519.key')))
    expect(code(() => verifyLogEntry(leafOf({ signature: sig })))).toBe('BAD_SIGNATURE')
  })

  it('refuses keyDetails that do not name the key, and keys the ledger does not accept', () => {
    expect(code(() => verifyLogEntry(leafOf({ keyDetails: 'PKIX_ECDSA_P256_SHA_256' })))).toBe(
      'LEAF_MALFORMED',
    )
    const rsaDer = createPublicKey(fixture('rsa-2048.pub')).export({ type: 'spki', format: 'der' })
    expect(
      code(() => verifyLogEntry(leafOf({ spkiDer: rsaDer, keyDetails: 'PKIX_ECDSA_P256_SHA_256' }))),
    ).toBe('KEY_UNSUPPORTED')
    expect(code(() => verifyLogEntry(leafOf({ spkiDer: Buffer.from('not a key') })))).toBe('KEY_MALFORMED')
  })

  it('refuses a signed payload that is not a rebuild statement', () => {
    const bad = Buffer.from(JSON.stringify({ ...sampleStatement(), subject: [] }))
    expect(code(() => verifyLogEntry(leafOf({ payload: bad, signature: edSignature(bad) })))).toBe(
      'STATEMENT_INVALID',
    )
    const text = Buffer.from('not json')
    expect(code(() => verifyLogEntry(leafOf({ payload: text, signature: edSignature(text) })))).toBe(
      'PAYLOAD_NOT_JSON',
    )
  })

  it('fills and uses a key cache', () => {
    const keyCache = new Map<string, PublicKeyInfo>()
    verifyLogEntry(leafOf({}), { keyCache })
    expect([...keyCache.keys()]).toEqual([FIXTURE_KEY_IDS.ed25519])
    // A cached key is trusted by key id: the cache decides, so a poisoned entry shows it is used.
    keyCache.set(FIXTURE_KEY_IDS.ed25519, publicKeyFromPEM(fixture('ecdsa-p256.pub')))
    expect(code(() => verifyLogEntry(leafOf({}), { keyCache }))).toBe('LEAF_MALFORMED')
  })
})

describe('encodeLogEntry writes RFC 8785 canonical JSON (checked against canonicalize)', () => {
  it.each(['PKIX_ECDSA_P256_SHA_256', 'PKIX_ED25519'] as const)('%s, parts of many sizes', (keyDetails) => {
    for (const size of [1, 2, 3, 31, 32, 33, 64, 71, 72, 91, 1000, 4097]) {
      const payload = Buffer.alloc(size, size % 251)
      const signature = Buffer.alloc((size % 80) + 1, 0xfe)
      const spkiDer = Buffer.alloc((size % 97) + 1, 0x2b)
      const body = {
        payload: payload.toString('base64'),
        spec: {
          dsseV002: {
            signatures: [
              {
                verifier: { publicKey: { rawBytes: spkiDer.toString('base64') }, keyDetails },
                content: signature.toString('base64'),
              },
            ],
            payloadHash: {
              digest: Buffer.from(sha256Hex(payload), 'hex').toString('base64'),
              algorithm: 'SHA2_256',
            },
          },
        },
        kind: 'dsse',
        apiVersion: '0.0.2',
      }
      const leaf = encodeLogEntry({ payload, signature, spkiDer, keyDetails })
      expect(Buffer.from(leaf).toString('utf8')).toBe(canonicalize(body))
    }
  })
})

describe('encodeLogEntry limits', () => {
  const key = edPublic()
  const overhead = leafByHand(Buffer.alloc(0), Buffer.alloc(64), key.spkiDer, 'PKIX_ED25519').length
  const base64Length = (n: number) => 4 * Math.ceil(n / 3)

  it('takes the largest leaf that fits in 65,535 bytes and refuses one byte of payload more', () => {
    let n = 0
    while (overhead + base64Length(n + 1) <= MAX_LEAF_SIZE) n++
    const entry = (size: number) => ({
      payload: Buffer.alloc(size, 0x61),
      signature: Buffer.alloc(64, 1),
      spkiDer: key.spkiDer,
      keyDetails: 'PKIX_ED25519' as KeyDetails,
    })
    expect(encodeLogEntry(entry(n)).byteLength).toBe(overhead + base64Length(n))
    // Sizes grow in steps of 4 base64 characters: find the first size over the limit.
    let m = n + 1
    while (overhead + base64Length(m) <= MAX_LEAF_SIZE) m++
    expect(code(() => encodeLogEntry(entry(m)))).toBe('LEAF_TOO_LARGE')
  })

  it('refuses empty parts and unknown keyDetails', () => {
    const good = {
      payload: Buffer.from('x'),
      signature: Buffer.alloc(64),
      spkiDer: key.spkiDer,
      keyDetails: 'PKIX_ED25519' as KeyDetails,
    }
    expect(code(() => encodeLogEntry({ ...good, payload: Buffer.alloc(0) }))).toBe('LEAF_MALFORMED')
    expect(code(() => encodeLogEntry({ ...good, signature: Buffer.alloc(0) }))).toBe('LEAF_MALFORMED')
    expect(code(() => encodeLogEntry({ ...good, keyDetails: 'PKIX_RSA' as KeyDetails }))).toBe(
      'LEAF_MALFORMED',
    )
  })
})

describe('bundleFromLogEntry', () => {
  const signed: Record<string, DSSEBundleJSON> = {}
  beforeAll(async () => {
    for (const type of KEY_TYPES)
      signed[type] = await signStatement(sampleStatement(), fixture(`${type}.key`))
  })
  const leafOfBundle = (bundle: DSSEBundleJSON, pem: string) => {
    const v = verifyBundleFast(bundle, pem)
    return encodeLogEntry({
      payload: v.payload,
      signature: v.signature,
      spkiDer: v.publicKey.spkiDer,
      keyDetails: v.publicKey.keyDetails,
    })
  }

  it.each(KEY_TYPES)('%s: rebuilds exactly the signed bundle, which both verifiers accept', (type) => {
    const leaf = leafOfBundle(signed[type]!, fixture(`${type}.pub`))
    const rebuilt = bundleFromLogEntry(leaf)
    expect(rebuilt).toEqual(signed[type])
    expect(bundleFromLogEntry(decodeLogEntry(leaf))).toEqual(rebuilt)
    expect(verifyBundle(rebuilt, fixture(`${type}.pub`)).keyId).toBe(FIXTURE_KEY_IDS[type])
    expect(verifyBundleFast(rebuilt, fixture(`${type}.pub`)).keyId).toBe(FIXTURE_KEY_IDS[type])
  })

  it('a stock Sigstore verifier matches the leaf with the rebuilt bundle, not with a second signature', async () => {
    const pem = fixture('ecdsa-p256.pub')
    const leaf = leafOfBundle(signed['ecdsa-p256']!, pem)
    const entry = { kindVersion: { kind: 'dsse', version: '0.0.2' }, canonicalizedBody: Buffer.from(leaf) }
    const check = (bundle: DSSEBundleJSON) =>
      verifyTLogBody(entry as never, signatureContent(bundleFromJSON(bundle)))
    expect(() => check(bundleFromLogEntry(leaf))).not.toThrow()
    // ECDSA signs with fresh randomness: the same statement signed again is another signature, which a
    // stock verifier refuses to match with the logged leaf. Hence a dedup answer returns the logged bundle.
    const again = await signStatement(sampleStatement(), fixture('ecdsa-p256.key'))
    expect(again.dsseEnvelope.signatures[0]!.sig).not.toBe(
      signed['ecdsa-p256']!.dsseEnvelope.signatures[0]!.sig,
    )
    expect(() => check(again)).toThrow('signature mismatch')
  })

  it('refuses a malformed leaf', () => {
    expect(code(() => bundleFromLogEntry(Buffer.from('{}')))).toBe('LEAF_MALFORMED')
  })

  it('also serves leaves of payloads the verifier refuses (it rebuilds, it does not judge)', async () => {
    const bundle = await signPayload(Buffer.from('{"a":1}'), fixture('ed25519.key'))
    const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64')
    const leaf = encodeLogEntry({
      payload,
      signature: Buffer.from(bundle.dsseEnvelope.signatures[0]!.sig, 'base64'),
      spkiDer: edPublic().spkiDer,
      keyDetails: 'PKIX_ED25519',
    })
    expect(bundleFromLogEntry(leaf)).toEqual(bundle)
  })
})
