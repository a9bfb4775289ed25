import { encodeTlogProof, generateCosignerKey, parseTlogProof } from '@ledger/tlog'
import { beforeAll, describe, expect, it } from 'vitest'
import { ClientError, toTlogProof, verifyReceipt, type VerifiedReceipt } from '../src/index.js'
import { FakeLog } from './fake-log.js'
import { cosignerAsNoteSigner, makeKey } from './helpers.js'

const witness = generateCosignerKey('witness.example')
let log: FakeLog
let receipt: Record<string, unknown>
const key = makeKey()

function code(f: () => unknown): string {
  try {
    f()
  } catch (err) {
    expect(err).toBeInstanceOf(ClientError)
    return (err as ClientError).code
  }
  return 'OK'
}

beforeAll(async () => {
  log = new FakeLog()
  log.cosigners = [cosignerAsNoteSigner(witness.signerKey)]
  const other = makeKey('ed25519')
  for (let i = 0; i < 3; i++)
    log.appendBundle(await other.sign([{ name: `n${i}`, sha256: 'c'.repeat(64) }]), other.publicKeyPem)
  const bundle = await key.sign([{ name: 'app', sha256: 'd'.repeat(64) }])
  const [index] = log.appendBundle(bundle, key.publicKeyPem)
  receipt = await log.receipt(bundle, index)
})

describe('verifyReceipt', () => {
  it('checks the witness quorum of a policy', () => {
    const opts = { logVerifierKey: log.verifierKey, witnesses: [witness.verifierKey], quorum: 1 }
    const verified = verifyReceipt(receipt, opts)
    expect(verified.index).toBe(3n)
    expect(verified.entry.keyId).toBe(key.keyId)
    const stranger = generateCosignerKey('other.witness').verifierKey
    expect(code(() => verifyReceipt(receipt, { ...opts, witnesses: [stranger] }))).toBe('RECEIPT_INVALID')
  })

  it('round-trips through a tlog-proof, with the leaf inside or given separately', () => {
    const verified: VerifiedReceipt = verifyReceipt(receipt, { logVerifierKey: log.verifierKey })
    const proof = toTlogProof(verified)
    const again = verifyReceipt(proof, { logVerifierKey: log.verifierKey, publicKey: key.publicKeyPem })
    expect(again.format).toBe('tlog-proof')
    expect(again.index).toBe(3n)
    expect(again.checkpoint.note).toBe(verified.checkpoint.note)

    const { extra, ...withoutLeaf } = parseTlogProof(proof)
    const bare = encodeTlogProof(withoutLeaf)
    expect(code(() => verifyReceipt(bare, { logVerifierKey: log.verifierKey }))).toBe('RECEIPT_INVALID')
    expect(verifyReceipt(bare, { logVerifierKey: log.verifierKey, leaf: extra }).entry.keyId).toBe(key.keyId)
    // Another leaf of the log is not the one the proof is for.
    const wrong = log.entries[0]!.leaf
    expect(code(() => verifyReceipt(bare, { logVerifierKey: log.verifierKey, leaf: wrong }))).toBe(
      'RECEIPT_INVALID',
    )
    expect(code(() => verifyReceipt(proof, { logVerifierKey: log.verifierKey, leaf: wrong }))).toBe(
      'RECEIPT_INVALID',
    )
  })

  it('refuses a signer other than the one pinned, by PEM or key id', () => {
    const stranger = makeKey()
    expect(
      code(() =>
        verifyReceipt(receipt, { logVerifierKey: log.verifierKey, publicKey: stranger.publicKeyPem }),
      ),
    ).toBe('RECEIPT_INVALID')
    expect(
      code(() => verifyReceipt(receipt, { logVerifierKey: log.verifierKey, publicKey: stranger.keyId })),
    ).toBe('RECEIPT_INVALID')
    expect(
      code(() => verifyReceipt(receipt, { logVerifierKey: log.verifierKey, publicKey: key.keyId })),
    ).toBe('OK')
  })

  it('refuses input that is no receipt at all', () => {
    expect(code(() => verifyReceipt('hello', { logVerifierKey: log.verifierKey }))).toBe('RECEIPT_INVALID')
    expect(code(() => verifyReceipt({}, { logVerifierKey: log.verifierKey }))).toBe('RECEIPT_INVALID')
    expect(code(() => verifyReceipt(receipt, { logVerifierKey: 'not a key' }))).toBe('POLICY_INVALID')
  })
})
