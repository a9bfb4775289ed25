// Copies a log from one store to another (LevelDB to PostgreSQL, for an operator who outgrows one machine)
// through the storage contract alone, and proves that the copy is the same log.
import { decodeLogEntry, parseStatement, statementIndexKeys } from '@ledger/attestation'
import {
  CompactRange,
  TreeEdge,
  bytesEqual,
  hashLeaf,
  toHex,
  treeRoot,
  type NoteSigner,
  type SubtreeHashReader,
} from '@ledger/tlog'
import { LogServerError } from './errors.js'
import { checkState, loadEdge, signCheckpoint } from './log-tree.js'
import type { CommittedState, IndexedEntry, LogBackend } from './store.js'
import { TileCache } from './tile-cache.js'

/** The index rows of a logged leaf, derived from the leaf alone as the log derived them when it logged it. */
export function indexedEntryOf(index: bigint, leaf: Uint8Array): IndexedEntry {
  const entry = decodeLogEntry(leaf)
  const { digests, commits } = statementIndexKeys(parseStatement(entry.payload))
  return { index, leaf, keyId: entry.keyId, payloadHash: toHex(entry.payloadHash), digests, commits }
}

export interface MigrateOptions {
  source: LogBackend
  target: LogBackend
  /** The log's key: intermediate states of the copy are signed checkpoints of its prefixes. */
  signer: NoteSigner
  origin: string
  /** Entries per commit into the target. */
  batchSize: number
  /** Progress (entries copied so far, of `total`). */
  onProgress?: (copied: bigint, total: bigint) => void
}

/** What a migration did and checked. */
export interface MigrateResult {
  size: bigint
  /** Entries copied by this run (a run resumes where an interrupted one stopped). */
  copied: bigint
  /** The log's checkpoint, now the target's state, byte for byte. */
  checkpoint: string
  /** The root recomputed from the target's leaves, and from its tiles: both equal the checkpoint's. */
  root: string
}

/**
 * Copies the log of `source` into `target`: meta, every leaf with its index rows (derived from the leaf
 * again), the tiles (computed again from the leaves), the signed checkpoint and the witnessed checkpoint.
 * The target is always a valid log: each commit carries a checkpoint of the prefix it holds, signed with
 * the log's key, so an interrupted copy resumes (a target that holds a prefix of the source's tree
 * continues from it; anything else is refused). At the end the target's state is the source's signed
 * checkpoint, byte for byte, and the copy is proven: the root recomputed from the target's leaves, and
 * the root of the target's tiles, both equal the checkpoint's. Throws LogServerError DATA_MISMATCH when
 * the target belongs to another log or the copy does not prove out.
 */
export async function migrateLog(options: MigrateOptions): Promise<MigrateResult> {
  const { source, target, signer, origin } = options
  const meta = await source.readMeta()
  const state = await source.readState()
  if (meta === undefined || state === undefined) {
    throw new LogServerError('DATA_MISMATCH', 'the source holds no log')
  }
  const { head } = checkState(state, origin)
  const targetMeta = await target.readMeta()
  if (targetMeta === undefined) await target.writeMeta(meta)
  else if (targetMeta.verifierKey !== meta.verifierKey || targetMeta.origin !== meta.origin) {
    throw new LogServerError('DATA_MISMATCH', `the target holds another log (${targetMeta.verifierKey})`)
  }

  // Resume from what the target holds: it must be a prefix of the source's tree.
  const sourceTiles = new TileCache(source, 16 << 20)
  let edge = TreeEdge.empty()
  const resumed = await target.readState()
  if (resumed !== undefined) {
    const { range } = checkState(resumed, origin)
    if (range.size > head.size) throw new LogServerError('DATA_MISMATCH', 'the target holds a larger tree')
    const prefixRoot = await treeRoot(range.size, sourceTiles.readSubtrees)
    if (!bytesEqual(prefixRoot, range.root())) {
      throw new LogServerError('DATA_MISMATCH', 'the target holds a tree that is not a prefix of the source')
    }
    edge = await loadEdge(target, range)
  } else {
    const empty = TreeEdge.empty()
    await target.commit({
      state: {
        size: 0n,
        compactRange: empty.compactRange().serialize(),
        checkpoint: Buffer.from(signCheckpoint(signer, origin, 0n, empty.root()), 'utf8'),
      },
      tiles: [],
      entries: [],
    })
  }
  const from = edge.size

  while (edge.size < head.size) {
    const start = edge.size
    const count = Number(
      head.size - start < BigInt(options.batchSize) ? head.size - start : BigInt(options.batchSize),
    )
    const leaves: Uint8Array[] = []
    while (leaves.length < count) {
      const chunk = await source.readLeaves(
        start + BigInt(leaves.length),
        Math.min(256, count - leaves.length),
      )
      if (chunk.length === 0)
        throw new LogServerError('DATA_MISMATCH', `the source lacks leaf ${start + BigInt(leaves.length)}`)
      leaves.push(...chunk)
    }
    const entries = leaves.map((leaf, i) => indexedEntryOf(start + BigInt(i), leaf))
    const growth = edge.append(entries)
    const size = growth.edge.size
    const root = growth.edge.root()
    const checkpoint =
      size === head.size ? state.checkpoint : Buffer.from(signCheckpoint(signer, origin, size, root), 'utf8')
    const next: CommittedState = { size, compactRange: growth.edge.compactRange().serialize(), checkpoint }
    await target.commit({ state: next, tiles: growth.tiles, entries })
    edge = growth.edge
    options.onProgress?.(size, head.size)
  }
  const witnessed = await source.readWitnessed()
  if (witnessed !== undefined) await target.writeWitnessed(witnessed)

  // The proof: the target's own state, leaves and tiles, read back.
  const copied = await target.readState()
  if (copied === undefined || !bytesEqual(copied.checkpoint, state.checkpoint)) {
    throw new LogServerError('DATA_MISMATCH', "the target's checkpoint is not the source's")
  }
  const fromLeaves = CompactRange.empty()
  for (let start = 0n; start < head.size; start += 256n) {
    for (const leaf of await target.readLeaves(start, 256)) fromLeaves.append(hashLeaf(leaf))
  }
  const tiles = new TileCache(target, 16 << 20)
  const reader: SubtreeHashReader = tiles.readSubtrees
  const fromTiles = await treeRoot(head.size, reader)
  if (
    fromLeaves.size !== head.size ||
    !bytesEqual(fromLeaves.root(), head.root) ||
    !bytesEqual(fromTiles, head.root)
  ) {
    throw new LogServerError(
      'DATA_MISMATCH',
      "the target's leaves or tiles do not give the checkpoint's root",
    )
  }
  return {
    size: head.size,
    copied: head.size - from,
    checkpoint: head.checkpoint,
    root: Buffer.from(head.root).toString('base64'),
  }
}
