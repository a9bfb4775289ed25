// ClusterNode on a real PostgreSQL database: the sequencing process takes what the other processes queue.
// Queue ids are handed out at INSERT and become visible at COMMIT, so a row with a lower id can appear after
// a higher one was taken; it must still be sequenced (it once waited forever and its submitter got 503).
import { generateNoteKey, hashLeaf, parseSignerKey } from '@ledger/tlog'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ClusterNode } from '../src/cluster-node.js'
import { PendingQueue, PostgresStore } from '../src/postgres-store.js'
import { TileCache } from '../src/tile-cache.js'
import { postgresDatabase } from '../../../test/support/postgres-test.js'

const ORIGIN = 'cluster-node.test/log'
const { signerKey } = generateNoteKey(ORIGIN, new Uint8Array(32).fill(9))

function entry(i: number) {
  const leaf = new TextEncoder().encode(`queued leaf ${i}`)
  return {
    leaf,
    leafHash: hashLeaf(leaf),
    keyId: (i % 3).toString(16).padStart(64, '0'),
    payloadHash: i.toString(16).padStart(64, '0'),
    digests: [`sha256:${i.toString(16).padStart(64, '0')}`],
    commits: ['0'.repeat(40)],
  }
}

let database: Awaited<ReturnType<typeof postgresDatabase>>
beforeAll(async () => {
  database = await postgresDatabase()
})
afterAll(async () => {
  await database?.drop()
})

describe('ClusterNode', () => {
  test('a queued row that becomes visible after a higher id was taken is sequenced', async () => {
    const store = await PostgresStore.open(database.url)
    const fatal: Error[] = []
    const node = await ClusterNode.start({
      url: database.url,
      store,
      tiles: new TileCache(store, 1 << 20),
      signer: parseSignerKey(signerKey),
      origin: ORIGIN,
      sequencer: { batchSize: 100, batchWaitMs: 0 },
      leaseRetryMs: 50,
      pollMs: 50,
      pendingWaitMs: 60_000,
      onFatal: (err) => fatal.push(err),
      report: () => undefined,
    })
    const late = new pg.Client({ connectionString: database.url })
    await late.connect()
    try {
      expect(node.isSequencer).toBe(true)
      // Another process's insert takes id 1 and stays uncommitted...
      const slow = entry(1)
      await late.query('BEGIN')
      await late.query(
        `INSERT INTO ledger_pending (leaf, leaf_hash, key_id, payload_hash, digests, commits)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [
          Buffer.from(slow.leaf),
          Buffer.from(slow.leafHash),
          Buffer.from(slow.keyId, 'hex'),
          Buffer.from(slow.payloadHash, 'hex'),
          slow.digests,
          slow.commits,
        ],
      )
      // ...while a later one (id 2) commits and is sequenced.
      await new PendingQueue(store.pool).add([entry(2)])
      while ((await store.findEntries([entry(2)]))[0] === undefined) await sleep(20)
      expect((await store.findEntries([slow]))[0]).toBeUndefined()
      await late.query('COMMIT')
      while ((await store.findEntries([slow]))[0] === undefined) await sleep(20)
      expect(node.head.size).toBeGreaterThanOrEqual(2n)
      // The queue empties once both are in.
      while ((await late.query('SELECT count(*)::int AS n FROM ledger_pending')).rows[0].n !== 0)
        await sleep(20)
      expect(fatal).toEqual([])
    } finally {
      await late.end()
      await node.close()
      await store.close()
    }
  })
})

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
