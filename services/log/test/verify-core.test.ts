// verifySubmission's own checks before and after the attestation ones: nesting depth on the raw bytes
// (before anything parses or walks them), the key type first, no submitted tlog entries, an empty
// timestampVerificationData, and what a verified entry carries for the receipt.
import { generateKeyPairSync, sign } from 'node:crypto'
import {
  IN_TOTO_PAYLOAD_TYPE,
  canonicalJSON,
  dssePAE,
  generateKeyPair,
  keyIdFromSPKI,
  signStatement,
} from '@ledger/attestation'
import { hashLeaf, bytesEqual } from '@ledger/tlog'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { MAX_JSON_DEPTH, nestsDeeperThan, verifySubmission } from '../src/verify-core.js'
import { hex, statement } from './helpers.js'

const context = { marker: 'verify-core-test-marker-3f9a', logIdB64: Buffer.alloc(32, 7).toString('base64') }
const utf8 = (text: string) => new TextEncoder().encode(text)

/** The depth of a JSON value, computed on the parsed value (independently of the byte scanner). */
function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf))
  if (value !== null && typeof value === 'object')
    return 1 + Math.max(0, ...Object.values(value).map(depthOf))
  return 0
}

describe('nestsDeeperThan', () => {
  test('agrees with the depth of the parsed value, strings with brackets and escapes included', () => {
    const leaf = fc.oneof(
      fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', 'é') }),
      fc.integer(),
      fc.constant(null),
    )
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
      array: fc.array(tie('tree'), { maxLength: 3 }),
      object: fc.dictionary(fc.string({ unit: fc.constantFrom('{', '"', 'k', '\\') }), tie('tree'), {
        maxKeys: 3,
      }),
    }))
    fc.assert(
      fc.property(tree, fc.integer({ min: 0, max: 6 }), (value, limit) => {
        const bytes = utf8(JSON.stringify(value))
        expect(nestsDeeperThan(bytes, limit)).toBe(depthOf(value) > limit)
      }),
      { numRuns: 300 },
    )
  })

  test('exactly at the limit passes, one more does not; many shallow brackets are not depth', () => {
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)
    expect(nestsDeeperThan(utf8(nested(MAX_JSON_DEPTH)), MAX_JSON_DEPTH)).toBe(false)
    expect(nestsDeeperThan(utf8(nested(MAX_JSON_DEPTH + 1)), MAX_JSON_DEPTH)).toBe(true)
    const wide = JSON.stringify(Array.from({ length: 500 }, () => [{ a: [] }]))
    expect(nestsDeeperThan(utf8(wide), MAX_JSON_DEPTH)).toBe(false)
    expect(nestsDeeperThan(utf8(`["${'['.repeat(100)}"]`), 2)).toBe(false)
    expect(nestsDeeperThan(utf8(`["\\"${'['.repeat(5)}"]`), 2)).toBe(false)
    expect(nestsDeeperThan(utf8(`["\\\\"${'['.repeat(5)}`), 2)).toBe(true)
  })
})

async function submission(mutate: (bundle: Record<string, unknown>) => void = () => undefined) {
  const key = generateKeyPair()
  const bundle = (await signStatement(statement([hex(1)], hex(1, 40)), key.privateKeyPem)) as unknown as {
    verificationMaterial: Record<string, unknown>
  }
  mutate(bundle as unknown as Record<string, unknown>)
  return { key, body: utf8(JSON.stringify({ bundle, publicKey: key.publicKeyPem })) }
}

describe('verifySubmission', () => {
  test('a valid submission: the leaf, its hash, and a receipt template that cuts the bundle once', async () => {
    const { body } = await submission()
    const outcome = verifySubmission(body, context)
    if (!outcome.ok) throw new Error(outcome.message)
    expect(bytesEqual(outcome.entry.leafHash, hashLeaf(outcome.entry.leaf))).toBe(true)
    const [head, entry, tail] = [
      outcome.entry.template.head,
      outcome.entry.template.entry,
      outcome.entry.template.tail,
    ].map((bytes) => new TextDecoder('utf-8', { fatal: true }).decode(bytes))
    // Head + an empty list + tail is the submitted bundle with no tlog entries.
    const rebuilt = JSON.parse(`${head}[]${tail}`) as { verificationMaterial: { tlogEntries: unknown[] } }
    expect(rebuilt.verificationMaterial.tlogEntries).toEqual([])
    const fields = JSON.parse(`{${entry}}`) as { logId: { keyId: string }; canonicalizedBody: string }
    expect(fields.logId.keyId).toBe(context.logIdB64)
    expect(Buffer.from(fields.canonicalizedBody, 'base64').equals(Buffer.from(outcome.entry.leaf))).toBe(true)
  })

  test('deep nesting anywhere is refused before parsing: INVALID_SUBMISSION', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    for (const field of ['timestampVerificationData', 'tlogEntries']) {
      const { body } = await submission()
      const text = Buffer.from(body).toString('utf8')
      const value = field === 'tlogEntries' ? `[${deep}]` : `{"d":${deep}}`
      const patched = text.replace('"timestampVerificationData":{}', `"${field}":${value}`)
      expect(patched).not.toBe(text)
      expect(verifySubmission(utf8(patched), context)).toMatchObject({
        ok: false,
        code: 'INVALID_SUBMISSION',
      })
    }
    // Not JSON at all, but deep: the same answer, and no stack overflow.
    expect(verifySubmission(utf8('['.repeat(1_000_000)), context)).toMatchObject({
      code: 'INVALID_SUBMISSION',
    })
  })

  test('tlog entries in a submission are refused; an empty list is not', async () => {
    const withEntry = await submission((b) => {
      ;(b.verificationMaterial as Record<string, unknown>).tlogEntries = [{ logIndex: '0' }]
    })
    expect(verifySubmission(withEntry.body, context)).toMatchObject({ ok: false, code: 'INVALID_SUBMISSION' })
    const empty = await submission((b) => {
      ;(b.verificationMaterial as Record<string, unknown>).tlogEntries = []
    })
    expect(verifySubmission(empty.body, context).ok).toBe(true)
  })

  test('timestampVerificationData must be empty (it would be copied into receipts)', async () => {
    const { body } = await submission((b) => {
      ;(b.verificationMaterial as Record<string, unknown>).timestampVerificationData = {
        rfc3161Timestamps: [],
      }
    })
    expect(verifySubmission(body, context)).toMatchObject({ ok: false, code: 'INVALID_SUBMISSION' })
  })

  test('an RSA-4096 key is refused for its type, before the schema sees its long signature', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 4096 })
    const payload = Buffer.from(canonicalJSON(statement([hex(2)], hex(2, 40))), 'utf8')
    const sig = sign('sha256', dssePAE(IN_TOTO_PAYLOAD_TYPE, payload), privateKey).toString('base64')
    expect(sig.length).toBeGreaterThan(256)
    const spki = publicKey.export({ type: 'spki', format: 'der' })
    const keyId = keyIdFromSPKI(new Uint8Array(spki))
    const bundle = {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint: keyId }, timestampVerificationData: {} },
      dsseEnvelope: {
        payload: payload.toString('base64'),
        payloadType: IN_TOTO_PAYLOAD_TYPE,
        signatures: [{ sig, keyid: keyId }],
      },
    }
    const body = utf8(
      JSON.stringify({ bundle, publicKey: publicKey.export({ type: 'spki', format: 'pem' }) }),
    )
    expect(verifySubmission(body, context)).toMatchObject({ ok: false, code: 'UNSUPPORTED_KEY' })
  })
})
