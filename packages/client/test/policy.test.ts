import { createHash, createPublicKey } from 'node:crypto'
import { generateNoteKey, verifierKeyOf, generateCosignerKey } from '@ledger/tlog'
import { describe, expect, it } from 'vitest'
import { ClientError, loadTrustPolicy } from '../src/index.js'
import { makeKey, policyText } from './helpers.js'

const origin = 'ledger.example.org/2026'
const logKey = verifierKeyOf(generateNoteKey(origin).signerKey)

function expectPolicyError(text: string) {
  try {
    loadTrustPolicy(text)
  } catch (err) {
    expect(err).toBeInstanceOf(ClientError)
    expect((err as ClientError).code).toBe('POLICY_INVALID')
    return
  }
  throw new Error('expected POLICY_INVALID')
}

describe('loadTrustPolicy', () => {
  it('resolves PEM keys to the SHA-256 of their SPKI DER and maps keys to parties', () => {
    const a = makeKey()
    const b = makeKey('ed25519')
    const policy = loadTrustPolicy(
      policyText(
        { origin, verifierKey: logKey },
        [
          { name: 'alice', keys: [a.publicKeyPem] },
          { name: 'bob', keys: [b.keyId] },
        ],
        2,
      ),
    )
    // Independent key id: hash the DER node:crypto exports.
    const der = createPublicKey(a.publicKeyPem).export({ format: 'der', type: 'spki' })
    const expected = createHash('sha256').update(der).digest('hex')
    expect(policy.parties[0]).toEqual({ name: 'alice', keyIds: [expected] })
    expect(policy.partyOf.get(expected)).toBe('alice')
    expect(policy.partyOf.get(b.keyId)).toBe('bob')
    expect(policy.threshold).toBe(2)
    expect(policy.log.origin).toBe(origin)
    expect(policy.witnesses.quorum).toBe(0)
  })

  it('pins the index by its key, named <log origin>/index; another name or extra fields are refused', () => {
    const a = makeKey()
    const indexKey = verifierKeyOf(generateNoteKey(`${origin}/index`).signerKey)
    const withIndex = (index: unknown) =>
      JSON.stringify({
        log: { origin, verifierKey: logKey },
        index,
        parties: [{ name: 'alice', keys: [a.keyId] }],
        threshold: 1,
      })
    const policy = loadTrustPolicy(withIndex({ verifierKey: indexKey }))
    expect(policy.index?.origin).toBe(`${origin}/index`)
    expect(policy.index?.verifierKey).toBe(indexKey)
    expect(
      loadTrustPolicy(policyText({ origin, verifierKey: logKey }, [{ name: 'a', keys: [a.keyId] }], 1)).index,
    ).toBe(undefined)
    expectPolicyError(withIndex({ verifierKey: logKey })) // the log's own key is not the index's
    expectPolicyError(
      withIndex({ verifierKey: verifierKeyOf(generateNoteKey('other.example/index').signerKey) }),
    )
    expectPolicyError(withIndex({ verifierKey: indexKey, origin: `${origin}/index` }))
    expectPolicyError(withIndex({}))
    expectPolicyError(withIndex('not an object'))
  })

  it('counts a key listed twice in one party (by id and by PEM) once', () => {
    const a = makeKey()
    const policy = loadTrustPolicy(
      policyText({ origin, verifierKey: logKey }, [{ name: 'alice', keys: [a.keyId, a.publicKeyPem] }], 1),
    )
    expect(policy.parties[0]!.keyIds).toEqual([a.keyId])
  })

  it('refuses a key listed under two parties, even once as PEM and once as key id', () => {
    const a = makeKey()
    expectPolicyError(
      policyText(
        { origin, verifierKey: logKey },
        [
          { name: 'alice', keys: [a.publicKeyPem] },
          { name: 'bob', keys: [a.keyId] },
        ],
        1,
      ),
    )
  })

  it('refuses text that is not JSON, and JSON that fails the schema', () => {
    expectPolicyError('{not json')
    expectPolicyError(JSON.stringify({ log: { origin }, parties: [], threshold: 1 }))
    expectPolicyError(
      JSON.stringify({
        log: { origin, verifierKey: logKey },
        parties: [{ name: 'a', keys: ['ABC'] }],
        threshold: 1,
      }),
    )
  })

  it('refuses a log key named other than the origin', () => {
    const other = verifierKeyOf(generateNoteKey('other.example/log').signerKey)
    expectPolicyError(policyText({ origin, verifierKey: other }, [{ name: 'a', keys: [makeKey().keyId] }], 1))
  })

  it('refuses a log key whose id does not match the key', () => {
    const broken = logKey.replace(
      /\+([0-9a-f]{8})\+/,
      (_m, id: string) => `+${id === '00000000' ? '00000001' : '00000000'}+`,
    )
    expectPolicyError(
      policyText({ origin, verifierKey: broken }, [{ name: 'a', keys: [makeKey().keyId] }], 1),
    )
  })

  it('refuses duplicate party names and a threshold above the number of parties', () => {
    expectPolicyError(
      policyText(
        { origin, verifierKey: logKey },
        [
          { name: 'a', keys: [makeKey().keyId] },
          { name: 'a', keys: [makeKey().keyId] },
        ],
        1,
      ),
    )
    expectPolicyError(
      policyText({ origin, verifierKey: logKey }, [{ name: 'a', keys: [makeKey().keyId] }], 2),
    )
  })

  it('checks witness keys and quorum', () => {
    const w1 = generateCosignerKey('witness.one').verifierKey
    const w2 = generateCosignerKey('witness.two').verifierKey
    const parties = [{ name: 'a', keys: [makeKey().keyId] }]
    const ok = loadTrustPolicy(
      policyText({ origin, verifierKey: logKey }, parties, 1, { keys: [w1, w2], quorum: 2 }),
    )
    expect(ok.witnesses.quorum).toBe(2)
    expect(ok.witnesses.verifiers.map((v) => v.name)).toEqual(['witness.one', 'witness.two'])
    expectPolicyError(policyText({ origin, verifierKey: logKey }, parties, 1, { keys: [w1], quorum: 2 }))
    expectPolicyError(
      policyText({ origin, verifierKey: logKey }, parties, 1, { keys: ['w+0000+AAAA'], quorum: 1 }),
    )
  })

  it('refuses a PEM that is not an accepted key', () => {
    const rsa = createPublicKey({
      key: Buffer.from(
        'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmwIDAQAB',
        'base64',
      ),
      format: 'der',
      type: 'spki',
    })
    const pem = rsa.export({ format: 'pem', type: 'spki' }) as string
    expectPolicyError(policyText({ origin, verifierKey: logKey }, [{ name: 'a', keys: [pem] }], 1))
  })

  describe('chains: roots and minDistinctToolchains', () => {
    const a = makeKey()
    const b = makeKey()
    const base = {
      log: { origin, verifierKey: logKey },
      parties: [
        { name: 'upstream', keys: [a.keyId] },
        { name: 'bob', keys: [b.keyId] },
      ],
      threshold: 1,
    }
    const sha = `sha256:${'ab'.repeat(32)}`
    const problem = (extra: Record<string, unknown>): string => {
      try {
        loadTrustPolicy(JSON.stringify({ ...base, ...extra }))
      } catch (err) {
        expect((err as ClientError).code).toBe('POLICY_INVALID')
        return (err as Error).message
      }
      throw new Error('expected POLICY_INVALID')
    }

    it('reads roots by digest and by party, and the toolchain diversity', () => {
      const policy = loadTrustPolicy(
        JSON.stringify({
          ...base,
          roots: [
            { name: 'rustc 1.54.0 upstream', digest: sha },
            { name: 'upstream releases', party: 'upstream' },
          ],
          minDistinctToolchains: 2,
        }),
      )
      expect(policy.roots).toEqual([
        { name: 'rustc 1.54.0 upstream', digest: sha },
        { name: 'upstream releases', party: 'upstream' },
      ])
      expect(policy.minDistinctToolchains).toBe(2)
      const none = loadTrustPolicy(JSON.stringify(base))
      expect(none.roots).toBeUndefined()
      expect(none.minDistinctToolchains).toBeUndefined()
    })

    it('refuses malformed roots and diversities, naming the JSON path', () => {
      expect(problem({ roots: [{ name: 'x', digest: 'sha1:' + 'a'.repeat(40) }] })).toMatch(
        /\/roots\/0\/digest/,
      )
      expect(problem({ roots: [{ name: 'x', digest: `SHA256:${'AB'.repeat(32)}` }] })).toMatch(
        /\/roots\/0\/digest/,
      )
      expect(problem({ roots: [{ name: 'ok', digest: sha }, { name: 'x' }] })).toMatch(/\/roots\/1/)
      expect(problem({ roots: [{ name: 'x', digest: sha, party: 'upstream' }] })).toMatch(/\/roots\/0/)
      expect(problem({ roots: [{ name: 'x', digest: sha, keys: [] }] })).toMatch(
        /\/roots\/0: unknown key "keys"/,
      )
      expect(problem({ roots: [{ name: 'x', party: 'nobody' }] })).toMatch(
        /\/roots\/0\/party: "nobody" is not a party/,
      )
      expect(problem({ roots: { name: 'x', digest: sha } })).toMatch(/\/roots/)
      expect(problem({ minDistinctToolchains: 0 })).toMatch(/\/minDistinctToolchains/)
      expect(problem({ minDistinctToolchains: 1.5 })).toMatch(/\/minDistinctToolchains/)
      expect(problem({ minDistinctToolchains: 3 })).toMatch(
        /\/minDistinctToolchains: 3 is more than the 2 parties/,
      )
    })
  })
})
