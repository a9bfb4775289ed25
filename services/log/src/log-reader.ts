import { proveConsistency, proveInclusion, type Hash } from '@ledger/tlog'
import type { TileCache } from './tile-cache.js'

/**
 * Reads committed entries and proofs from the tiles (cache, then store). Every index and size given must
 * be within a committed tree: the callers check them against a committed tree head first.
 */
export class LogReader {
  constructor(private readonly tiles: TileCache) {}

  /** The leaf bytes of committed entry `index`. Throws if the store lost it. */
  async leaf(index: bigint): Promise<Uint8Array> {
    const leaf = await this.tiles.leaf(index)
    if (leaf === undefined) throw new Error(`entry ${index} is missing from the store`)
    return leaf
  }

  /** RFC 9162 inclusion proof of entry `index` in the committed tree of `size` entries. */
  inclusionProof(index: bigint, size: bigint): Promise<Hash[]> {
    return proveInclusion(index, size, this.tiles.readSubtrees)
  }

  /** RFC 9162 consistency proof between committed tree sizes `from` <= `to`. */
  consistencyProof(from: bigint, to: bigint): Promise<Hash[]> {
    return proveConsistency(from, to, this.tiles.readSubtrees)
  }
}
