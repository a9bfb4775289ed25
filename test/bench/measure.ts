// Shared timing helpers for benchmarks: measure a rate over a fixed wall-clock budget, print aligned rows.

/** Calls `op` in a loop for about `seconds` and returns operations per second. */
export function rate(op: () => void, seconds = 1): number {
  for (let i = 0; i < 100; i++) op() // warm-up
  let count = 0
  const start = performance.now()
  const deadline = start + seconds * 1000
  let now = start
  while (now < deadline) {
    for (let i = 0; i < 100; i++) op()
    count += 100
    now = performance.now()
  }
  return (count * 1000) / (now - start)
}

/** Like `rate`, for an operation that returns a promise (awaited one at a time). */
export async function rateAsync(op: () => Promise<unknown>, seconds = 1): Promise<number> {
  for (let i = 0; i < 20; i++) await op()
  let count = 0
  const start = performance.now()
  const deadline = start + seconds * 1000
  let now = start
  while (now < deadline) {
    await op()
    count++
    now = performance.now()
  }
  return (count * 1000) / (now - start)
}

export function row(label: string, value: number, unit: string): void {
  const shown = value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(3)
  console.log(`${label.padEnd(52)} ${shown.padStart(14)} ${unit}`)
}

export function ratio(label: string, numerator: number, denominator: number, target?: string): void {
  const text = (numerator / denominator).toFixed(3)
  console.log(`${label.padEnd(52)} ${text.padStart(14)}${target ? `   (target ${target})` : ''}`)
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
