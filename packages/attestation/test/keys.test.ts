import { createHash, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  AttestationError,
  encodePublicKeyPEM,
  generateKeyPair,
  keyFileNames,
  keyIdFromSPKI,
  PRIVATE_KEY_FILE_MODE,
  privateKeyFromPEM,
  publicKeyFromDER,
  publicKeyFromPEM,
} from '@ledger/attestation'
import { FIXTURE_KEY_IDS, fixture, KEY_TYPES } from './helpers.js'

function code(f: () => unknown): string | undefined {
  try {
    f()
  } catch (error) {
    if (error instanceof AttestationError) return error.code
    throw error
  }
  return undefined
}

const DETAILS = { 'ecdsa-p256': 'PKIX_ECDSA_P256_SHA_256', ed25519: 'PKIX_ED25519' } as const

describe('fixture keys made by openssl', () => {
  it.each(KEY_TYPES)('%s: key id is the SHA-256 of the SPKI DER that openssl computed', (type) => {
    const pub = publicKeyFromPEM(fixture(`${type}.pub`))
    expect(pub.keyId).toBe(FIXTURE_KEY_IDS[type])
    expect(pub.keyDetails).toBe(DETAILS[type])
    const priv = privateKeyFromPEM(fixture(`${type}.key`))
    expect(priv.publicKey.keyId).toBe(FIXTURE_KEY_IDS[type])
    // The PEM re-encoding is openssl's own (64-column lines, trailing newline).
    expect(pub.pem).toBe(fixture(`${type}.pub`))
    expect(keyIdFromSPKI(pub.spkiDer)).toBe(FIXTURE_KEY_IDS[type])
  })
})

describe('generateKeyPair', () => {
  it.each(KEY_TYPES)(
    '%s: PKCS#8 and SPKI PEM that node:crypto reads back, key id over the SPKI DER',
    (type) => {
      const pair = generateKeyPair(type)
      expect(pair.privateKeyPem.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true)
      expect(pair.publicKeyPem.startsWith('-----BEGIN PUBLIC KEY-----\n')).toBe(true)
      expect(pair.keyDetails).toBe(DETAILS[type])
      const der = createPublicKey(pair.publicKeyPem).export({ type: 'spki', format: 'der' })
      expect(pair.keyId).toBe(createHash('sha256').update(der).digest('hex'))
      // The two halves belong together: a signature by one verifies with the other.
      const data = Buffer.from('pair')
      const alg = type === 'ed25519' ? null : 'sha256'
      expect(verify(alg, data, pair.publicKeyPem, sign(alg, data, pair.privateKeyPem))).toBe(true)
    },
  )

  it('defaults to ECDSA P-256', () => {
    expect(generateKeyPair().keyDetails).toBe('PKIX_ECDSA_P256_SHA_256')
  })
})

describe('key file helpers', () => {
  it('names PREFIX.key and PREFIX.pub and asks for mode 0600', () => {
    expect(keyFileNames('keys/rebuilder')).toEqual({
      privateKey: 'keys/rebuilder.key',
      publicKey: 'keys/rebuilder.pub',
    })
    expect(PRIVATE_KEY_FILE_MODE).toBe(0o600)
  })
})

describe('publicKeyFromPEM accepts', () => {
  it('CRLF line ends and no trailing newline', () => {
    const pem = fixture('ed25519.pub')
    expect(publicKeyFromPEM(pem.replace(/\n/g, '\r\n')).keyId).toBe(FIXTURE_KEY_IDS.ed25519)
    expect(publicKeyFromPEM(pem.trimEnd()).keyId).toBe(FIXTURE_KEY_IDS.ed25519)
  })

  it('a key round-tripped through DER and encodePublicKeyPEM', () => {
    const der = publicKeyFromPEM(fixture('ecdsa-p256.pub')).spkiDer
    expect(publicKeyFromDER(der).keyId).toBe(FIXTURE_KEY_IDS['ecdsa-p256'])
    expect(encodePublicKeyPEM(der)).toBe(fixture('ecdsa-p256.pub'))
  })
})

describe('publicKeyFromPEM refuses', () => {
  const pem = fixture('ecdsa-p256.pub')
  it.each([
    ['an RSA key', fixture('rsa-2048.pub'), 'KEY_UNSUPPORTED'],
    ['a P-384 key', fixture('ecdsa-p384.pub'), 'KEY_UNSUPPORTED'],
    ['an Ed448 key', fixture('ed448.pub'), 'KEY_UNSUPPORTED'],
    [
      'an X25519 key',
      generateKeyPairSync('x25519').publicKey.export({ type: 'spki', format: 'pem' }) as string,
      'KEY_UNSUPPORTED',
    ],
    ['a hybrid-form P-256 point', fixture('ecdsa-p256-hybrid.pub'), 'KEY_MALFORMED'],
    [
      'a compressed P-256 point (a second DER, so a second key id, for the same key)',
      fixture('ecdsa-p256-compressed.pub'),
      'KEY_MALFORMED',
    ],
    ['a private key', fixture('ecdsa-p256.key'), 'KEY_MALFORMED'],
    ['a PKCS#1 RSA PUBLIC KEY block', pem.replace(/PUBLIC KEY/g, 'RSA PUBLIC KEY'), 'KEY_MALFORMED'],
    ['a certificate label', pem.replace(/PUBLIC KEY/g, 'CERTIFICATE'), 'KEY_MALFORMED'],
    ['no END line', pem.replace('-----END PUBLIC KEY-----\n', ''), 'KEY_MALFORMED'],
    ['text after the block', pem + 'trailing\n', 'KEY_MALFORMED'],
    ['a second block', pem + pem, 'KEY_MALFORMED'],
    ['leading text', 'key:\n' + pem, 'KEY_MALFORMED'],
    ['a blank line inside', pem.replace('\n', '\n\n'), 'KEY_MALFORMED'],
    ['spaces inside the base64', pem.replace('\nMFk', '\nMF k'), 'KEY_MALFORMED'],
    [
      // '9A==' ends in 'A': its 4 unused bits are 0. 'B' sets one: same bytes, a second spelling.
      'non-canonical base64 padding bits',
      pem.replace('9A==', '9B=='),
      'KEY_MALFORMED',
    ],
    ['random DER', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', 'KEY_MALFORMED'],
    ['an empty string', '', 'KEY_MALFORMED'],
    ['a huge string', 'A'.repeat(100_000), 'KEY_MALFORMED'],
  ])('%s', (_label, text, expected) => {
    expect(code(() => publicKeyFromPEM(text))).toBe(expected)
  })

  it('DER with trailing bytes', () => {
    const der = publicKeyFromPEM(pem).spkiDer
    expect(code(() => publicKeyFromDER(Buffer.concat([der, Buffer.from([0])])))).toBe('KEY_MALFORMED')
  })
})

describe('privateKeyFromPEM refuses', () => {
  const key = fixture('ecdsa-p256.key')
  it.each([
    ['a SEC1 EC PRIVATE KEY', fixture('ecdsa-p256-sec1.key'), 'KEY_MALFORMED'],
    ['a public key', fixture('ecdsa-p256.pub'), 'KEY_MALFORMED'],
    ['an encrypted PKCS#8 key', key.replace(/PRIVATE KEY/g, 'ENCRYPTED PRIVATE KEY'), 'KEY_MALFORMED'],
    ['an OpenSSH key label', key.replace(/PRIVATE KEY/g, 'OPENSSH PRIVATE KEY'), 'KEY_MALFORMED'],
    [
      'a PKCS#8 body that is not a key',
      '-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n',
      'KEY_MALFORMED',
    ],
    [
      'an RSA PKCS#8 key',
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }) as string,
      'KEY_UNSUPPORTED',
    ],
    [
      'a secp256k1 PKCS#8 key',
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }) as string,
      'KEY_UNSUPPORTED',
    ],
  ])('%s', (_label, text, expected) => {
    expect(code(() => privateKeyFromPEM(text))).toBe(expected)
  })
})
