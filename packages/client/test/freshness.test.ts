// Freshness (docs/design/verifiable-index.md §6): the time a checkpoint's witness quorum cosigned it is
// the newest time at which the quorum held (k of n: the k-th newest cosignature/v1 timestamp; a
// tlog-policy: the first prefix of the newest cosignatures that meets its group rule). A checkpoint older
// than the policy's maxCheckpointAgeSeconds is refused with STALE, by the tracker too; a policy that sets
// a maximum age without witnesses (or with undated witness keys) is refused. Real keys and signatures.
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
} from '@ledger/tlog'
import {
  assertFresh,
  CheckpointTracker,
  checkpointFreshness,
  ClientError,
  loadTrustPolicy,
  MemoryStateStore,
  openWitnessedCheckpoint,
} from '../src/index.js'

const ORIGIN = 'log.example/freshness'
const seed = (n: number) => new Uint8Array(32).fill(n)
const log = generateNoteKey(ORIGIN, seed(1))
const w = [1, 2, 3].map((i) => generateCosignerKey(`witness${i}.example`, seed(20 + i)))
const NOW = 1_800_000_000

function checkpoint(size: bigint): { body: string; signed: string } {
  const body = encodeCheckpoint({
    origin: ORIGIN,
    size,
    root: sha256(new Uint8Array([Number(size)])),
    extensions: [],
  })
  return { body, signed: signNote(body, [parseSignerKey(log.signerKey)]) }
}

/** The checkpoint cosigned by witness i at time t, for each [i, t]. */
function cosigned(size: bigint, ...by: [number, number][]): string {
  const { body, signed } = checkpoint(size)
  return addSignatures(
    signed,
    by.map(([i, t]) => parseCosignerKey(w[i - 1]!.signerKey).signatureLine(body, BigInt(t))),
  )
}

function policy(extra: Record<string, unknown>, tlogPolicy?: string) {
  return loadTrustPolicy(
    JSON.stringify({
      log: { origin: ORIGIN, verifierKey: log.verifierKey },
      parties: [{ name: 'p', keys: ['a'.repeat(64)] }],
      threshold: 1,
      ...extra,
    }),
    tlogPolicy === undefined ? {} : { tlogPolicy },
  )
}

function codeOf(fn: () => unknown): string {
  try {
    fn()
    return 'accepted'
  } catch (err) {
    return err instanceof ClientError ? err.code : String(err)
  }
}

describe('freshness', () => {
  it('dates a k-of-n quorum by its k-th newest cosignature', () => {
    const p = policy({ witnesses: { keys: w.map((k) => k.verifierKey), quorum: 2 } })
    const note = cosigned(5n, [1, NOW - 100], [2, NOW - 10], [3, NOW - 5000])
    expect(openWitnessedCheckpoint(note, p.log, p.witnesses).cosignedAt).toBe(BigInt(NOW - 100))
    const one = policy({ witnesses: { keys: w.map((k) => k.verifierKey), quorum: 1 } })
    expect(openWitnessedCheckpoint(note, one.log, one.witnesses).cosignedAt).toBe(BigInt(NOW - 10))
  })

  it('dates a tlog-policy quorum by the first newest cosignatures that meet its group rule', () => {
    const file = `log ${log.verifierKey}\n${w.map((k, i) => `witness w${i + 1} ${k.verifierKey}`).join('\n')}\ngroup others any w2 w3\ngroup both all w1 others\nquorum both\n`
    const p = policy({}, file)
    // w1 is needed whatever: the quorum holds from w1's time (the oldest of the three here) on.
    const note = cosigned(5n, [1, NOW - 900], [2, NOW - 10], [3, NOW - 20])
    expect(openWitnessedCheckpoint(note, p.log, p.witnesses).cosignedAt).toBe(BigInt(NOW - 900))
  })

  it('refuses a checkpoint older than the maximum age with STALE, naming the age and the limit', () => {
    const p = policy({ witnesses: { keys: [w[0]!.verifierKey], quorum: 1 }, maxCheckpointAgeSeconds: 3600 })
    expect(p.witnesses.maxAgeSeconds).toBe(3600)
    const fresh = cosigned(5n, [1, NOW - 3600])
    const stale = cosigned(5n, [1, NOW - 3601])
    const open = (note: string) => openWitnessedCheckpoint(note, p.log, p.witnesses)
    expect(codeOf(() => assertFresh(ORIGIN, fresh, open(fresh), p.witnesses, NOW))).toBe('accepted')
    expect(codeOf(() => assertFresh(ORIGIN, stale, open(stale), p.witnesses, NOW))).toBe('STALE')
    expect(() => assertFresh(ORIGIN, stale, open(stale), p.witnesses, NOW)).toThrow(
      /3601 s ago.*at most 3600 s/,
    )
    expect(checkpointFreshness(stale, p, NOW)).toEqual({
      cosignedAt: new Date((NOW - 3601) * 1000).toISOString(),
      ageSeconds: 3601,
      maxAgeSeconds: 3600,
    })
  })

  it('claims no freshness without witnesses, and refuses a maximum age without them', () => {
    const none = policy({})
    expect(checkpointFreshness(checkpoint(5n).signed, none, NOW)).toBeNull()
    expect(codeOf(() => policy({ maxCheckpointAgeSeconds: 60 }))).toBe('POLICY_INVALID')
    const plain = generateNoteKey('plain-witness.example', seed(40))
    expect(
      codeOf(() =>
        policy({ witnesses: { keys: [plain.verifierKey], quorum: 1 }, maxCheckpointAgeSeconds: 60 }),
      ),
    ).toBe('POLICY_INVALID')
    expect(
      codeOf(() =>
        policy({ witnesses: { keys: [w[0]!.verifierKey], quorum: 1 }, maxCheckpointAgeSeconds: 0 }),
      ),
    ).toBe('POLICY_INVALID')
  })

  it('the tracker refuses a stale checkpoint with STALE and keeps its state; a fresh one moves it', async () => {
    const p = policy({ witnesses: { keys: [w[0]!.verifierKey], quorum: 1 }, maxCheckpointAgeSeconds: 60 })
    const state = new MemoryStateStore()
    const tracker = new CheckpointTracker(p.log, p.witnesses, state, async () => [], { now: () => NOW })
    const first = await tracker.accept(cosigned(0n, [1, NOW - 30]))
    expect(first.cosignedAt).toBe(BigInt(NOW - 30))
    const err = await tracker.accept(cosigned(0n, [1, NOW - 61])).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ClientError)
    expect((err as ClientError).code).toBe('STALE')
    expect((err as ClientError).evidence?.kind).toBe('stale')
    // The same tree cosigned again, recently: fresh again.
    expect((await tracker.accept(cosigned(0n, [1, NOW - 1]))).cosignedAt).toBe(BigInt(NOW - 1))
  })
})
