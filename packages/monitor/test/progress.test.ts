import { describe, expect, it } from 'vitest'
import { Progress } from '../src/progress.js'

function stream(isTTY: boolean) {
  const writes: string[] = []
  return { writes, stream: { isTTY, write: (t: string) => writes.push(t) } }
}

describe('Progress', () => {
  it('on a TTY redraws one bar with count, rate and ETA, at most every 100 ms', () => {
    let now = 0
    const { writes, stream: s } = stream(true)
    const progress = new Progress(s, 0n, 100_000n, () => now)
    now = 1000
    progress.update(10_000n)
    now = 1050
    progress.update(10_500n) // too soon: not drawn
    now = 2000
    progress.update(20_000n)
    progress.finish(20_000n)
    // 10,000 entries in 1 s: 10,000/s, 90,000 left: 9 s.
    expect(writes[0]).toBe(
      '\r\x1b[K[###...........................] 10,000/100,000 entries, 10,000/s, ETA 9s',
    )
    expect(writes[1]).toBe(
      '\r\x1b[K[######........................] 20,000/100,000 entries, 10,000/s, ETA 8s',
    )
    expect(writes).toHaveLength(4)
    expect(writes[3]).toBe('\n')
  })

  it('elsewhere writes a plain line every 5 s, and a summary at the end', () => {
    let now = 0
    const { writes, stream: s } = stream(false)
    const progress = new Progress(s, 1000n, 61_000n, () => now)
    now = 2000
    progress.update(5000n) // 2 s: not yet
    now = 6000
    progress.update(13_000n)
    now = 12_000
    progress.finish(61_000n)
    expect(writes).toEqual([
      'monitor: 13,000/61,000 entries, 2,000/s, ETA 24s\n',
      'monitor: 61,000/61,000 entries, 5,000/s, ETA 0s\n',
    ])
  })

  it('says minutes and hours for long ETAs', () => {
    let now = 0
    const { writes, stream: s } = stream(false)
    const progress = new Progress(s, 0n, 10_000_000n, () => now)
    now = 10_000
    progress.update(10_000n) // 1,000/s: 9,990 s left
    expect(writes[0]).toBe('monitor: 10,000/10,000,000 entries, 1,000/s, ETA 2h46m\n')
  })
})
