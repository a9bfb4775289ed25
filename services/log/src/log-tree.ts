// The committed tree as the sequencer resumes it: the stored state checked against itself, and the right
// edge (partial tiles, partial entry bundle) read back from the store.
import {
  CompactRange,
  TreeEdge,
  bytesEqual,
  encodeCheckpoint,
  parseCheckpoint,
  partialBundleForSize,
  partialTilesForSize,
  signNote,
  type Hash,
  type NoteSigner,
  type TileContent,
} from '@ledger/tlog'
import { LogServerError } from './errors.js'
import type { CommittedState, LogStore } from './store.js'

/** A committed tree head: its size, root and signed checkpoint. */
export interface TreeHead {
  size: bigint
  root: Hash
  /** The signed checkpoint note (C2SP tlog-checkpoint), as text and as the bytes served. */
  checkpoint: string
  checkpointBytes: Buffer
}

/** Signs the checkpoint of a tree (no extension lines). */
export function signCheckpoint(signer: NoteSigner, origin: string, size: bigint, root: Hash): string {
  return signNote(encodeCheckpoint({ origin, size, root, extensions: [] }), [signer])
}

/** The tree head a committed state describes. */
export function headOf(state: CommittedState, root: Hash): TreeHead {
  const checkpointBytes = Buffer.from(state.checkpoint)
  return { size: state.size, root, checkpoint: checkpointBytes.toString('utf8'), checkpointBytes }
}

/**
 * Checks that a stored state holds together (its checkpoint describes its compact range, for `origin`)
 * and returns its compact range and head. Throws LogServerError DATA_MISMATCH.
 */
export function checkState(state: CommittedState, origin: string): { range: CompactRange; head: TreeHead } {
  let range: CompactRange
  try {
    range = CompactRange.deserialize(state.compactRange)
  } catch (cause) {
    throw new LogServerError('DATA_MISMATCH', 'the stored compact range does not decode', { cause })
  }
  const text = Buffer.from(state.checkpoint).toString('utf8')
  let parsed
  try {
    parsed = parseCheckpoint(text.slice(0, text.indexOf('\n\n') + 1))
  } catch (cause) {
    throw new LogServerError('DATA_MISMATCH', 'the stored checkpoint does not parse', { cause })
  }
  const root = range.root()
  if (range.size !== state.size || parsed.size !== state.size || !bytesEqual(parsed.root, root)) {
    throw new LogServerError('DATA_MISMATCH', 'the stored checkpoint does not match the stored tree')
  }
  if (parsed.origin !== origin) {
    throw new LogServerError('DATA_MISMATCH', `the stored log has origin ${JSON.stringify(parsed.origin)}`)
  }
  return { range, head: headOf(state, root) }
}

/**
 * Reads the right edge of the committed tree of `range.size` leaves back from the store: its partial tiles
 * and the leaves of its partial entry bundle (one more is asked for: a leaf past the size would mean the
 * store is not what its state says). Throws LogServerError DATA_MISMATCH when they do not fit the size.
 */
export async function loadEdge(store: LogStore, range: CompactRange): Promise<TreeEdge> {
  const size = range.size
  const tiles: TileContent[] = []
  for (const id of partialTilesForSize(size)) {
    const data = await store.readTile(id.level, id.index)
    if (data !== undefined) tiles.push({ level: id.level, index: id.index, data })
  }
  const bundle = partialBundleForSize(size)
  const leaves = bundle === undefined ? [] : await store.readLeaves(bundle.index * 256n, bundle.width + 1)
  try {
    return TreeEdge.restore(range, tiles, leaves)
  } catch (cause) {
    throw new LogServerError('DATA_MISMATCH', `the stored tree edge: ${(cause as Error).message}`, { cause })
  }
}

/**
 * The committed tree of `store`: its head and edge, after the checks above. A store that never committed
 * gets the empty tree's signed checkpoint committed first. Throws LogServerError DATA_MISMATCH.
 */
export async function openLogTree(
  store: LogStore,
  signer: NoteSigner,
  origin: string,
): Promise<{ edge: TreeEdge; head: TreeHead }> {
  let state = await store.readState()
  if (state === undefined) {
    const empty = TreeEdge.empty()
    const checkpoint = signCheckpoint(signer, origin, 0n, empty.root())
    state = {
      size: 0n,
      compactRange: empty.compactRange().serialize(),
      checkpoint: Buffer.from(checkpoint, 'utf8'),
    }
    await store.commit({ state, tiles: [], entries: [] })
  }
  const { range, head } = checkState(state, origin)
  return { edge: await loadEdge(store, range), head }
}
