// The monitor's audit of the log's verifiable index (docs/design/verifiable-index.md §9): it follows the
// output log `<origin>/index` like the log itself (signature by the index key, append-only from its own
// tiles), rebuilds the map from the log's entries alone (the leaf hashes from the log's authenticated tiles,
// MapFn's inputs from the entries the monitor re-verified), and checks every output leaf when the rebuild
// reaches its input size: the input root must be the log's root at that size, the map root its own. A
// leaf that differs is an alert carrying the signed evidence: the output checkpoint, the leaf and its
// inclusion proof in it.
import {
  bytesEqual,
  CompactRange,
  openCheckpoint,
  parseVerifierKey,
  proveConsistency,
  proveInclusion,
  rootSubtrees,
  tileHashReader,
  TlogError,
  verifyConsistency,
  type Checkpoint,
  type NoteVerifier,
  type SubtreeHashReader,
  type SubtreeId,
} from '@ledger/tlog'
import { decodeOutputLeaf, IndexAuditor, type MapFnInput, type OutputLeaf } from '@ledger/vindex'
import type { AlertBody, CheckpointEvidence } from './alerts.js'
import { describeError, isBadTile, MonitorError } from './errors.js'
import type { LogFetcher } from './fetcher.js'
import type { EntryRecord, IndexAuditState, MonitorState, MonitorStore } from './state-store.js'

/** Entries fed to the rebuilt map per read of leaf hashes. */
const FEED_CHUNK = 4096

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')

function evidence(size: bigint, root: Uint8Array, checkpoint: string): CheckpointEvidence {
  return { size: size.toString(), root: b64(root), checkpoint }
}

/** Reads leaves [from, to) of a tree of `size` through `fetcher`, authenticated by `reader` (monitor.ts). */
export type LeafFetcher = (
  fetcher: LogFetcher,
  reader: SubtreeHashReader,
  from: bigint,
  to: bigint,
  size: bigint,
) => Promise<Uint8Array[]>

export interface IndexAuditOptions {
  /** The index's verifier key when given (--index-key, or a policy); else the one the log advertises, pinned. */
  indexKey: string | undefined
  /**
   * Verifies an output checkpoint beyond its signature by the index key: a policy's witness quorum (when
   * the monitor's tlog-policy lists the index). Throws TlogError.
   */
  verify?: (note: Uint8Array) => Checkpoint
  store: MonitorStore
  /** The log (GET /api/v1/log) and its output log (under /index/). */
  log: LogFetcher
  index: LogFetcher
  fetchLeaves: LeafFetcher
  /** Warnings (stderr). */
  warn: (message: string) => void
}

/**
 * One log's index audit. The position (IndexAuditState: the output checkpoint, the leaves checked) is
 * stored after each pass and after each verified output checkpoint, so a second run continues where the
 * first stopped; the map is rebuilt in memory at the first pass of a run, from the monitor's own records
 * and the log's tiles (no entry is fetched again). Alerts are at least once: a crash between an alert
 * and the write of the position repeats it.
 */
export class IndexAudit {
  private auditor: IndexAuditor | undefined
  private stopped: string | undefined

  private constructor(
    private readonly options: IndexAuditOptions,
    private state: IndexAuditState | undefined,
  ) {}

  /**
   * Opens the audit's state. Throws MonitorError INVALID_CONFIG for an --index-key that does not parse,
   * DATA_MISMATCH when the state pinned another index key than --index-key.
   */
  static async open(options: IndexAuditOptions): Promise<IndexAudit> {
    if (options.indexKey !== undefined) {
      try {
        parseVerifierKey(options.indexKey)
      } catch (cause) {
        throw new MonitorError('INVALID_CONFIG', `--index-key does not parse: ${(cause as Error).message}`, {
          cause,
        })
      }
    }
    const state = await options.store.readIndexState()
    if (state !== undefined && options.indexKey !== undefined && state.verifierKey !== options.indexKey) {
      throw new MonitorError(
        'DATA_MISMATCH',
        `the monitor's state follows the index key ${state.verifierKey}, not --index-key ${options.indexKey}`,
      )
    }
    return new IndexAudit(options, state)
  }

  /**
   * Checks the output log against the log as the monitor verified it (`log`: its checkpoint, with entries
   * [0, log.indexed) re-verified and recorded; `logReader` reads its authenticated tiles). Leaves whose
   * input size is beyond `log.indexed` wait for a later pass. Throws MonitorError LOG_UNREACHABLE.
   */
  async pass(
    log: MonitorState,
    logReader: SubtreeHashReader,
    emit: (body: AlertBody) => Promise<void>,
  ): Promise<void> {
    if (this.stopped !== undefined) return
    const key = await this.key()
    if (key === undefined) return
    let verifier: NoteVerifier
    try {
      verifier = parseVerifierKey(key)
    } catch (err) {
      this.options.warn(
        `monitor: the log advertises an index key that does not parse: ${describeError(err).message}`,
      )
      return
    }
    const origin = `${log.origin}/index`
    const bytes = await this.options.index.checkpoint()
    const text = new TextDecoder().decode(bytes)
    let checkpoint: Checkpoint
    try {
      checkpoint = openCheckpoint(bytes, verifier, { origin }).checkpoint
      this.options.verify?.(bytes)
    } catch (err) {
      await emit({ type: 'bad-checkpoint', source: 'index', ...describeError(err), checkpoint: text })
      return
    }
    const reader = tileHashReader(checkpoint.size, checkpoint.root, (tiles) =>
      this.options.index.tiles(tiles),
    )
    const state = this.state
    if (state !== undefined) {
      const inconsistent = (kind: 'fork' | 'rollback', code?: string) =>
        emit({
          type: 'inconsistent-checkpoint',
          log: 'index',
          kind,
          ...(code !== undefined && { code }),
          trusted: evidence(state.size, state.root, state.checkpoint),
          received: evidence(checkpoint.size, checkpoint.root, text),
        })
      if (checkpoint.size < state.size) return inconsistent('rollback')
      if (checkpoint.size === state.size && !bytesEqual(checkpoint.root, state.root)) {
        return inconsistent('fork')
      }
      if (checkpoint.size > state.size) {
        try {
          const proof = await proveConsistency(state.size, checkpoint.size, reader)
          verifyConsistency(state.size, checkpoint.size, proof, state.root, checkpoint.root)
        } catch (err) {
          if (err instanceof TlogError && err.code === 'PROOF_MISMATCH') return inconsistent('fork', err.code)
          if (!isBadTile(err)) throw err
          await emit({
            type: 'bad-tile',
            log: 'index',
            ...describeError(err),
            size: checkpoint.size.toString(),
          })
          return
        }
      }
    }
    await this.save({
      verifierKey: key,
      size: checkpoint.size,
      root: checkpoint.root,
      checkpoint: text,
      checked: state?.checked ?? 0n,
      inputSize: state?.inputSize,
    })
    const current = this.state!
    if (current.checked >= checkpoint.size) return

    let leaves: Uint8Array[]
    try {
      leaves = await this.options.fetchLeaves(
        this.options.index,
        reader,
        current.checked,
        checkpoint.size,
        checkpoint.size,
      )
    } catch (err) {
      if (!isBadTile(err)) throw err
      await emit({ type: 'bad-tile', log: 'index', ...describeError(err), size: checkpoint.size.toString() })
      return
    }
    let checked = current.checked
    let inputSize = current.inputSize
    try {
      for (const bytes of leaves) {
        const leafIndex = checked
        const evidenceOf = async () => ({
          leafIndex: leafIndex.toString(),
          leaf: b64(bytes),
          proof: (await proveInclusion(leafIndex, checkpoint.size, reader)).map(b64),
          checkpoint: text,
        })
        let leaf: OutputLeaf
        try {
          leaf = decodeOutputLeaf(bytes)
        } catch (err) {
          await emit({
            type: 'index-mismatch',
            kind: 'leaf',
            message: describeError(err).message,
            ...(await evidenceOf()),
          })
          checked++
          continue
        }
        // The monitor has not verified the log that far yet: a later pass checks it.
        if (leaf.inputSize > log.indexed) break
        this.auditor ??= await this.resume(logReader, inputSize)
        const auditor = this.auditor
        try {
          auditor.addOutputLeaf(leafIndex, leaf)
        } catch (err) {
          await emit({
            type: 'index-mismatch',
            kind: 'leaf',
            message: (err as Error).message,
            inputSize: leaf.inputSize.toString(),
            ...(await evidenceOf()),
          })
          checked++
          continue
        }
        const findings = auditor.findings.length
        if (!(await this.feed(auditor, logReader, leaf.inputSize))) return
        for (const finding of auditor.findings.slice(findings)) {
          const what = [
            bytesEqual(finding.inputRoot, leaf.inputRoot) ? undefined : "the log's root at that size",
            bytesEqual(finding.mapRoot, leaf.mapRoot) ? undefined : 'the map rebuilt from the log',
          ].filter((w) => w !== undefined)
          await emit({
            type: 'index-mismatch',
            kind: 'root',
            message: `output leaf ${leafIndex} (input size ${leaf.inputSize}) is not ${what.join(' nor ')}`,
            inputSize: leaf.inputSize.toString(),
            claimed: { inputRoot: b64(leaf.inputRoot), mapRoot: b64(leaf.mapRoot) },
            expected: { inputRoot: b64(finding.inputRoot), mapRoot: b64(finding.mapRoot) },
            ...(await evidenceOf()),
          })
        }
        checked++
        inputSize = leaf.inputSize
      }
    } finally {
      if (checked !== current.checked) await this.save({ ...this.state!, checked, inputSize })
    }
  }

  /** The index key: --index-key, the pinned one, or the one the log advertises (undefined: none). */
  private async key(): Promise<string | undefined> {
    if (this.options.indexKey !== undefined) return this.options.indexKey
    if (this.state !== undefined) return this.state.verifierKey
    const info = await this.options.log.logInfo()
    const index = (info.body as { index?: { verifierKey?: unknown } } | undefined)?.index
    return info.status === 200 && typeof index?.verifierKey === 'string' ? index.verifierKey : undefined
  }

  private async save(state: IndexAuditState): Promise<void> {
    await this.options.store.writeIndexState(state)
    this.state = state
  }

  /**
   * An auditor positioned at input size `inputSize` (that of the last leaf checked): the map of the
   * monitor's records of entries [0, inputSize), and the log's compact range there from its tiles.
   */
  private async resume(logReader: SubtreeHashReader, inputSize: bigint | undefined): Promise<IndexAuditor> {
    const size = inputSize ?? 0n
    const inputs: MapFnInput[] = []
    while (BigInt(inputs.length) < size) {
      const from = BigInt(inputs.length)
      const count = Number(size - from < BigInt(FEED_CHUNK) ? size - from : BigInt(FEED_CHUNK))
      const records = await this.options.store.readEntries(from, count)
      if (records.length !== count) throw new Error(`the monitor lost its record of entry ${from}`)
      for (const [k, record] of records.entries()) {
        const input = inputOf(record)
        if (input === undefined) throw new Error(`entry ${from + BigInt(k)} failed re-verification before`)
        inputs.push(input)
      }
    }
    const hashes = size === 0n ? [] : await logReader(rootSubtrees(size))
    return IndexAuditor.resume(CompactRange.fromHashes(size, hashes), inputs, inputSize)
  }

  /**
   * Files entries up to input size `to` in the auditor. False (and the audit stops for this run, said on
   * stderr) at an entry that failed re-verification: the log is already caught (bad-entry), and what
   * MapFn makes of such an entry is not defined.
   */
  private async feed(auditor: IndexAuditor, logReader: SubtreeHashReader, to: bigint): Promise<boolean> {
    // Chunk k+1 (leaf hashes from the tiles, records from the store) is read while chunk k is filed.
    const read = (from: bigint) => {
      const end = from + BigInt(FEED_CHUNK) < to ? from + BigInt(FEED_CHUNK) : to
      const ids: SubtreeId[] = []
      for (let i = from; i < end; i++) ids.push({ level: 0, index: i })
      const chunk = Promise.all([logReader(ids), this.options.store.readEntries(from, Number(end - from))])
      // Awaited in its round; until then a failure must not count as unhandled.
      chunk.catch(() => undefined)
      return { from, end, chunk }
    }
    let next = auditor.size < to ? read(auditor.size) : undefined
    while (next !== undefined) {
      const { from, end, chunk } = next
      const [hashes, records] = await chunk
      next = end < to ? read(end) : undefined
      for (let i = from; i < end; i++) {
        const record = records[Number(i - from)]
        const input = record === undefined ? undefined : inputOf(record)
        if (input === undefined) {
          this.stopped = `entry ${i} failed re-verification`
          this.options.warn(`monitor: the index audit stops at entry ${i}, which failed re-verification`)
          return false
        }
        auditor.addEntry(hashes[Number(i - from)]!, input)
      }
    }
    return true
  }
}

/** MapFn's input from the monitor's record of an entry; undefined for one that failed re-verification. */
function inputOf(record: EntryRecord): MapFnInput | undefined {
  if ('bad' in record) return undefined
  return { keyId: record.keyId, digests: record.digests, commits: record.commits }
}
