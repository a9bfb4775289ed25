// The MonitorStore contract, against LevelDB (in a temporary folder) and the in-memory store.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { LevelMonitorStore } from '../src/state-store.js'
import { MemoryMonitorStore } from './memory-monitor-store.js'
import { describeMonitorStoreContract } from './monitor-store-conformance.js'

const folders: string[] = []
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true })
})

describeMonitorStoreContract('LevelDB', {
  async open() {
    const folder = await mkdtemp(join(tmpdir(), 'monitor-store-'))
    folders.push(folder)
    const location = join(folder, 'db')
    return { store: await LevelMonitorStore.open(location), reopen: () => LevelMonitorStore.open(location) }
  },
})

describeMonitorStoreContract('memory', {
  async open() {
    return { store: new MemoryMonitorStore() }
  },
})

test('LevelDB: a second monitor cannot open a store in use', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'monitor-store-'))
  folders.push(folder)
  const first = await LevelMonitorStore.open(join(folder, 'db'))
  try {
    await expect(LevelMonitorStore.open(join(folder, 'db'))).rejects.toThrow()
  } finally {
    await first.close()
  }
})
