import { createPublicKey, verify as cryptoVerify } from 'node:crypto'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  AttestationError,
  dssePAE,
  generateKeyPair,
  IN_TOTO_PAYLOAD_TYPE,
  privateKeyFromPEM,
  publicKeyFromPEM,
  signPayload,
  signStatement,
  validateSubmission,
  verifyBundle,
  verifyBundleFast,
  verifyDSSE,
  verifySubmission,
} from '@ledger/attestation'
import type { DSSEBundleJSON, PublicKeyInfo } from '@ledger/attestation'
import { b64, FIXTURE_KEY_IDS, fixture, KEY_TYPES, sampleStatement, vectorFile } from './helpers.js'

type KeyType = (typeof KEY_TYPES)[number]

function code(f: () => unknown): string | undefined {
  try {
    f()
  } catch (error) {
    if (error instanceof AttestationError) return error.code
    throw error
  }
  return undefined
}

/** The outcome of both verifiers on one bundle: they must agree, and this returns the common answer. */
function bothVerifiers(bundle: unknown, key: string | PublicKeyInfo): string {
  const reference = code(() => verifyBundle(bundle, key)) ?? 'OK'
  const fast = code(() => verifyBundleFast(bundle, key)) ?? 'OK'
  expect(fast).toBe(reference)
  return reference
}

const clone = (bundle: DSSEBundleJSON): DSSEBundleJSON => structuredClone(bundle)
const algorithmOf = (type: KeyType) => (type === 'ed25519' ? null : 'sha256')

const signed: Record<KeyType, DSSEBundleJSON> = {} as never
beforeAll(async () => {
  for (const type of KEY_TYPES) signed[type] = await signStatement(sampleStatement(), fixture(`${type}.key`))
})

describe('DSSE PAE', () => {
  it('matches the example of the DSSE protocol spec', () => {
    // github.com/secure-systems-lab/dsse protocol.md: PAE("http://example.com/HelloWorld", "hello world").
    expect(dssePAE('http://example.com/HelloWorld', Buffer.from('hello world')).toString('utf8')).toBe(
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
    )
  })
  it('counts bytes, not characters', () => {
    expect(dssePAE('t/é', Buffer.from('ü')).toString('utf8')).toBe('DSSEv1 4 t/é 2 ü')
  })
})

describe.each(KEY_TYPES)('%s', (type) => {
  const publicPem = fixture(`${type}.pub`)

  it('signStatement → verifyBundle and verifyBundleFast give back the statement and the key id', () => {
    const bundle = signed[type]
    for (const verify of [verifyBundle, verifyBundleFast]) {
      const result = verify(bundle, publicPem)
      expect(result.statement).toEqual(sampleStatement())
      expect(result.keyId).toBe(FIXTURE_KEY_IDS[type])
      expect(result.publicKey.keyId).toBe(FIXTURE_KEY_IDS[type])
    }
  })

  it('produces a Sigstore bundle v0.3 that the submission schema accepts, hint = key id, no tlog entries', () => {
    const bundle = signed[type]
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json')
    expect(bundle.verificationMaterial.publicKey.hint).toBe(FIXTURE_KEY_IDS[type])
    expect(bundle.verificationMaterial.tlogEntries ?? []).toEqual([])
    expect(bundle.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json')
    expect(bundle.dsseEnvelope.signatures).toHaveLength(1)
    expect(validateSubmission({ bundle, publicKey: publicPem }).bundle).toBe(bundle)
  })

  it('signs the PAE as DSSE defines it: node:crypto verifies the signature over a PAE built here by hand', () => {
    const bundle = signed[type]
    const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64')
    const sig = Buffer.from(bundle.dsseEnvelope.signatures[0]!.sig, 'base64')
    const pae = Buffer.concat([
      Buffer.from(`DSSEv1 28 application/vnd.in-toto+json ${payload.length} `, 'ascii'),
      payload,
    ])
    expect(cryptoVerify(algorithmOf(type), pae, createPublicKey(publicPem), sig)).toBe(true)
    expect(dssePAE(IN_TOTO_PAYLOAD_TYPE, payload)).toEqual(pae)
    if (type === 'ecdsa-p256')
      expect(sig[0]).toBe(0x30) // a DER SEQUENCE, not IEEE P1363 r||s
    else expect(sig).toHaveLength(64)
  })

  it('the payload is the statement as RFC 8785 canonical JSON', () => {
    const payload = Buffer.from(signed[type].dsseEnvelope.payload, 'base64').toString('utf8')
    // Keys sorted by hand at every level.
    expect(payload).toBe(
      '{"_type":"https://in-toto.io/Statement/v1","predicate":{"buildDefinition":{"buildType":' +
        '"https://rebuild-ledger.dev/buildtypes/rebuild/v1","externalParameters":{},"resolvedDependencies":' +
        '[{"digest":{"gitCommit":"0123456789abcdef0123456789abcdef01234567"},"uri":"git+https://github.com/o/r"}]},' +
        '"runDetails":{"builder":{"id":"https://rebuilder.example/b1"}}},"predicateType":' +
        '"https://slsa.dev/provenance/v1","subject":[{"digest":{"sha256":' +
        '"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},"name":"pkg-1.0.0.tgz"}]}',
    )
  })

  it('verifyDSSE agrees with node:crypto on the signed envelope and rejects a key of the other type', () => {
    const bundle = signed[type]
    const key = publicKeyFromPEM(publicPem)
    const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64')
    const sig = Buffer.from(bundle.dsseEnvelope.signatures[0]!.sig, 'base64')
    expect(verifyDSSE(payload, sig, key.keyObject, key.keyDetails)).toBe(true)
    expect(verifyDSSE(payload, sig, key.keyObject, key.keyDetails, 'application/json')).toBe(false)
    const other = type === 'ed25519' ? 'PKIX_ECDSA_P256_SHA_256' : 'PKIX_ED25519'
    expect(verifyDSSE(payload, sig, key.keyObject, other)).toBe(false)
    expect(verifyDSSE(payload, Buffer.alloc(0), key.keyObject, key.keyDetails)).toBe(false)
  })

  describe('each failure has its code, the same from both verifiers', () => {
    const otherType: KeyType = type === 'ed25519' ? 'ecdsa-p256' : 'ed25519'
    const cases: [string, () => Promise<unknown> | unknown, string][] = [
      [
        'a flipped signature bit',
        () => mutateSig(signed[type], (s) => (s[s.length - 1]! ^= 1)),
        'BAD_SIGNATURE',
      ],
      [
        'another valid statement under the old signature',
        () => {
          const b = clone(signed[type])
          b.dsseEnvelope.payload = b64(JSON.stringify(sampleStatement({ commit: 'f'.repeat(40) })))
          return b
        },
        'BAD_SIGNATURE',
      ],
      [
        'a bundle signed by another key whose hint claims this key',
        async () => {
          const b = await signStatement(sampleStatement(), generateKeyPair(type).privateKeyPem)
          b.verificationMaterial.publicKey.hint = FIXTURE_KEY_IDS[type]
          b.dsseEnvelope.signatures[0]!.keyid = ''
          return b
        },
        'BAD_SIGNATURE',
      ],
      ['a bundle of the other fixture key', () => signed[otherType], 'WRONG_KEY'],
      [
        'an envelope keyid naming another key',
        () => {
          const b = clone(signed[type])
          b.dsseEnvelope.signatures[0]!.keyid = FIXTURE_KEY_IDS[otherType]
          return b
        },
        'WRONG_KEY',
      ],
      [
        'an application/json payload type',
        () =>
          signPayload(
            Buffer.from(JSON.stringify(sampleStatement())),
            fixture(`${type}.key`),
            'application/json',
          ),
        'WRONG_PAYLOAD_TYPE',
      ],
      [
        'two signatures',
        () => {
          const b = clone(signed[type])
          b.dsseEnvelope.signatures.push(b.dsseEnvelope.signatures[0]!)
          return b
        },
        'SIGNATURE_COUNT',
      ],
      [
        'no signature',
        () => {
          const b = clone(signed[type])
          b.dsseEnvelope.signatures = []
          return b
        },
        'SIGNATURE_COUNT',
      ],
      [
        'a payload that is not JSON',
        () => signPayload(Buffer.from('hello'), fixture(`${type}.key`)),
        'PAYLOAD_NOT_JSON',
      ],
      [
        'a statement without the rebuild rules',
        () =>
          signPayload(
            Buffer.from(
              JSON.stringify({ ...sampleStatement(), predicateType: 'https://slsa.dev/provenance/v0.2' }),
            ),
            fixture(`${type}.key`),
          ),
        'STATEMENT_INVALID',
      ],
      [
        'an uppercase subject digest',
        () =>
          signPayload(
            Buffer.from(JSON.stringify(sampleStatement({ sha256: 'AB'.repeat(32) }))),
            fixture(`${type}.key`),
          ),
        'DIGEST_INVALID',
      ],
      ['a JSON array', () => [signed[type]], 'BUNDLE_MALFORMED'],
      [
        'a v0.2 media type',
        () => ({ ...clone(signed[type]), mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2' }),
        'BUNDLE_MALFORMED',
      ],
      [
        'a certificate instead of a public key',
        () => {
          const b = clone(signed[type]) as unknown as { verificationMaterial: Record<string, unknown> }
          b.verificationMaterial = { certificate: { rawBytes: 'MIIB' } }
          return b
        },
        'BUNDLE_MALFORMED',
      ],
      [
        'a message signature',
        () => {
          const { dsseEnvelope: _e, ...rest } = clone(signed[type])
          return {
            ...rest,
            messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: 'AA==' }, signature: 'AA==' },
          }
        },
        'BUNDLE_MALFORMED',
      ],
      [
        'a payload in non-canonical base64 (a line break inside)',
        () => {
          const b = clone(signed[type])
          b.dsseEnvelope.payload = b.dsseEnvelope.payload.slice(0, 8) + '\n' + b.dsseEnvelope.payload.slice(8)
          return b
        },
        // The same bytes to a lenient decoder (Buffer, hence @sigstore's own parser); both verifiers refuse it.
        'BUNDLE_MALFORMED',
      ],
      [
        'an empty sig',
        () => {
          const b = clone(signed[type])
          b.dsseEnvelope.signatures[0]!.sig = ''
          return b
        },
        'BUNDLE_MALFORMED',
      ],
    ]
    it.each(cases)('%s', async (_label, make, expected) => {
      expect(bothVerifiers(await make(), publicPem)).toBe(expected)
    })

    it('a key that is not PEM, or of an unsupported type', () => {
      expect(bothVerifiers(signed[type], 'not a key')).toBe('KEY_MALFORMED')
      expect(bothVerifiers(signed[type], fixture('rsa-2048.pub'))).toBe('KEY_UNSUPPORTED')
    })
  })

  it('statements are checked before signing', async () => {
    await expect(
      signStatement({ ...sampleStatement(), subject: [] }, fixture(`${type}.key`)),
    ).rejects.toMatchObject({
      code: 'STATEMENT_INVALID',
    })
    await expect(
      signStatement(sampleStatement({ commit: 'XYZ' }), fixture(`${type}.key`)),
    ).rejects.toMatchObject({
      code: 'DIGEST_INVALID',
    })
  })

  it('tlog entries: @sigstore/verify checks them against its trust material (TLOG_INVALID), signatureOnly skips them', () => {
    const b = clone(signed[type])
    b.verificationMaterial.tlogEntries = [
      {
        logIndex: '0',
        logId: { keyId: b64(Buffer.alloc(32)) },
        kindVersion: { kind: 'dsse', version: '0.0.2' },
        integratedTime: '0',
        inclusionProof: {
          logIndex: '0',
          rootHash: b64(Buffer.alloc(32)),
          treeSize: '1',
          hashes: [],
          checkpoint: { envelope: 'x' },
        },
        canonicalizedBody: b64('{}'),
      },
    ]
    expect(code(() => verifyBundle(b, publicPem))).toBe('TLOG_INVALID')
    expect(verifyBundle(b, publicPem, { signatureOnly: true }).keyId).toBe(FIXTURE_KEY_IDS[type])
    // The fast path never trusts (or checks) tlog entries: it verifies the signature alone.
    expect(verifyBundleFast(b, publicPem).keyId).toBe(FIXTURE_KEY_IDS[type])
  })

  it('property: under random corruption of payload or signature bytes both verifiers give the same answer', () => {
    const key = publicKeyFromPEM(publicPem)
    const original = signed[type]
    fc.assert(
      fc.property(fc.boolean(), fc.nat(), fc.integer({ min: 0, max: 7 }), (inPayload, at, bit) => {
        const b = clone(original)
        if (inPayload) {
          const payload = Buffer.from(b.dsseEnvelope.payload, 'base64')
          payload[at % payload.length]! ^= 1 << bit
          b.dsseEnvelope.payload = b64(payload)
        } else {
          const sig = Buffer.from(b.dsseEnvelope.signatures[0]!.sig, 'base64')
          sig[at % sig.length]! ^= 1 << bit
          b.dsseEnvelope.signatures[0]!.sig = b64(sig)
        }
        // Any flipped bit breaks the signature; both must say so, with the same code.
        expect(bothVerifiers(b, key)).toBe('BAD_SIGNATURE')
      }),
      { numRuns: 150 },
    )
  })
})

function mutateSig(bundle: DSSEBundleJSON, mutate: (sig: Buffer) => void): DSSEBundleJSON {
  const b = clone(bundle)
  const sig = Buffer.from(b.dsseEnvelope.signatures[0]!.sig, 'base64')
  mutate(sig)
  b.dsseEnvelope.signatures[0]!.sig = b64(sig)
  return b
}

describe('ECDSA malleability', () => {
  // P-256 group order (SEC 2, §2.4.2).
  const N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')
  const derInteger = (value: bigint): Buffer => {
    let hex = value.toString(16)
    if (hex.length % 2) hex = '0' + hex
    let bytes = Buffer.from(hex, 'hex')
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes])
    return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes])
  }

  it('both verifiers accept (s → n − s), the second signature the log must dedupe (DESIGN §4)', () => {
    const b = clone(signed['ecdsa-p256'])
    const sig = Buffer.from(b.dsseEnvelope.signatures[0]!.sig, 'base64')
    // SEQUENCE { INTEGER r, INTEGER s }, short-form lengths for P-256.
    const rLength = sig[3]!
    const r = BigInt('0x' + sig.subarray(4, 4 + rLength).toString('hex'))
    const s = BigInt('0x' + sig.subarray(6 + rLength).toString('hex'))
    const body = Buffer.concat([derInteger(r), derInteger(N - s)])
    const malleated = Buffer.concat([Buffer.from([0x30, body.length]), body])
    expect(malleated.equals(sig)).toBe(false)
    b.dsseEnvelope.signatures[0]!.sig = b64(malleated)
    expect(bothVerifiers(b, fixture('ecdsa-p256.pub'))).toBe('OK')
  })
})

describe('verifySubmission (the server fast path)', () => {
  it('accepts a valid body, resolving the key through the given function', () => {
    const seen: string[] = []
    const body = { bundle: signed['ecdsa-p256'], publicKey: fixture('ecdsa-p256.pub') }
    const result = verifySubmission(body, (pem) => {
      seen.push(pem)
      return publicKeyFromPEM(pem)
    })
    expect(result.keyId).toBe(FIXTURE_KEY_IDS['ecdsa-p256'])
    expect(seen).toEqual([fixture('ecdsa-p256.pub')])
  })

  it('refuses by schema, key and signature', () => {
    const publicKey = fixture('ecdsa-p256.pub')
    expect(code(() => verifySubmission({ bundle: signed['ecdsa-p256'], publicKey, x: 1 }))).toBe(
      'SCHEMA_INVALID',
    )
    expect(
      code(() => verifySubmission({ bundle: signed['ecdsa-p256'], publicKey: fixture('rsa-2048.pub') })),
    ).toBe('KEY_UNSUPPORTED')
    expect(code(() => verifySubmission({ bundle: signed.ed25519, publicKey }))).toBe('WRONG_KEY')
  })

  it('refuses a real GitHub artifact attestation: a Fulcio certificate, not a key', () => {
    const github = JSON.parse(vectorFile('github-artifact-attestation.sigstore.json')) as unknown
    expect(code(() => verifySubmission({ bundle: github, publicKey: fixture('ecdsa-p256.pub') }))).toBe(
      'SCHEMA_INVALID',
    )
    expect(bothVerifiers(github, fixture('ecdsa-p256.pub'))).toBe('BUNDLE_MALFORMED')
  })
})

describe('keys', () => {
  it('a loaded private key signs like its PEM', async () => {
    const key = privateKeyFromPEM(fixture('ed25519.key'))
    // Ed25519 is deterministic: the same key and payload give the same bundle.
    expect(await signStatement(sampleStatement(), key)).toEqual(signed.ed25519)
  })
})
