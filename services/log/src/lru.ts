/**
 * A least-recently-used map bounded by the total byte length of its values. Values are never copied:
 * callers must not mutate what they put in or get out. Not thread-safe (one event loop).
 */
export class ByteLRU<V extends { byteLength: number }> {
  private readonly map = new Map<string, V>()
  private bytes = 0

  constructor(private readonly maxBytes: number) {}

  get size(): number {
    return this.map.size
  }

  get totalBytes(): number {
    return this.bytes
  }

  get(key: string): V | undefined {
    const value = this.map.get(key)
    if (value === undefined) return undefined
    // Map keeps insertion order: re-inserting marks the entry as most recently used.
    this.map.delete(key)
    this.map.set(key, value)
    return value
  }

  set(key: string, value: V): void {
    const old = this.map.get(key)
    if (old !== undefined) {
      this.bytes -= old.byteLength
      this.map.delete(key)
    }
    if (value.byteLength > this.maxBytes) return
    this.map.set(key, value)
    this.bytes += value.byteLength
    while (this.bytes > this.maxBytes) {
      const oldest = this.map.keys().next()
      if (oldest.done === true) break
      const evicted = this.map.get(oldest.value)!
      this.map.delete(oldest.value)
      this.bytes -= evicted.byteLength
    }
  }

  delete(key: string): void {
    const old = this.map.get(key)
    if (old === undefined) return
    this.bytes -= old.byteLength
    this.map.delete(key)
  }
}
