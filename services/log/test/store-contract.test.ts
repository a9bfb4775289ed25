// The storage contract's conformance suite (store-conformance.ts) against every backend.
import { postgresDatabase } from '../../../test/support/postgres-test.js'
import { LevelStore } from '../src/level-store.js'
import { PostgresStore } from '../src/postgres-store.js'
import { tempDir } from './helpers.js'
import { MemoryStore } from './memory-store.js'
import { describeStoreContract } from './store-conformance.js'

describeStoreContract('in-memory (the tests’ fake)', {
  create: async (beforeWrite) => new MemoryStore({ beforeWrite }),
  cleanup: async () => {},
})

{
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  describeStoreContract('LevelDB', {
    create: async (beforeWrite) => {
      dir = await tempDir()
      return LevelStore.open(dir.path, { beforeWrite })
    },
    reopen: async (store, beforeWrite) => {
      await store.close()
      return LevelStore.open(dir!.path, { beforeWrite })
    },
    cleanup: async () => {
      await dir?.remove()
      dir = undefined
    },
  })
}

{
  let database: Awaited<ReturnType<typeof postgresDatabase>> | undefined
  describeStoreContract('PostgreSQL', {
    create: async (beforeWrite) => {
      database = await postgresDatabase()
      return PostgresStore.open(database.url, { beforeWrite })
    },
    reopen: async (store, beforeWrite) => {
      await store.close()
      return PostgresStore.open(database!.url, { beforeWrite })
    },
    cleanup: async () => {
      await database?.drop()
      database = undefined
    },
  })
}
