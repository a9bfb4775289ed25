// The MonitorStore contract (packages/monitor/src/state-store.ts) as one suite, run against every
// implementation by monitor-store-contract.test.ts.
import { describe, expect, test } from 'vitest'
import { subjectKey, type EntryRecord, type MonitorState, type MonitorStore } from '../src/state-store.js'

/** Opens a fresh store; `reopen` opens the same one again after close (undefined: nothing persists). */
export interface StoreFactory {
  open(): Promise<{ store: MonitorStore; reopen?: () => Promise<MonitorStore> }>
}

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`
const commit = (n: number) => n.toString(16).padStart(40, '0')
const key = (n: number) => n.toString(16).padStart(64, 'a')

function state(size: number, indexed: number): MonitorState {
  return {
    origin: 'contract.test/log',
    logKeys: ['contract.test/log+01234567+AAAA'],
    size: BigInt(size),
    root: new Uint8Array(32).fill(size % 256),
    checkpoint: `contract.test/log\n${size}\nroot\n\n— sig\n`,
    indexed: BigInt(indexed),
  }
}

function good(n: number): EntryRecord {
  return {
    keyId: key(n % 3),
    digests: [digest(n), digest(1000 + (n % 2))],
    commits: [commit(n % 4)],
    subjects: [[`pkg-${n}`, digest(n).slice(7)]],
  }
}

export function describeMonitorStoreContract(name: string, factory: StoreFactory): void {
  describe(`MonitorStore contract: ${name}`, () => {
    test('no state before the first write; a state reads back as written', async () => {
      const { store } = await factory.open()
      try {
        expect(await store.readState()).toBeUndefined()
        await store.writeState(state(10, 0))
        expect(await store.readState()).toEqual(state(10, 0))
        await store.writeState(state(12, 0))
        expect(await store.readState()).toEqual(state(12, 0))
      } finally {
        await store.close()
      }
    })

    test('the index audit state: none before the first write; reads back as written', async () => {
      const { store } = await factory.open()
      try {
        expect(await store.readIndexState()).toBeUndefined()
        const first = {
          verifierKey: 'contract.test/log/index+01234567+AAAA',
          size: 3n,
          root: new Uint8Array(32).fill(3),
          checkpoint: 'contract.test/log/index\n3\nroot\n\n— sig\n',
          checked: 0n,
          inputSize: undefined,
        }
        await store.writeIndexState(first)
        expect(await store.readIndexState()).toEqual(first)
        await store.writeIndexState({ ...first, checked: 3n, inputSize: 17n })
        expect(await store.readIndexState()).toEqual({ ...first, checked: 3n, inputSize: 17n })
      } finally {
        await store.close()
      }
    })

    test('an index batch: entries, matches by digest and commit below a size, subjects, the state', async () => {
      const { store } = await factory.open()
      try {
        const records: EntryRecord[] = [good(0), { bad: 'SIGNATURE_INVALID' }, good(2), good(3)]
        const subjects = new Map([
          [subjectKey(commit(0), 'pkg-0'), [{ digest: digest(0), index: 0, keyId: key(0) }]],
        ])
        await store.writeIndexBatch(state(4, 4), { from: 0n, records, subjects, indexed: 4n })
        expect(await store.readState()).toEqual(state(4, 4))
        expect(await store.readEntry(1n)).toEqual({ bad: 'SIGNATURE_INVALID' })
        expect(await store.readEntry(2n)).toEqual(good(2))
        expect(await store.readEntries(1n, 2)).toEqual([{ bad: 'SIGNATURE_INVALID' }, good(2)])
        expect(await store.readEntries(2n, 10)).toEqual([good(2), good(3)])
        expect(await store.readEntries(9n, 3)).toEqual([])
        expect(await store.readEntry(4n)).toBeUndefined()
        // digest(1000) names entries 0 and 2 (the bad entry 1 is under nothing); digest(1001) entry 3.
        expect(await store.matches({ digest: digest(1000) }, 4n)).toEqual(
          new Map([
            [0, key(0)],
            [2, key(2)],
          ]),
        )
        expect(await store.matches({ digest: digest(1000) }, 2n)).toEqual(new Map([[0, key(0)]]))
        expect(await store.matches({ digest: digest(1001) }, 4n)).toEqual(new Map([[3, key(0)]]))
        expect(await store.matches({ commit: commit(0) }, 4n)).toEqual(new Map([[0, key(0)]]))
        expect(await store.matches({ digest: digest(9999) }, 4n)).toEqual(new Map())
        const read = await store.readSubjects([
          [commit(0), 'pkg-0'],
          [commit(0), 'other'],
        ])
        expect([...read.keys()]).toEqual([subjectKey(commit(0), 'pkg-0')])

        // A second batch continues the first and replaces the subject record.
        const replaced = [
          { digest: digest(0), index: 0, keyId: key(0) },
          { digest: digest(7), index: 4, keyId: key(1) },
        ]
        await store.writeIndexBatch(state(5, 5), {
          from: 4n,
          records: [good(4)],
          subjects: new Map([[subjectKey(commit(0), 'pkg-0'), replaced]]),
          indexed: 5n,
        })
        expect(await store.matches({ commit: commit(0) }, 5n)).toEqual(
          new Map([
            [0, key(0)],
            [4, key(1)],
          ]),
        )
        expect(
          (await store.readSubjects([[commit(0), 'pkg-0']])).get(subjectKey(commit(0), 'pkg-0')),
        ).toEqual(replaced)
      } finally {
        await store.close()
      }
    })

    test('what was written is there after reopening', async () => {
      const { store, reopen } = await factory.open()
      await store.writeIndexBatch(state(2, 2), {
        from: 0n,
        records: [good(0), good(1)],
        subjects: new Map(),
        indexed: 2n,
      })
      await store.close()
      if (reopen === undefined) return
      const again = await reopen()
      try {
        expect(await again.readState()).toEqual(state(2, 2))
        expect(await again.readEntry(1n)).toEqual(good(1))
        expect(await again.matches({ digest: digest(1) }, 2n)).toEqual(new Map([[1, key(1)]]))
      } finally {
        await again.close()
      }
    })
  })
}
