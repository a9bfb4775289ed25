/** A checkpoint as an alert shows it: the evidence is the signed note itself. */
export interface CheckpointEvidence {
  size: string
  root: string
  checkpoint: string
}

/** What the monitor reports. Every alert is misbehaviour of the log, or an entry someone asked to watch. */
export type AlertBody =
  /**
   * A checkpoint (from /checkpoint, a lookup, or the verifiable index's /index/checkpoint) whose signature
   * or witness quorum does not verify.
   */
  | {
      type: 'bad-checkpoint'
      source: 'checkpoint' | 'lookup' | 'index'
      code: string
      message: string
      checkpoint: string
    }
  /**
   * A signed checkpoint that is not an extension of the last one the monitor verified (`log: 'index'`: of
   * the verifiable index's output log).
   */
  | {
      type: 'inconsistent-checkpoint'
      kind: 'fork' | 'rollback'
      trusted: CheckpointEvidence
      received: CheckpointEvidence
      code?: string
      log?: 'index'
    }
  /** A tile or entry bundle that does not match the signed tree, or is missing from it. */
  | { type: 'bad-tile'; code: string; message: string; size: string; log?: 'index' }
  /**
   * An output leaf of the log's verifiable index that does not state what the log's own entries give: its
   * input root is not the log's root at its input size, or its map root is not the map the monitor rebuilt
   * from the log's tiles (`kind: 'root'`); or it does not decode, or goes back in input size (`'leaf'`).
   * The signed evidence: the output checkpoint, the leaf and its inclusion proof in that checkpoint.
   */
  | {
      type: 'index-mismatch'
      kind: 'root' | 'leaf'
      message: string
      leafIndex: string
      /** The output leaf (base64 of its bytes) and its inclusion proof (base64 hashes) in `checkpoint`. */
      leaf: string
      proof: string[]
      checkpoint: string
      /** What the leaf states, and what the log's entries give (kind root). */
      inputSize?: string
      claimed?: { inputRoot: string; mapRoot: string }
      expected?: { inputRoot: string; mapRoot: string }
    }
  /** An entry that does not re-verify (leaf encoding, payload hash, signature, statement schema). */
  | { type: 'bad-entry'; index: number; code: string; message: string }
  /** An entry the monitor indexed under a digest or commit that the log's lookup left out. */
  | { type: 'omitted-entry'; query: LookupQuery; index: number; keyId: string; lookupSize: string }
  /** A lookup answer listing an entry that does not name the digest or commit (the log's index lies). */
  | { type: 'lookup-mismatch'; query: LookupQuery; index: number; lookupSize: string }
  /** A lookup the log did not answer properly (status, body). */
  | { type: 'lookup-failed'; query: LookupQuery; message: string }
  /** Two entries for the same source commit and subject name with different digests. */
  | {
      type: 'conflicting-attestations'
      commit: string
      subject: string
      entries: { index: number; keyId: string; digest: string }[]
    }
  /** A new entry naming a watched digest or commit, or signed by a watched key. */
  | {
      type: 'watched-entry'
      match: 'digest' | 'commit' | 'key'
      value: string
      index: number
      keyId: string
      digests: string[]
      commits: string[]
    }

/** A lookup query: a digest (`sha256:<hex>`) or a source commit. */
export type LookupQuery = { digest: string } | { commit: string }

/** An alert as written: the body plus when and about which log. */
export type Alert = AlertBody & { time: string; origin: string }

/** Where alerts go. `emit` never throws: a failing webhook is reported on stderr, not lost silently. */
export interface AlertSink {
  emit(alert: Alert): Promise<void>
}

export interface AlertSinkIo {
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
  fetch?: typeof fetch
}

const WEBHOOK_TIMEOUT_MS = 10_000

/** Alerts as JSON lines on stdout and, with `webhook`, POSTed there as `application/json` (one try). */
export function createAlertSink(io: AlertSinkIo, webhook: string | undefined): AlertSink {
  const doFetch = io.fetch ?? fetch
  return {
    async emit(alert) {
      const json = JSON.stringify(alert)
      io.stdout.write(`${json}\n`)
      if (webhook === undefined) return
      try {
        const res = await doFetch(webhook, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: json,
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        })
        await res.arrayBuffer()
        if (!res.ok) io.stderr.write(`monitor: webhook answered ${res.status} to a ${alert.type} alert\n`)
      } catch (err) {
        io.stderr.write(`monitor: webhook failed for a ${alert.type} alert: ${(err as Error).message}\n`)
      }
    },
  }
}
