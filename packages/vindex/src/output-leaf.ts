// The output log's leaf (docs/design/verifiable-index.md §4).
import { HASH_SIZE, type Hash } from '@ledger/tlog'

export const OUTPUT_LEAF_VERSION = 0x01
export const OUTPUT_LEAF_SIZE = 1 + 8 + 2 * HASH_SIZE

/** After input entries [0, inputSize) with RFC 6962 root inputRoot, the map root is mapRoot. */
export interface OutputLeaf {
  inputSize: bigint
  inputRoot: Hash
  mapRoot: Hash
}

export function encodeOutputLeaf(leaf: OutputLeaf): Uint8Array {
  if (leaf.inputRoot.length !== HASH_SIZE || leaf.mapRoot.length !== HASH_SIZE) {
    throw new RangeError('roots are 32 bytes')
  }
  const out = new Uint8Array(OUTPUT_LEAF_SIZE)
  out[0] = OUTPUT_LEAF_VERSION
  new DataView(out.buffer).setBigUint64(1, leaf.inputSize)
  out.set(leaf.inputRoot, 9)
  out.set(leaf.mapRoot, 9 + HASH_SIZE)
  return out
}

export function decodeOutputLeaf(bytes: Uint8Array): OutputLeaf {
  if (bytes.length !== OUTPUT_LEAF_SIZE) throw new RangeError(`an output leaf is ${OUTPUT_LEAF_SIZE} bytes`)
  if (bytes[0] !== OUTPUT_LEAF_VERSION) throw new RangeError(`unknown output leaf version ${bytes[0]}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return {
    inputSize: view.getBigUint64(1),
    inputRoot: bytes.slice(9, 9 + HASH_SIZE),
    mapRoot: bytes.slice(9 + HASH_SIZE),
  }
}
