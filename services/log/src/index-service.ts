// The verifiable index in the log process (docs/design/verifiable-index.md), for a LevelDB log: the output
// log `<origin>/index` in `<data>/index-db` with its key `<data>/index.key`, the builder that follows the
// log's commits, and the lookup that proves its answer complete.
import { join } from 'node:path'
import { parseVerifierKey } from '@ledger/tlog'
import { encodeOutputLeaf, mapKey, type IndexBatchLookupAnswer, type IndexLookupAnswer } from '@ledger/vindex'
import { MAX_INDEX_BATCH_ENTRIES } from './index-batch.js'
import { IndexBuilder } from './index-builder.js'
import { LevelStore } from './level-store.js'
import { loadOrCreateLogKey, type LogKey } from './log-key.js'
import { LogReader } from './log-reader.js'
import type { TreeHead } from './log-tree.js'
import type { LogNode } from './node.js'
import { Sequencer } from './sequencer.js'
import type { LogStore } from './store.js'
import { TileCache } from './tile-cache.js'
import { LogServerError } from './errors.js'
import { Witnessing, type WitnessingOptions } from './witnessing.js'

export const INDEX_KEY_FILE = 'index.key'
/** The map as of the newest output leaf, saved at a clean close so that a restart need not re-read the log. */
export const INDEX_SNAPSHOT_FILE = 'index-map.snapshot'

/** GET /api/v1/index/lookup: one key's complete list, proven. */
export type { IndexBatchLookupAnswer, IndexLookupAnswer }

export interface IndexService {
  readonly origin: string
  readonly verifierKey: string
  /**
   * The output checkpoint served (under /index/checkpoint, and in lookups): with witnesses, the newest the
   * quorum cosigned (as the log's own); without, the newest committed. Tiles serve any size up to the tree.
   */
  head(): TreeHead
  tiles: TileCache
  /** Input entries committed but not yet covered by the served output leaf. */
  trailing(): bigint
  lookup(key: string): Promise<IndexLookupAnswer>
  /**
   * POST /api/v1/index/lookup: every key (validated by parseIndexBatchRequest) against one output leaf.
   * Throws LogServerError ANSWER_TOO_LARGE when they list more than MAX_INDEX_BATCH_ENTRIES entries.
   */
  lookupBatch(keys: readonly string[]): Promise<IndexBatchLookupAnswer>
  close(): Promise<void>
}

export interface IndexServiceOptions {
  dataDir: string
  /** The log's origin; the index's is `<origin>/index`. */
  origin: string
  input: LogStore
  inputReader: LogReader
  node: LogNode
  cacheBytes: number
  /** --new-identity: an index.key without an index database was made before the first start (see log.key). */
  newIdentity?: boolean
  /**
   * The witnesses that cosign the output log's checkpoints, as the log's (the same list and quorum); its
   * witnessed checkpoint is kept in the index's own store.
   */
  witnessing?: Omit<WitnessingOptions, 'logVerifier' | 'store' | 'consistencyProof'>
}

/** Longest single wait of the builder for the witnesses (it waits again until they cosign or it closes). */
const SERVED_WAIT_MS = 60_000

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')

export async function openIndexService(options: IndexServiceOptions): Promise<IndexService> {
  const origin = `${options.origin}/index`
  const store = await LevelStore.open(join(options.dataDir, 'index-db'))
  try {
    const meta = await store.readMeta()
    const recordKey = (key: LogKey) =>
      store.writeMeta({ origin, verifierKey: key.verifierKey, createdAt: new Date().toISOString() })
    const { key, created } = await loadOrCreateLogKey(
      options.dataDir,
      origin,
      origin,
      meta?.verifierKey,
      recordKey,
      INDEX_KEY_FILE,
    )
    if (meta === undefined && !created) {
      if (!options.newIdentity) {
        // The key has signed output checkpoints; a new output log under it would contradict them.
        throw new LogServerError(
          'DATA_MISMATCH',
          `${join(options.dataDir, INDEX_KEY_FILE)} exists but ${join(options.dataDir, 'index-db')} holds no index: ` +
            'restore the index database, or move index.key away to start a new index under a new key ' +
            '(clients that pinned the old key will refuse the new one until told); pass --new-identity only ' +
            'if this key has never signed anything (made before the first start, to configure witnesses)',
        )
      }
      await recordKey(key)
    } else if (meta !== undefined && (meta.verifierKey !== key.verifierKey || meta.origin !== origin)) {
      throw new LogServerError(
        'DATA_MISMATCH',
        `the index database belongs to ${meta.verifierKey}, not ${key.verifierKey}`,
      )
    }
    const tiles = new TileCache(store, options.cacheBytes)
    const reader = new LogReader(tiles)
    const sequencer = await Sequencer.open(store, tiles, key.signer, origin, {
      batchSize: 64,
      batchWaitMs: 0,
    })
    let witnessing: Witnessing | undefined
    let closing = false
    if (options.witnessing !== undefined) {
      const report = options.witnessing.report ?? ((message: string) => console.error(message))
      witnessing = await Witnessing.open(
        {
          ...options.witnessing,
          logVerifier: parseVerifierKey(key.verifierKey),
          store,
          consistencyProof: (from, to) => reader.consistencyProof(from, to),
          report: (message) => report(`index: ${message}`),
        },
        sequencer.head,
      )
      const started = witnessing
      sequencer.onCommit((head) => started.onCheckpoint(head))
    }
    const served = () => witnessing?.served ?? sequencer.head
    const awaitServed = async (size: bigint): Promise<boolean> => {
      while (!closing) if ((await witnessing!.waitForSize(size, SERVED_WAIT_MS)) !== undefined) return true
      return false
    }
    let builder: IndexBuilder
    try {
      builder = await IndexBuilder.start({
        input: options.input,
        inputHead: options.node.head,
        output: store,
        sequencer,
        snapshotPath: join(options.dataDir, INDEX_SNAPSHOT_FILE),
        served,
        ...(witnessing !== undefined && { awaitServed }),
      })
    } catch (err) {
      await witnessing?.close()
      throw err
    }
    options.node.onCommit((head, batch) => builder.onCommit(head, batch))
    /**
     * Every key answered against the served output checkpoint: the map, its last leaf, and that checkpoint
     * are taken together (IndexBuilder.atServed: with witnesses the served leaf's own map, else the newest
     * leaf's, between two builder steps).
     */
    const answer_ = async (keys: readonly string[], maxEntries?: number): Promise<IndexBatchLookupAnswer> => {
      const snapshot = await builder.atServed(({ head, leaf, leafIndex, map }) => ({
        leaf,
        leafIndex,
        head,
        results: keys.map((key) => {
          const k = mapKey(key)
          return { key, indexes: [...(map.get(k) ?? [])], mapProof: b64(map.prove(k)) }
        }),
      }))
      const union = [...new Set(snapshot.results.flatMap((r) => r.indexes))].sort((a, b) => a - b)
      if (maxEntries !== undefined && union.length > maxEntries) {
        throw new LogServerError(
          'ANSWER_TOO_LARGE',
          `these keys list ${union.length} entries, more than the ${maxEntries} one answer carries: ask for fewer keys`,
        )
      }
      const { head } = snapshot
      const inputSize = snapshot.leaf.inputSize
      const [leafProof, entries] = await Promise.all([
        reader.inclusionProof(snapshot.leafIndex, head.size),
        Promise.all(
          union.map(async (index) => {
            const [leaf, proof] = await Promise.all([
              options.inputReader.leaf(BigInt(index)),
              options.inputReader.inclusionProof(BigInt(index), inputSize),
            ])
            return { index, leaf: b64(leaf), proof: proof.map(b64) }
          }),
        ),
      ])
      return {
        checkpoint: head.checkpoint,
        leafIndex: Number(snapshot.leafIndex),
        leaf: b64(encodeOutputLeaf(snapshot.leaf)),
        leafProof: leafProof.map(b64),
        results: snapshot.results,
        entries,
      }
    }
    return {
      origin,
      verifierKey: key.verifierKey,
      head: served,
      tiles,
      trailing: () => builder.trailingServed(options.node.head.size),
      async lookup(keyString: string): Promise<IndexLookupAnswer> {
        const answer = await answer_([keyString])
        const result = answer.results[0]!
        return {
          checkpoint: answer.checkpoint,
          leafIndex: answer.leafIndex,
          leaf: answer.leaf,
          leafProof: answer.leafProof,
          key: keyString,
          mapProof: result.mapProof,
          indexes: result.indexes,
          entries: answer.entries,
        }
      },
      lookupBatch: (keys: readonly string[]) => answer_(keys, MAX_INDEX_BATCH_ENTRIES),
      async close() {
        closing = true
        builder.stopRebuild()
        await witnessing?.close()
        await builder.settled().catch(() => undefined)
        await builder.writeSnapshot()
        await sequencer.drain()
        await store.close()
      },
    }
  } catch (err) {
    await store.close()
    throw err
  }
}
