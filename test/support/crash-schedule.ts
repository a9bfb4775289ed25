// What the kill -9 tests share: a seeded schedule (so that a failing one can be replayed with the seed in
// its message), the URL of the server currently up (lanes wait for the next one between a kill and a
// restart), and a wait for a count reached by work done, never by time.

/** mulberry32: a small seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The server the lanes talk to: a URL while one is listening, undefined between a kill and a restart. */
export class ServerSlot {
  url: string | undefined
  private readonly waiters: (() => void)[] = []

  up(url: string): void {
    this.url = url
    for (const wake of this.waiters.splice(0)) wake()
  }

  down(): void {
    this.url = undefined
  }

  /** The URL of the server up now, or of the next one to come up. */
  async next(): Promise<string> {
    while (this.url === undefined) await new Promise<void>((wake) => this.waiters.push(wake))
    return this.url
  }
}

/** A list that can be waited on until it holds a number of items. */
export class GrowingList<T> {
  readonly items: T[] = []
  private readonly waiters: (() => void)[] = []

  push(item: T): void {
    this.items.push(item)
    for (const wake of this.waiters.splice(0)) wake()
  }

  get length(): number {
    return this.items.length
  }

  async until(count: number): Promise<void> {
    while (this.items.length < count) await new Promise<void>((wake) => this.waiters.push(wake))
  }
}
