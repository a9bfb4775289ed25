// The decision procedure over a fake store that enforces the WitnessStore contract: the consistency
// vectors (x/mod's tlog.ProveTree and mutations), the per-origin lock under slow storage, failed writes.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  EMPTY_ROOT,
  encodeCheckpoint,
  generateCosignerKey,
  generateNoteKey,
  parseSignerKey,
  signNote,
} from '@ledger/tlog'
import { Witness } from '../src/witness.js'
import { witnessKeyFromSignerKey } from '../src/witness-key.js'
import type { EvidenceReason, KnownLog, LogState, WitnessMeta, WitnessStore } from '../src/store.js'
import { WitnessError } from '../src/errors.js'

/** In-memory WitnessStore: copies on write and read (a caller cannot change stored state), fault hooks. */
class MemoryStore implements WitnessStore {
  states = new Map<string, LogState>()
  evidence: { origin: string; reason: EvidenceReason; body: string }[] = []
  delayMs = 0
  failWrites = false
  writes = 0
  private async pause() {
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs))
  }
  async readMeta(): Promise<WitnessMeta | undefined> {
    return undefined
  }
  async writeMeta(): Promise<void> {}
  async readLogs(): Promise<KnownLog[] | undefined> {
    return undefined
  }
  async writeLogs(): Promise<void> {}
  async readState(origin: string): Promise<LogState | undefined> {
    await this.pause()
    const s = this.states.get(origin)
    return s && { ...s, root: s.root.slice() }
  }
  async writeState(origin: string, state: LogState): Promise<void> {
    await this.pause()
    if (this.failWrites) throw new Error('disk full')
    const previous = this.states.get(origin)
    // The contract the witness relies on: a stored size never goes down.
    if (previous !== undefined && state.size < previous.size) throw new Error('size went down')
    this.writes++
    this.states.set(origin, { ...state, root: state.root.slice() })
  }
  async writeEvidence(origin: string, reason: EvidenceReason, body: string): Promise<void> {
    this.evidence.push({ origin, reason, body })
  }
  async readEvidence() {
    return []
  }
  async close(): Promise<void> {}
}

const ORIGIN = 'unit.example/log'
const logKey = generateNoteKey(ORIGIN, new Uint8Array(32).fill(4))
const signer = parseSignerKey(logKey.signerKey)
const key = witnessKeyFromSignerKey(
  generateCosignerKey('unit.example/w', new Uint8Array(32).fill(5)).signerKey,
)
const logs: KnownLog[] = [{ origin: ORIGIN, keys: [logKey.verifierKey] }]
const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'))

function body(oldSize: bigint, proof: Uint8Array[], size: bigint, root: Uint8Array): string {
  const signed = signNote(encodeCheckpoint({ origin: ORIGIN, size, root, extensions: [] }), [signer])
  // Written by hand, not with encodeAddCheckpointRequest, which refuses some of these on purpose.
  return `old ${oldSize}\n${proof.map((p) => Buffer.from(p).toString('base64') + '\n').join('')}\n${signed}`
}

async function outcome(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'cosigned',
    (err: unknown) => (err instanceof WitnessError ? err.code : `other: ${(err as Error).message}`),
  )
}

interface ConsistencyVector {
  valid: boolean
  mutation?: string
  old_size: string
  new_size: string
  old_root: string
  new_root: string
  proof: string[]
}
const vectors = JSON.parse(
  readFileSync(new URL('../../../test/vectors/consistency-proofs.json', import.meta.url), 'utf8'),
) as ConsistencyVector[]

describe('Witness against the consistency vectors', () => {
  it('cosigns exactly the valid proofs from the stored state (1268 vectors)', async () => {
    const store = new MemoryStore()
    const witness = new Witness(store, key, logs, () => 1n)
    const mismatches: string[] = []
    for (const [i, v] of vectors.entries()) {
      const oldSize = BigInt(v.old_size)
      const newSize = BigInt(v.new_size)
      store.states.clear()
      if (oldSize > 0n) store.states.set(ORIGIN, { size: oldSize, root: hex(v.old_root), checkpoint: '' })
      // tlog-witness (the spec wins over x/mod here): from size 0 an empty proof is all it takes.
      let expected: string
      if (oldSize > newSize) expected = 'MALFORMED_REQUEST'
      else if (v.mutation === 'old_size_zero') expected = 'cosigned'
      else if (v.valid) expected = 'cosigned'
      else if (oldSize === newSize && v.proof.length === 0 && v.old_root !== v.new_root) {
        expected = 'SIZE_CONFLICT' // tlog-witness v1.0.0: same size, another root is a 409
      } else expected = 'BAD_PROOF'
      const got = await outcome(
        witness.addCheckpoint(body(oldSize, v.proof.map(hex), newSize, hex(v.new_root))),
      )
      if (got !== expected) mismatches.push(`#${i} ${v.mutation ?? 'valid'}: ${got}, expected ${expected}`)
      if (got === 'cosigned') expect(store.states.get(ORIGIN)!.size).toBe(newSize)
    }
    expect(mismatches).toEqual([])
  })
})

describe('Witness under slow storage and failures', () => {
  it('serializes one origin: two forks from one state, at once, get one cosignature', async () => {
    const store = new MemoryStore()
    store.states.set(ORIGIN, { size: 0n, root: EMPTY_ROOT, checkpoint: '' })
    store.delayMs = 5
    const witness = new Witness(store, key, logs, () => 1n)
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        outcome(witness.addCheckpoint(body(0n, [], 5n, new Uint8Array(32).fill(i + 1)))),
      ),
    )
    expect(results.filter((r) => r === 'cosigned')).toHaveLength(1)
    expect(results.filter((r) => r === 'SIZE_CONFLICT')).toHaveLength(9)
    expect(store.writes).toBe(1)
  })

  it('returns no cosignature when the state cannot be written, and keeps the old state', async () => {
    const store = new MemoryStore()
    const witness = new Witness(store, key, logs, () => 1n)
    store.failWrites = true
    expect(await outcome(witness.addCheckpoint(body(0n, [], 3n, new Uint8Array(32).fill(1))))).toBe(
      'other: disk full',
    )
    expect(store.states.has(ORIGIN)).toBe(false)
    store.failWrites = false
    expect(await outcome(witness.addCheckpoint(body(0n, [], 3n, new Uint8Array(32).fill(1))))).toBe(
      'cosigned',
    )
  })

  it('keeps log-signed refused requests as evidence, and not unsigned ones', async () => {
    const store = new MemoryStore()
    const witness = new Witness(store, key, logs, () => 1n)
    await witness.addCheckpoint(body(0n, [], 3n, new Uint8Array(32).fill(1)))
    const fork = body(3n, [], 3n, new Uint8Array(32).fill(2))
    expect(await outcome(witness.addCheckpoint(fork))).toBe('SIZE_CONFLICT')
    const badProof = body(3n, [new Uint8Array(32)], 5n, new Uint8Array(32).fill(3))
    expect(await outcome(witness.addCheckpoint(badProof))).toBe('BAD_PROOF')
    const unsigned = fork.replace(/— .*\n$/, `— ${ORIGIN} ${Buffer.alloc(68).toString('base64')}\n`)
    expect(await outcome(witness.addCheckpoint(unsigned))).toBe('BAD_LOG_SIGNATURE')
    expect(store.evidence.map((e) => [e.reason, e.body])).toEqual([
      ['root-conflict', fork],
      ['bad-proof', badProof],
    ])
  })

  it('cosigns with the clock it is given', async () => {
    const store = new MemoryStore()
    const witness = new Witness(store, key, logs, () => 1234567n)
    const line = await witness.addCheckpoint(body(0n, [], 1n, new Uint8Array(32).fill(1)))
    expect(Buffer.from(line.slice(line.lastIndexOf(' ') + 1, -1), 'base64').readBigUInt64BE(4)).toBe(1234567n)
  })
})
