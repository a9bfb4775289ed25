// @ledger/vindex: the verifiable index's pure core (docs/design/verifiable-index.md): MapFn, the map and
// its proofs, the output log's leaf. No I/O.
export { mapFn, mapKey } from './mapfn.js'
export type { MapFnInput } from './mapfn.js'
export { EMPTY, innerHash, keyBit, mapLeafHash, valueHash } from './hashing.js'
export { VerifiableMap } from './map.js'
export {
  decodeMapProof,
  encodeMapProof,
  MapProofError,
  PROOF_ABSENT_EMPTY,
  PROOF_ABSENT_OTHER,
  PROOF_PRESENT,
  verifyMapProof,
} from './proof.js'
export type { MapProof } from './proof.js'
export { decodeOutputLeaf, encodeOutputLeaf, OUTPUT_LEAF_SIZE, OUTPUT_LEAF_VERSION } from './output-leaf.js'
export type { OutputLeaf } from './output-leaf.js'
export { IndexAuditor } from './audit.js'
export type { IndexFinding } from './audit.js'
export type { IndexBatchLookupAnswer, IndexLookupAnswer } from './wire.js'
