import { createHash } from 'node:crypto'
import { Level } from 'level'
import type { EvidenceReason, KnownLog, LogState, WitnessMeta, WitnessStore } from './store.js'

/*
 * Key layout (utf8 keys, utf8 JSON values):
 *   meta                        {verifierKey, createdAt}
 *   logs                        [{origin, keys: [vkey...]}]
 *   s/<origin>                  {size: decimal, root: base64, checkpoint: signed note}
 *   v/<origin>\n<sha256 hex>    {reason, body, at}: refused, log-signed requests (evidence)
 * An origin cannot hold a newline (checkpoint lines), so `\n` ends it unambiguously in evidence keys.
 */

interface StoredState {
  size: string
  root: string
  checkpoint: string
}

/** WitnessStore over an embedded LevelDB. Every write is one `put`/`batch` with `sync: true`. */
export class LevelWitnessStore implements WitnessStore {
  private constructor(private readonly db: Level<string, string>) {}

  /** Opens (creating if missing) the database in directory `location`. */
  static async open(location: string): Promise<LevelWitnessStore> {
    const db = new Level<string, string>(location, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await db.open()
    return new LevelWitnessStore(db)
  }

  async readMeta(): Promise<WitnessMeta | undefined> {
    const text = await this.db.get('meta')
    return text === undefined ? undefined : (JSON.parse(text) as WitnessMeta)
  }

  async writeMeta(meta: WitnessMeta): Promise<void> {
    await this.db.put('meta', JSON.stringify(meta), { sync: true })
  }

  async readLogs(): Promise<KnownLog[] | undefined> {
    const text = await this.db.get('logs')
    return text === undefined ? undefined : (JSON.parse(text) as KnownLog[])
  }

  async writeLogs(logs: readonly KnownLog[]): Promise<void> {
    await this.db.put('logs', JSON.stringify(logs), { sync: true })
  }

  async readState(origin: string): Promise<LogState | undefined> {
    const text = await this.db.get(`s/${origin}`)
    if (text === undefined) return undefined
    const stored = JSON.parse(text) as StoredState
    return {
      size: BigInt(stored.size),
      root: new Uint8Array(Buffer.from(stored.root, 'base64')),
      checkpoint: stored.checkpoint,
    }
  }

  async writeState(origin: string, state: LogState): Promise<void> {
    const stored: StoredState = {
      size: state.size.toString(),
      root: Buffer.from(state.root).toString('base64'),
      checkpoint: state.checkpoint,
    }
    await this.db.put(`s/${origin}`, JSON.stringify(stored), { sync: true })
  }

  async writeEvidence(origin: string, reason: EvidenceReason, body: string): Promise<void> {
    const digest = createHash('sha256').update(body).digest('hex')
    const key = `v/${origin}\n${digest}`
    if ((await this.db.get(key)) !== undefined) return
    await this.db.put(key, JSON.stringify({ reason, body, at: new Date().toISOString() }), { sync: true })
  }

  async readEvidence(origin: string): Promise<{ reason: EvidenceReason; body: string; at: string }[]> {
    const out: { reason: EvidenceReason; body: string; at: string }[] = []
    for await (const value of this.db.values({ gte: `v/${origin}\n`, lt: `v/${origin}\u000b` })) {
      out.push(JSON.parse(value) as { reason: EvidenceReason; body: string; at: string })
    }
    return out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
  }

  async close(): Promise<void> {
    await this.db.close()
  }
}
