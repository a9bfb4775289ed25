// The monitor's side of the verifiable index (docs/design/verifiable-index.md): rebuild the map from the
// log's entries alone, in log order, and check every output leaf when the rebuild reaches its input size:
// its input root must be the log's root there, and its map root the rebuilt map's. A leaf that differs is a
// finding, with what it should have said. Pure: the caller feeds entries and leaves.
import { bytesEqual, CompactRange, type Hash } from '@ledger/tlog'

import { VerifiableMap } from './map.js'
import type { MapFnInput } from './mapfn.js'
import type { OutputLeaf } from './output-leaf.js'

export interface IndexFinding {
  /** The output leaf's index in the output log, and what it says. */
  leafIndex: bigint
  leaf: OutputLeaf
  /** What it should say, from the log's own entries. */
  inputRoot: Hash
  mapRoot: Hash
}

export class IndexAuditor {
  private readonly map = new VerifiableMap()
  private range = CompactRange.empty()
  private filed = 0n
  private readonly waiting: { leafIndex: bigint; leaf: OutputLeaf }[] = []
  private lastSize = -1n
  readonly findings: IndexFinding[] = []
  /** Output leaves checked so far. */
  checked = 0

  /**
   * An auditor that continues after output leaves already checked, up to input size `range.size`: `range`
   * is the input log's compact range at that size (e.g. from its authenticated tiles), `inputs` the MapFn
   * inputs of entries [0, range.size), in order (e.g. from the monitor's own records), and `lastSize` the
   * input size of the last output leaf checked (undefined if none was). Throws RangeError when `inputs`
   * does not hold exactly range.size entries.
   */
  static resume(
    range: CompactRange,
    inputs: Iterable<MapFnInput>,
    lastSize: bigint | undefined,
  ): IndexAuditor {
    const auditor = new IndexAuditor()
    for (const input of inputs) auditor.map.addEntry(Number(auditor.filed++), input)
    if (auditor.filed !== range.size) {
      throw new RangeError(`${auditor.filed} entries given for a range of ${range.size}`)
    }
    auditor.range = range
    if (lastSize !== undefined) auditor.lastSize = lastSize
    return auditor
  }

  /** Entries of the log filed so far. */
  get size(): bigint {
    return this.filed
  }

  /**
   * An output leaf, in output log order, given before the entries up to its input size: checked when the
   * rebuild gets there. Input sizes must increase strictly (else it is a finding by itself: throws).
   */
  addOutputLeaf(leafIndex: bigint, leaf: OutputLeaf): void {
    if (leaf.inputSize <= this.lastSize) {
      throw new RangeError(`output leaf ${leafIndex} goes back to input size ${leaf.inputSize}`)
    }
    if (leaf.inputSize < this.filed) throw new RangeError('an output leaf came after its entries were filed')
    this.lastSize = leaf.inputSize
    this.waiting.push({ leafIndex, leaf })
    this.checkReached()
  }

  /** The log's next entry: its leaf hash and what MapFn reads of it. */
  addEntry(leafHash: Hash, input: MapFnInput): void {
    this.map.addEntry(Number(this.filed), input)
    this.range.append(leafHash)
    this.filed++
    this.checkReached()
  }

  private checkReached(): void {
    while (this.waiting.length > 0 && this.waiting[0]!.leaf.inputSize === this.filed) {
      const { leafIndex, leaf } = this.waiting.shift()!
      const inputRoot = this.range.root()
      const mapRoot = this.map.rootHash()
      this.checked++
      if (!bytesEqual(inputRoot, leaf.inputRoot) || !bytesEqual(mapRoot, leaf.mapRoot)) {
        this.findings.push({ leafIndex, leaf, inputRoot, mapRoot })
      }
    }
  }
}
