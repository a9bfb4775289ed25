/** Where progress goes: stderr, a TTY or not. */
export interface ProgressStream {
  write(text: string): unknown
  isTTY?: boolean
}

const BAR_WIDTH = 30
/** How often a plain (non-TTY) progress line is written. */
const PLAIN_INTERVAL_MS = 5_000
/** How often the TTY bar is redrawn. */
const TTY_INTERVAL_MS = 100

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/**
 * Catch-up progress on stderr: on a TTY a redrawn bar with count, rate and ETA; otherwise a plain line
 * every few seconds (logs and CI). The rate is over the entries of this run, not since the log began.
 */
export class Progress {
  private readonly started: number
  private lastDraw = 0
  private drawn = false

  constructor(
    private readonly stream: ProgressStream,
    private readonly first: bigint,
    private readonly total: bigint,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now()
  }

  /** Entries [0, done) are indexed. */
  update(done: bigint, force = false): void {
    const t = this.now()
    const tty = this.stream.isTTY === true
    if (!force && t - this.lastDraw < (tty ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS)) return
    this.lastDraw = t
    this.drawn = true
    const line = this.describe(done, t)
    if (tty) {
      const fraction = this.total === 0n ? 1 : Number(done) / Number(this.total)
      const filled = Math.round(fraction * BAR_WIDTH)
      this.stream.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${line}`)
    } else {
      this.stream.write(`monitor: ${line}\n`)
    }
  }

  /** The summary line, and on a TTY the end of the bar. */
  finish(done: bigint): void {
    if (this.stream.isTTY === true) {
      this.update(done, true)
      this.stream.write('\n')
    } else if (this.drawn || done > this.first) {
      this.stream.write(`monitor: ${this.describe(done, this.now())}\n`)
    }
  }

  private describe(done: bigint, t: number): string {
    const elapsed = Math.max(1e-3, (t - this.started) / 1000)
    const rate = Number(done - this.first) / elapsed
    const eta = rate > 0 ? Number(this.total - done) / rate : Number.POSITIVE_INFINITY
    const count = `${done.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')} entries`
    return `${count}, ${Math.round(rate).toLocaleString('en-US')}/s, ETA ${formatDuration(eta)}`
  }
}
