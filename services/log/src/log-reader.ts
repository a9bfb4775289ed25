import { TILE_WIDTH, proveConsistency, proveInclusion, type Hash, type SubtreeId } from '@ledger/tlog'
import type { TileCache } from './tile-cache.js'

const TILE_SIZE = BigInt(TILE_WIDTH)

/**
 * Reads committed entries and proofs from the tiles (cache, then store). Every index and size given must
 * be within a committed tree: the callers check them against a committed tree head first.
 */
export class LogReader {
  /** The path to the root of the tile subtree starting at leaf `start`, in the tree of `size`. */
  private sharedPath: { size: bigint; start: bigint; hashes: Promise<readonly Hash[]> } | undefined

  constructor(private readonly tiles: TileCache) {}

  /** The leaf bytes of committed entry `index`. Throws if the store lost it. */
  async leaf(index: bigint): Promise<Uint8Array> {
    const leaf = await this.tiles.leaf(index)
    if (leaf === undefined) throw new Error(`entry ${index} is missing from the store`)
    return leaf
  }

  /**
   * RFC 9162 inclusion proof of entry `index` in the committed tree of `size` entries.
   *
   * The leaves of one level-0 tile, [start, start + width) with width 256 or the right edge's, are a subtree
   * of every tree that holds them (RFC 6962 splits at powers of two, so the recursion reaches that range),
   * and a proof is the leaf's path inside it followed by the path of that subtree to the root, which all
   * its leaves share. A batch's receipts are mostly leaves of one tile proved into one tree: the shared
   * part is kept for the last (size, tile) asked, and each receipt computes only its path in the tile.
   */
  async inclusionProof(index: bigint, size: bigint): Promise<Hash[]> {
    const start = index - (index % TILE_SIZE)
    const width = size - start < TILE_SIZE ? size - start : TILE_SIZE
    const inTile = proveInclusion(index - start, width, (ids) =>
      this.tiles.readSubtrees(
        ids.map((id): SubtreeId => ({ level: id.level, index: id.index + (start >> BigInt(id.level)) })),
      ),
    )
    const shared = this.sharedPath
    if (shared !== undefined && shared.size === size && shared.start === start) {
      const [own, upper] = await Promise.all([inTile, shared.hashes])
      return own.concat(upper)
    }
    // A batch's receipts all ask at once: the first computes the whole proof, and the others wait for
    // its shared part rather than each computing the whole proof too.
    const whole = proveInclusion(index, size, this.tiles.readSubtrees)
    const hashes = Promise.all([whole, inTile]).then(([proof, own]) => proof.slice(own.length))
    const entry = { size, start, hashes }
    this.sharedPath = entry
    hashes.catch(() => {
      // Its own caller sees the failure; the next one tries again rather than inherit it.
      if (this.sharedPath === entry) this.sharedPath = undefined
    })
    const [proof] = await Promise.all([whole, inTile])
    return proof
  }

  /** RFC 9162 consistency proof between committed tree sizes `from` <= `to`. */
  consistencyProof(from: bigint, to: bigint): Promise<Hash[]> {
    return proveConsistency(from, to, this.tiles.readSubtrees)
  }
}
