// GET /api/v1/index/lookup's answer on the wire (docs/design/verifiable-index.md §5): the server builds
// it, the client verifies it. Bytes are base64; indexes are JSON numbers.
export interface IndexLookupAnswer {
  /** The output log's checkpoint (signed by the index key) and its newest leaf, proven in it. */
  checkpoint: string
  leafIndex: number
  leaf: string
  leafProof: string[]
  /** The key string asked about, its map proof, and every log index filed under it (ascending). */
  key: string
  mapProof: string
  indexes: number[]
  /** Each listed entry, with its inclusion proof in the log at the leaf's input size. */
  entries: { index: number; leaf: string; proof: string[] }[]
}

/**
 * POST /api/v1/index/lookup's answer (docs/design/verifiable-index.md §5): every key of the request
 * answered against ONE output leaf, in request order; each entry any key lists is sent once.
 */
export interface IndexBatchLookupAnswer {
  checkpoint: string
  leafIndex: number
  leaf: string
  leafProof: string[]
  results: { key: string; mapProof: string; indexes: number[] }[]
  /** The union of the listed indexes, ascending, each with its inclusion proof at the leaf's input size. */
  entries: { index: number; leaf: string; proof: string[] }[]
}
