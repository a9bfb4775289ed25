/**
 * Answers of GET /api/v1/lookup, kept per URL for the checkpoint they were computed for. A popular digest
 * is asked by every installer: while the served checkpoint stays the same, its answer (the same entries,
 * the same proofs, the same checkpoint) is the same bytes, so it is computed once per served checkpoint
 * and served from memory, before Express, by http.ts. An answer is only served while the checkpoint it
 * carries is the one served (same tree size and the same note, so a newly cosigned note of the same size
 * replaces it too). Bounded in entries and bytes (least recently used out first). Not shared between
 * processes: each serves its own served checkpoint.
 */
export class LookupCache {
  private readonly answers = new Map<string, { size: bigint; checkpoint: string; body: Buffer }>()
  private bytes = 0

  constructor(
    private readonly maxEntries = 4096,
    private readonly maxBytes = 64 * 1024 * 1024,
    /** Larger answers are not kept: they are rare (floods, big pages), and would push many small ones out. */
    private readonly maxAnswerBytes = 1024 * 1024,
  ) {}

  /** The answer to `url` for the served checkpoint `tree`, if kept. */
  get(url: string, tree: { size: bigint; checkpoint: string }): Buffer | undefined {
    const hit = this.answers.get(url)
    if (hit === undefined || hit.size !== tree.size || hit.checkpoint !== tree.checkpoint) return undefined
    // Most recently used last.
    this.answers.delete(url)
    this.answers.set(url, hit)
    return hit.body
  }

  /** Keeps the answer to `url` computed for checkpoint `tree` (the one it carries). */
  set(url: string, tree: { size: bigint; checkpoint: string }, body: Buffer): void {
    if (body.length > this.maxAnswerBytes) return
    const old = this.answers.get(url)
    if (old !== undefined) {
      if (old.size > tree.size) return // an answer for a newer tree is already kept
      this.bytes -= old.body.length
      this.answers.delete(url)
    }
    this.answers.set(url, { size: tree.size, checkpoint: tree.checkpoint, body })
    this.bytes += body.length
    for (const [key, value] of this.answers) {
      if (this.answers.size <= this.maxEntries && this.bytes <= this.maxBytes) break
      this.answers.delete(key)
      this.bytes -= value.body.length
    }
  }
}
