/**
 * A set of strings that answers "certainly not in it" or "maybe in it": a scalable Bloom filter (Almeida
 * et al., 2007). The store keeps one over the keys it has ever written, so that a new entry's dedup row
 * and a new digest's count, which are absent for nearly every submission, need no database read.
 *
 * It grows without the original strings: when the newest layer holds its capacity, a layer of twice the
 * capacity is added, and a string is looked for in every layer. Each layer uses BITS_PER_KEY bits and
 * HASHES probes per string, about 5 false positives in 10,000 when full; a false positive only costs the
 * read the filter exists to save. Memory is about 2 bytes per string (about 20 MB for 10 million).
 */

const BITS_PER_KEY = 16
const HASHES = 11
const FIRST_CAPACITY = 1 << 17
/** Largest layer: 2^30 bits (128 MiB), so that a bit index stays a positive 32-bit integer. */
const MAX_CAPACITY = (1 << 30) / BITS_PER_KEY

interface Layer {
  bits: Uint32Array
  /** Number of bits, a power of two, so that a probe is a mask. */
  mask: number
  capacity: number
  count: number
}

function newLayer(capacity: number): Layer {
  const size = capacity * BITS_PER_KEY
  return { bits: new Uint32Array(size >>> 5), mask: size - 1, capacity, count: 0 }
}

/**
 * Two independent 32-bit hashes of `text` (FNV-1a over UTF-16 code units with two offset bases, each
 * finished with murmur3's mixer), the second odd so that double hashing visits distinct bits.
 */
function hashPair(text: string): [number, number] {
  let a = 0x811c9dc5
  let b = 0x050c5d1f
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15)
  }
  return [fmix(a) >>> 0, (fmix(b) | 1) >>> 0]
}

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return h ^ (h >>> 16)
}

export class KeyFilter {
  private readonly layers: Layer[] = [newLayer(FIRST_CAPACITY)]

  /** Strings added so far (repeats counted). */
  get size(): number {
    let total = 0
    for (const layer of this.layers) total += layer.count
    return total
  }

  /** Bytes of bit arrays held. */
  get bytes(): number {
    let total = 0
    for (const layer of this.layers) total += layer.bits.byteLength
    return total
  }

  add(key: string): void {
    let layer = this.layers[this.layers.length - 1]!
    if (layer.count >= layer.capacity) {
      layer = newLayer(Math.min(layer.capacity * 2, MAX_CAPACITY))
      this.layers.push(layer)
    }
    const [h1, h2] = hashPair(key)
    for (let i = 0, h = h1; i < HASHES; i++, h = (h + h2) >>> 0) {
      const bit = h & layer.mask
      layer.bits[bit >>> 5]! |= 1 << (bit & 31)
    }
    layer.count++
  }

  /** False only when `key` was never added. */
  mightContain(key: string): boolean {
    const [h1, h2] = hashPair(key)
    for (const layer of this.layers) {
      let all = true
      for (let i = 0, h = h1; i < HASHES; i++, h = (h + h2) >>> 0) {
        const bit = h & layer.mask
        if ((layer.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) {
          all = false
          break
        }
      }
      if (all) return true
    }
    return false
  }
}
