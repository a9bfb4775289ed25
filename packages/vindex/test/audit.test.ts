// The monitor's rebuild of the index: honest output leaves pass, a leaf with another map root or input root
// is a finding with what it should have said, and a leaf that goes back in input size is refused.
import { describe, expect, test } from 'vitest'
import { CompactRange, hashLeaf, rootFromLeafHashes, sha256, toHex } from '@ledger/tlog'
import { IndexAuditor, VerifiableMap, type MapFnInput } from '../src/index.js'

function entry(i: number): { leafHash: Uint8Array; input: MapFnInput } {
  return {
    leafHash: hashLeaf(new Uint8Array([i, i >> 8])),
    input: {
      keyId: toHex(sha256(new Uint8Array([i % 3]))),
      digests: [`sha256:${toHex(sha256(new Uint8Array([i % 10, 9])))}`],
      commits: [toHex(sha256(new Uint8Array([i % 4, 8]))).slice(0, 40)],
    },
  }
}

function honestLeaf(size: number) {
  const map = new VerifiableMap()
  const hashes: Uint8Array[] = []
  for (let i = 0; i < size; i++) {
    map.addEntry(i, entry(i).input)
    hashes.push(entry(i).leafHash)
  }
  return { inputSize: BigInt(size), inputRoot: rootFromLeafHashes(hashes), mapRoot: map.rootHash() }
}

describe('IndexAuditor', () => {
  test('honest leaves pass; a wrong map root or input root is a finding with the right values', () => {
    const auditor = new IndexAuditor()
    auditor.addOutputLeaf(0n, honestLeaf(0))
    auditor.addOutputLeaf(1n, honestLeaf(5))
    const lying = { ...honestLeaf(9), mapRoot: honestLeaf(8).mapRoot }
    auditor.addOutputLeaf(2n, lying)
    auditor.addOutputLeaf(3n, { ...honestLeaf(12), inputRoot: honestLeaf(11).inputRoot })
    auditor.addOutputLeaf(4n, honestLeaf(20))
    for (let i = 0; i < 20; i++) auditor.addEntry(entry(i).leafHash, entry(i).input)
    expect(auditor.checked).toBe(5)
    expect(auditor.findings.map((f) => f.leafIndex)).toEqual([2n, 3n])
    expect(auditor.findings[0]!.mapRoot).toEqual(honestLeaf(9).mapRoot)
    expect(auditor.findings[1]!.inputRoot).toEqual(honestLeaf(12).inputRoot)
  })

  test('an output leaf that goes back in input size is refused', () => {
    const auditor = new IndexAuditor()
    auditor.addOutputLeaf(0n, honestLeaf(3))
    expect(() => auditor.addOutputLeaf(1n, honestLeaf(3))).toThrow(/goes back/)
  })

  test('resumed from a compact range and the inputs so far, it checks the next leaves as a fresh one would', () => {
    const range = CompactRange.empty()
    for (let i = 0; i < 9; i++) range.append(entry(i).leafHash)
    const inputs = Array.from({ length: 9 }, (_, i) => entry(i).input)
    const auditor = IndexAuditor.resume(range, inputs, 9n)
    expect(auditor.size).toBe(9n)
    expect(() => auditor.addOutputLeaf(0n, honestLeaf(9))).toThrow(/goes back/)
    auditor.addOutputLeaf(5n, honestLeaf(14))
    auditor.addOutputLeaf(6n, { ...honestLeaf(17), mapRoot: honestLeaf(16).mapRoot })
    for (let i = 9; i < 17; i++) auditor.addEntry(entry(i).leafHash, entry(i).input)
    expect(auditor.checked).toBe(2)
    expect(auditor.findings.map((f) => f.leafIndex)).toEqual([6n])
    expect(() => IndexAuditor.resume(range, inputs.slice(1), 9n)).toThrow(RangeError)
  })
})
