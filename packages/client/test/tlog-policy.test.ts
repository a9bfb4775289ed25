// The log-and-witness part of a trust policy given as a C2SP tlog-policy file (DESIGN §9): its group
// quorum decides which checkpoints the client accepts, in lookups and in offline receipts alike.
import { describe, expect, it } from 'vitest'
import {
  addSignatures,
  encodeCheckpoint,
  generateCosignerKey,
  generateNoteKey,
  parseCosignerKey,
  parseSignerKey,
  sha256,
  signNote,
  TlogError,
} from '@ledger/tlog'
import { ClientError, fromTlogPolicy, loadTrustPolicy, openTrustedCheckpoint } from '../src/index.js'

const seed = (n: number) => new Uint8Array(32).fill(n)
const log = generateNoteKey('log.example/tlog-policy', seed(1))
const w = [1, 2, 3].map((i) => generateCosignerKey(`witness${i}.example`, seed(10 + i)))

// Two of the three witnesses must cosign: a group rule the JSON policy's plain k-of-n also says, and one
// with a nested group it cannot say (w1 AND any of w2, w3).
const TWO_OF_THREE = `log ${log.verifierKey}
witness w1 ${w[0]!.verifierKey}
witness w2 ${w[1]!.verifierKey}
witness w3 ${w[2]!.verifierKey}
group g 2 w1 w2 w3
quorum g
`
const W1_AND_ANY = `log ${log.verifierKey}
witness w1 ${w[0]!.verifierKey}
witness w2 ${w[1]!.verifierKey}
witness w3 ${w[2]!.verifierKey}
group others any w2 w3
group both all w1 others
quorum both
`

const body = encodeCheckpoint({
  origin: 'log.example/tlog-policy',
  size: 5n,
  root: sha256(new Uint8Array(1)),
  extensions: [],
})
const signed = signNote(body, [parseSignerKey(log.signerKey)])
const cosigned = (...by: number[]) =>
  addSignatures(
    signed,
    by.map((i) => parseCosignerKey(w[i - 1]!.signerKey).signatureLine(body, 1_700_000_000n)),
  )

const parties = JSON.stringify({ parties: [{ name: 'p', keys: ['a'.repeat(64)] }], threshold: 1 })

function codeOf(fn: () => unknown): string {
  try {
    fn()
    return 'accepted'
  } catch (err) {
    return err instanceof TlogError || err instanceof ClientError ? err.code : String(err)
  }
}

describe('a trust policy with a C2SP tlog-policy file', () => {
  it('takes the log key from the file when the JSON names no log', () => {
    const policy = loadTrustPolicy(parties, { tlogPolicy: TWO_OF_THREE })
    expect(policy.log.verifierKey).toBe(log.verifierKey)
    expect(policy.log.origin).toBe('log.example/tlog-policy')
    expect(policy.witnesses.keys).toEqual(w.map((k) => k.verifierKey))
  })

  it('accepts checkpoints by its group quorum, and only those', () => {
    const { log: trust, witnesses } = fromTlogPolicy(TWO_OF_THREE)
    expect(codeOf(() => openTrustedCheckpoint(cosigned(1, 3), trust, witnesses))).toBe('accepted')
    expect(codeOf(() => openTrustedCheckpoint(cosigned(2), trust, witnesses))).toBe('QUORUM_NOT_MET')
    expect(codeOf(() => openTrustedCheckpoint(signed, trust, witnesses))).toBe('QUORUM_NOT_MET')

    const nested = fromTlogPolicy(W1_AND_ANY)
    expect(codeOf(() => openTrustedCheckpoint(cosigned(1, 2), nested.log, nested.witnesses))).toBe('accepted')
    expect(codeOf(() => openTrustedCheckpoint(cosigned(2, 3), nested.log, nested.witnesses))).toBe(
      'QUORUM_NOT_MET',
    )
  })

  it('refuses a cosignature that does not verify, and a checkpoint the log did not sign', () => {
    const { log: trust, witnesses } = fromTlogPolicy(TWO_OF_THREE)
    const forged = cosigned(1, 2).replace(/(— witness2\.example \S{20})\S/, (_, head: string) => `${head}A`)
    expect(codeOf(() => openTrustedCheckpoint(forged, trust, witnesses))).not.toBe('accepted')
    const other = generateNoteKey('log.example/tlog-policy', seed(9))
    const byOther = signNote(body, [parseSignerKey(other.signerKey)])
    expect(codeOf(() => openTrustedCheckpoint(byOther, trust, witnesses))).toBe('NO_VERIFIED_SIGNATURE')
  })

  it('refuses two sources of witnesses, a JSON log the file does not list, and an unparsable file', () => {
    const withWitnesses = JSON.stringify({
      ...(JSON.parse(parties) as object),
      witnesses: { keys: [w[0]!.verifierKey], quorum: 1 },
    })
    expect(codeOf(() => loadTrustPolicy(withWitnesses, { tlogPolicy: TWO_OF_THREE }))).toBe('POLICY_INVALID')
    const otherLog = generateNoteKey('log.example/other', seed(7))
    const named = JSON.stringify({
      ...(JSON.parse(parties) as object),
      log: { origin: 'log.example/other', verifierKey: otherLog.verifierKey },
    })
    expect(codeOf(() => loadTrustPolicy(named, { tlogPolicy: TWO_OF_THREE }))).toBe('POLICY_INVALID')
    expect(codeOf(() => loadTrustPolicy(parties, { tlogPolicy: 'quorum nowhere\n' }))).toBe('POLICY_INVALID')
    expect(codeOf(() => loadTrustPolicy(parties))).toBe('POLICY_INVALID')
  })
})
