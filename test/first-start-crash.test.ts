// A first start that dies between making its key and recording it in its store must start again, not be
// refused as "a key without its store". A key file beside a store that records nothing means that the
// store was lost, and is refused; so a new key waits at `<key>.new` until its store records it, and only
// then is renamed into place. A crash leaves one of two states, made here as a crash leaves them (by the
// files, and by a store whose record fails): the key pending and the store empty (the next start makes a
// new key: the pending one never signed anything), or the key pending and the store recording it (the next
// start puts it in place and keeps it). The log, its verifiable index and the witness follow the rule.
import { access, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateNoteKey } from '@ledger/tlog'
import {
  defaultConfig as logDefaults,
  LevelStore,
  startLogServer,
  type LogBackend,
  type LogConfig,
} from '@ledger/log-server'
import {
  defaultConfig as witnessDefaults,
  LevelWitnessStore,
  startWitness,
  type WitnessConfig,
} from '@ledger/witness'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'first-start-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  )

function logConfig(dataDir: string, overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...logDefaults(), dataDir, host: '127.0.0.1', port: 0, verifyWorkers: 0, ...overrides }
}

describe('the log', () => {
  it('a store whose record of a new key fails leaves no log.key; the next start makes the log', async () => {
    const data = join(dir, 'log-record-fails')
    const openStore = async (location: string): Promise<LogBackend> => {
      const inner = await LevelStore.open(location)
      return Object.assign(Object.create(inner) as LogBackend, {
        writeMeta: async () => {
          await inner.close()
          throw new Error('killed before the record')
        },
      })
    }
    await expect(startLogServer(logConfig(data), { openStore })).rejects.toThrow('killed before the record')
    expect(await exists(join(data, 'log.key'))).toBe(false)
    expect(await exists(join(data, 'log.key.new'))).toBe(true)

    const log = await startLogServer(logConfig(data))
    await log.close()
    expect(await exists(join(data, 'log.key.new'))).toBe(false)
    expect(await readFile(join(data, 'log.key'), 'utf8')).toMatch(/^PRIVATE\+KEY\+/)
  })

  it('another process recorded its own key first: this key is not put in place, and the start fails', async () => {
    const data = join(dir, 'log-other-recorded')
    const other = generateNoteKey('localhost/ledger')
    // As PostgreSQL's second process finds it: its write of the record loses to the one already there.
    const openStore = async (location: string): Promise<LogBackend> => {
      const inner = await LevelStore.open(location)
      return Object.assign(Object.create(inner) as LogBackend, {
        writeMeta: () =>
          inner.writeMeta({ origin: 'localhost/ledger', verifierKey: other.verifierKey, createdAt: 'x' }),
      })
    }
    await expect(startLogServer(logConfig(data), { openStore })).rejects.toThrow(
      `the database belongs to ${other.verifierKey}`,
    )
    expect(await exists(join(data, 'log.key'))).toBe(false)
  })

  it('killed after the record, before the rename: the next start puts the key in place and keeps the log', async () => {
    const data = join(dir, 'log-record-written')
    const first = await startLogServer(logConfig(data))
    const verifierKey = first.verifierKey
    await first.close()
    await rename(join(data, 'log.key'), join(data, 'log.key.new'))

    const again = await startLogServer(logConfig(data))
    await again.close()
    expect(again.verifierKey).toBe(verifierKey)
    expect(await exists(join(data, 'log.key.new'))).toBe(false)
  })

  it('a pending key that the store does not record does not stand in for a lost log.key', async () => {
    const data = join(dir, 'log-other-pending')
    await (await startLogServer(logConfig(data))).close()
    await rm(join(data, 'log.key'))
    await writeFile(join(data, 'log.key.new'), generateNoteKey('other.example/log').signerKey + '\n')
    await expect(startLogServer(logConfig(data))).rejects.toThrow(
      /log\.key is missing but the database already holds a log/,
    )
    expect(await exists(join(data, 'log.key'))).toBe(false)
  })

  it('the index: killed before or after its record, the next start goes on', async () => {
    const data = join(dir, 'index')
    const config = logConfig(data, { index: true })
    const first = await startLogServer(config)
    const indexKey = first.indexVerifierKey
    await first.close()

    // After the record: the same index key, put in place.
    await rename(join(data, 'index.key'), join(data, 'index.key.new'))
    const second = await startLogServer(config)
    await second.close()
    expect(second.indexVerifierKey).toBe(indexKey)
    expect(await exists(join(data, 'index.key.new'))).toBe(false)

    // Before the record (the index database empty): a new index key, and no refusal.
    await rm(join(data, 'index-db'), { recursive: true })
    await rename(join(data, 'index.key'), join(data, 'index.key.new'))
    const third = await startLogServer(config)
    await third.close()
    expect(third.indexVerifierKey).toMatch(/\/index\+/)
    expect(third.indexVerifierKey).not.toBe(indexKey)
    expect(await exists(join(data, 'index.key.new'))).toBe(false)
  })
})

describe('the witness', () => {
  async function witnessConfig(dataDir: string): Promise<WitnessConfig> {
    const logs = join(dir, 'logs.policy')
    await writeFile(logs, `log ${generateNoteKey('first-start.example/log').verifierKey}\n`)
    return { ...witnessDefaults(), dataDir, host: '127.0.0.1', port: 0, logsFile: logs }
  }

  it('a state whose record of a new key fails leaves no witness.key; the next start makes the witness', async () => {
    const data = join(dir, 'witness-record-fails')
    const config = await witnessConfig(data)
    const openStore = async (location: string) => {
      const inner = await LevelWitnessStore.open(location)
      return Object.assign(Object.create(inner) as LevelWitnessStore, {
        writeMeta: async () => {
          await inner.close()
          throw new Error('killed before the record')
        },
      })
    }
    await expect(startWitness(config, { openStore })).rejects.toThrow('killed before the record')
    expect(await exists(join(data, 'witness.key'))).toBe(false)

    const witness = await startWitness(config)
    await witness.close()
    expect(witness.created).toBe(true)
    expect(await exists(join(data, 'witness.key.new'))).toBe(false)
  })

  it('killed after the record, before the rename: the next start keeps the key', async () => {
    const data = join(dir, 'witness-record-written')
    const config = await witnessConfig(data)
    const first = await startWitness(config)
    await first.close()
    await rename(join(data, 'witness.key'), join(data, 'witness.key.new'))
    const again = await startWitness(config)
    await again.close()
    expect(again.verifierKey).toBe(first.verifierKey)
    expect(await exists(join(data, 'witness.key.new'))).toBe(false)
  })
})
