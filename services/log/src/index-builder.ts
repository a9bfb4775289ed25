// The verifiable index's builder (docs/design/verifiable-index.md): follows the log's commits, files every
// new entry in the map (MapFn), and appends to the output log one leaf per step saying "after the first N
// entries of the log, whose root is R, the map root is M". The output log is an ordinary log (its own
// store, key and origin `<origin>/index`, its own Sequencer), so its checkpoint, tiles and proofs are served
// and witnessed like the log's.
//
// Crash safety: a leaf is computed only from committed input, and the map is rebuilt from the log's leaves
// at start, checked against the last output leaf (its input root and map root must come out the same, or
// the start is refused). An input commit whose output leaf was lost to a crash is covered by the first leaf
// after the restart. So an output leaf never disagrees with the log.
//
// Lookups answer from the served output checkpoint and the map its last leaf states. Without witnesses
// that is the newest leaf: a read waits until the builder is between two steps (the map equals the leaf).
// With witnesses (`awaitServed`) the served leaf may be older than the newest, so the builder keeps a
// second map, the served one, that files the entries up to the served leaf's input size once that leaf is
// served (their MapFn inputs wait in a queue meanwhile; only those, not the leaves). A leaf is published
// only once the previous one is served: at most one leaf waits for the quorum, and while the witnesses are
// away the index trails the log (entries are filed, no leaf is published) rather than stating a map no
// witness has seen. The second map doubles the index's memory and map work, with witnesses only.
import { readFile } from 'node:fs/promises'
import { statementIndexKeys, type RebuildStatement } from '@ledger/attestation'
import { writeFileDurably } from '@ledger/durable-file'
import { bytesEqual, CompactRange, hashLeaf, sha256, toHex, type Hash } from '@ledger/tlog'
import {
  decodeOutputLeaf,
  encodeOutputLeaf,
  VerifiableMap,
  type MapFnInput,
  type OutputLeaf,
} from '@ledger/vindex'
import { LogServerError } from './errors.js'
import type { TreeHead } from './log-tree.js'
import type { CommittedBatch, Sequencer } from './sequencer.js'
import type { LogStore } from './store.js'

/** Output leaves carry no signer: the dedup key's key id is all zeros. */
const OUTPUT_KEY_ID = '0'.repeat(64)
/** Input leaves read at a time while rebuilding (each chunk is filed in one turn of the event loop). */
const REBUILD_CHUNK = 1024

/**
 * What MapFn reads of a leaf the log itself wrote: the same key id, digests and commits as
 * `indexedEntryOf` (the strict decoder), without checking again what the log checked when it logged the
 * leaf (canonical JSON, the statement's schema), which is most of a rebuild's time. Only for leaves read
 * back from the log's own store; anything else goes through the strict decoder.
 */
export function loggedLeafMapInput(_index: bigint, leaf: Uint8Array): MapFnInput {
  const top = JSON.parse(Buffer.from(leaf.buffer, leaf.byteOffset, leaf.byteLength).toString('utf8')) as {
    payload: string
    spec: { dsseV002: { signatures: { verifier: { publicKey: { rawBytes: string } } }[] } }
  }
  const statement = JSON.parse(Buffer.from(top.payload, 'base64').toString('utf8')) as RebuildStatement
  const { digests, commits } = statementIndexKeys(statement)
  const spki = Buffer.from(top.spec.dsseV002.signatures[0]!.verifier.publicKey.rawBytes, 'base64')
  return { keyId: toHex(sha256(spki)), digests, commits }
}

export interface IndexBuilderOptions {
  /** The log the index follows (its leaves are read at start). */
  input: LogStore
  /** The log's committed head at start. */
  inputHead: TreeHead
  /** The output log's store and its sequencer. */
  output: LogStore
  sequencer: Sequencer
  /** What MapFn reads of an input leaf (default: the log entry's key id, digests and commits, read from
   * the log's own leaf by loggedLeafMapInput). */
  entryOf?: (index: bigint, leaf: Uint8Array) => MapFnInput
  /** Rebuild progress, every few thousand entries. */
  progress?: (done: bigint, total: bigint) => void
  /**
   * Where the map is saved at a clean close (writeSnapshot) and loaded from at start, when it is the map of
   * the newest output leaf and that leaf covers the whole log: then a restart need not re-read the log.
   */
  snapshotPath?: string
  /** Why a snapshot was not used, or could not be written (default console.error). */
  report?: (message: string) => void
  /** The output checkpoint served to readers (default: the output sequencer's head). */
  served?: () => TreeHead
  /**
   * With witnesses: resolves true once the served output checkpoint covers `size` leaves, false when the
   * index is closing. The builder then publishes no leaf while the previous one is not served, and keeps
   * the served leaf's map apart.
   */
  awaitServed?: (size: bigint) => Promise<boolean>
}

/** What a lookup reads of a map. */
export interface MapReader {
  get(key: Uint8Array): readonly number[] | undefined
  prove(key: Uint8Array): Uint8Array
}

/** The served output checkpoint, its last leaf, and the map exactly as that leaf states it. */
export interface ServedState {
  head: TreeHead
  leafIndex: bigint
  leaf: OutputLeaf
  map: MapReader
}

interface Published {
  leafIndex: bigint
  leaf: OutputLeaf
}

export class IndexBuilder {
  private map = new VerifiableMap()
  /** Whether the map has been loaded or rebuilt up to the log's head at start. */
  private rebuilt = false
  /** For start(): the newest output leaf read at start (undefined: none), to rebuild from. */
  private startingFrom: { last: OutputLeaf; index: bigint } | undefined
  private stopping = false
  /** Input entries filed in the map. */
  private filed = 0n
  private last: OutputLeaf | undefined
  /** The output log index of `last`. */
  private lastIndex: bigint | undefined
  /** Reads waiting for the map to equal the published leaf's (run between steps). */
  private readonly reads: { run: () => void; fail: (err: unknown) => void }[] = []
  private readonly pending: CommittedBatch[] = []
  /** The newest input head given (filed up to it, or about to be). */
  private newest: TreeHead | undefined
  private working: Promise<void> | undefined
  private failure: unknown
  /** Wakes the work loop waiting for the served checkpoint when a commit arrives. */
  private wake: (() => void) | undefined
  private waitingFor: { size: bigint; served: Promise<boolean> } | undefined
  // With witnesses: the served leaf's map, the MapFn inputs of the entries filed in `map` but not in it
  // (from entry `servedFiled` on), and the leaves published since the served one.
  private servedMap: VerifiableMap | undefined
  private servedFiled = 0n
  private servedLeaf: Published | undefined
  private queue: MapFnInput[] = []
  private unserved: Published[] = []

  private constructor(private readonly options: IndexBuilderOptions) {
    if (options.awaitServed !== undefined) this.servedMap = new VerifiableMap()
  }

  /**
   * Rebuilds the map from the log up to its committed head, checks it against the last output leaf, and
   * publishes a leaf for the head if the output log trails it. Throws LogServerError DATA_MISMATCH when
   * the output log does not describe this log.
   */
  static async open(options: IndexBuilderOptions): Promise<IndexBuilder> {
    const builder = new IndexBuilder(options)
    await builder.rebuild(await builder.readLast())
    builder.rebuilt = true
    // With witnesses, a leaf for what the log took since the last one waits for the last to be served.
    if (builder.newest !== undefined && builder.newest.size > (builder.last?.inputSize ?? -1n)) {
      builder.working ??= builder.work()
    }
    return builder
  }

  /**
   * Like open, without waiting for the map: the output log's newest leaf is read and checked against the
   * log's size at once (DATA_MISMATCH), and the map is loaded or rebuilt in the background, so that the log
   * serves while a large index is rebuilt. Until then lookups answer INDEX_UNAVAILABLE and trailing()
   * counts what the published leaf does not cover; a rebuild that fails stops the index (reported), not
   * the log.
   */
  static async start(options: IndexBuilderOptions): Promise<IndexBuilder> {
    const builder = new IndexBuilder(options)
    builder.startingFrom = await builder.readLast()
    builder.working = builder.work()
    return builder
  }

  /**
   * Ends a rebuild still under way (at close): the index stops there; commits already filed are kept. With
   * witnesses, a leaf waiting for them is not waited for once they close.
   */
  stopRebuild(): void {
    this.stopping = true
    this.wake?.()
  }

  /** The newest output leaf (undefined before the first). */
  get published(): OutputLeaf | undefined {
    return this.last
  }

  /** The map as of the input entries filed so far (ahead of `published` while a leaf is being appended). */
  get current(): VerifiableMap {
    return this.map
  }

  /** Entries of `inputSize` the newest output leaf does not cover yet (all of them until the map is rebuilt). */
  trailing(inputSize: bigint): bigint {
    if (!this.rebuilt) return inputSize
    return inputSize - (this.last?.inputSize ?? 0n)
  }

  /**
   * Entries of `inputSize` the served output leaf does not cover (the newest, without witnesses); all of
   * them until the map is rebuilt, since nothing can be answered before.
   */
  trailingServed(inputSize: bigint): bigint {
    if (this.servedMap === undefined || !this.rebuilt) return this.trailing(inputSize)
    const size = this.served().size
    if (this.rebuilt && size > 0n && this.failure === undefined) this.catchUp(size - 1n)
    return inputSize - (this.servedLeaf?.leaf.inputSize ?? 0n)
  }

  /**
   * Runs `read` on the served output checkpoint, its last leaf and the map as that leaf states it: with
   * witnesses at once (the served map is brought to the served leaf first), without them as atPublished.
   * Rejects with LogServerError INDEX_UNAVAILABLE when the index stopped, is being rebuilt, or has no leaf
   * served yet.
   */
  atServed<T>(read: (state: ServedState) => T): Promise<T> {
    if (this.servedMap === undefined) {
      return this.atPublished((map, leaf, leafIndex) => {
        const head = this.served()
        if (head.size !== leafIndex + 1n) {
          throw new LogServerError('INDEX_UNAVAILABLE', 'the index has no published state to answer from')
        }
        return read({ head, leafIndex, leaf, map })
      })
    }
    return new Promise<T>((resolve, reject) => {
      try {
        if (this.failure !== undefined) {
          throw new LogServerError('INDEX_UNAVAILABLE', 'the index stopped; a restart rebuilds it')
        }
        if (!this.rebuilt) throw this.rebuilding()
        const head = this.served()
        const leafIndex = head.size - 1n
        if (head.size > 0n) this.catchUp(leafIndex)
        if (head.size === 0n || this.servedLeaf?.leafIndex !== leafIndex) {
          throw new LogServerError('INDEX_UNAVAILABLE', 'the index has no published state to answer from')
        }
        resolve(read({ head, leafIndex, leaf: this.servedLeaf.leaf, map: this.servedMap! }))
      } catch (err) {
        reject(err)
      }
    })
  }

  private rebuilding(): LogServerError {
    const total = this.options.inputHead.size
    return new LogServerError(
      'INDEX_UNAVAILABLE',
      `the index is being rebuilt from the log (${this.filed} of ${total} entries); ask again shortly`,
    )
  }

  /** Brings the served map to leaf `leafIndex` when it is one published since (synchronous). */
  private catchUp(leafIndex: bigint): void {
    const map = this.servedMap!
    if (this.servedLeaf !== undefined && this.servedLeaf.leafIndex >= leafIndex) return
    const target = this.unserved.find((p) => p.leafIndex === leafIndex)
    if (target === undefined) return
    const count = Number(target.leaf.inputSize - this.servedFiled)
    for (const input of this.queue.splice(0, count)) map.addEntry(Number(this.servedFiled++), input)
    if (!bytesEqual(map.rootHash(), target.leaf.mapRoot)) {
      // The two maps disagree: a bug, not the log's fault. The index stops rather than answer wrongly.
      this.failure = new Error(`the served map at leaf ${leafIndex} is not the one the leaf states`)
      this.report(`the verifiable index stopped: ${String(this.failure)}`)
      throw new LogServerError('INDEX_UNAVAILABLE', 'the index stopped; a restart rebuilds it')
    }
    this.servedLeaf = target
    this.unserved = this.unserved.filter((p) => p.leafIndex > leafIndex)
  }

  private served(): TreeHead {
    return this.options.served?.() ?? this.options.sequencer.head
  }

  /**
   * Runs `read` on the map exactly as the newest output leaf states it (not ahead of it), with that leaf
   * and its index in the output log: at once when the builder is idle, else between two of its steps.
   */
  atPublished<T>(read: (map: VerifiableMap, leaf: OutputLeaf, leafIndex: bigint) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = () => {
        try {
          if (this.last === undefined || this.lastIndex === undefined || this.filed !== this.last.inputSize) {
            throw new LogServerError('INDEX_UNAVAILABLE', 'the index has no published state to answer from')
          }
          resolve(read(this.map, this.last, this.lastIndex))
        } catch (err) {
          reject(err)
        }
      }
      if (this.failure !== undefined) {
        reject(new LogServerError('INDEX_UNAVAILABLE', 'the index stopped; a restart rebuilds it'))
      } else if (!this.rebuilt) {
        reject(this.rebuilding())
      } else if (this.working === undefined) run()
      else this.reads.push({ run, fail: reject })
    })
  }

  /** Give it every input commit, in order (Sequencer.onCommit / LogNode.onCommit). */
  onCommit(head: TreeHead, batch: CommittedBatch): void {
    this.pending.push({ head, entries: batch.entries })
    this.newest = head
    this.wake?.()
    this.working ??= this.work()
  }

  /** Resolves once every commit given so far is covered by an output leaf; rejects if the index failed. */
  async settled(): Promise<void> {
    while (this.working !== undefined) await this.working
    if (this.failure !== undefined) throw this.failure
  }

  /**
   * Saves the map, if it is exactly the newest output leaf's, for the next start (call once the builder
   * has settled, at close). Returns whether it wrote one; failures are reported, not thrown: the snapshot
   * only saves time.
   */
  async writeSnapshot(): Promise<boolean> {
    const path = this.options.snapshotPath
    if (path === undefined || this.failure !== undefined || this.working !== undefined) return false
    if (this.last === undefined || this.lastIndex === undefined || this.filed !== this.last.inputSize)
      return false
    const header = Buffer.alloc(SNAPSHOT_HEADER)
    header.writeBigUInt64BE(this.lastIndex, 0)
    header.writeBigUInt64BE(this.filed, 8)
    try {
      await writeFileDurably(path, [header, ...this.map.snapshot()], 0o600)
      return true
    } catch (err) {
      this.report(`the index's map snapshot could not be written to ${path}: ${(err as Error).message}`)
      return false
    }
  }

  /**
   * Loads the snapshot if it is the map of `last` (the newest output leaf, at `lastIndex`) and `last`
   * covers the whole log: the log's committed root must be the leaf's input root, and the map's root,
   * recomputed from the snapshot's keys and lists, the leaf's map root. Anything else: false (re-read the
   * log), with the reason reported unless there is no snapshot at all.
   */
  private async loadSnapshot(last: OutputLeaf, lastIndex: bigint): Promise<boolean> {
    const path = this.options.snapshotPath
    if (path === undefined) return false
    let bytes: Buffer
    try {
      bytes = await readFile(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.report(
          `the index's map snapshot ${path} is unreadable (${(err as Error).message}): re-reading the log`,
        )
      }
      return false
    }
    const stale = (why: string) => {
      this.report(`the index's map snapshot ${path} ${why}: re-reading the log`)
      return false
    }
    if (bytes.length < SNAPSHOT_HEADER) return stale('is truncated')
    const leafIndex = bytes.readBigUInt64BE(0)
    const inputSize = bytes.readBigUInt64BE(8)
    const head = this.options.inputHead
    if (leafIndex !== lastIndex || inputSize !== last.inputSize) return stale('is older than the output log')
    if (inputSize !== head.size || !bytesEqual(last.inputRoot, head.root)) {
      return stale('does not cover the whole log')
    }
    let map: VerifiableMap
    try {
      map = VerifiableMap.fromSnapshot(bytes.subarray(SNAPSHOT_HEADER))
    } catch (err) {
      return stale(`is malformed (${(err as Error).message})`)
    }
    if (!bytesEqual(await steppedRoot(map), last.mapRoot)) {
      return stale("does not give the output leaf's map root")
    }
    if (this.servedMap !== undefined) {
      // The served map is the same one when the newest leaf is the served one; else re-read the log.
      if (this.served().size !== lastIndex + 1n) return false
      const served = VerifiableMap.fromSnapshot(bytes.subarray(SNAPSHOT_HEADER))
      await steppedRoot(served)
      this.servedMap = served
      this.servedFiled = inputSize
      this.servedLeaf = { leafIndex: lastIndex, leaf: last }
    }
    this.map = map
    this.filed = inputSize
    return true
  }

  private report(message: string): void {
    ;(this.options.report ?? console.error)(message)
  }

  private fileAll(): void {
    for (const batch of this.pending.splice(0)) {
      for (const entry of batch.entries) {
        if (entry.index < this.filed) continue // filed by the rebuild already
        if (entry.index !== this.filed) {
          throw new Error(`the index expected entry ${this.filed}, got ${entry.index}`)
        }
        this.map.addEntry(Number(entry.index), entry)
        // Only what MapFn reads: the queue must not keep the leaves.
        if (this.servedMap !== undefined) {
          this.queue.push({ keyId: entry.keyId, digests: entry.digests, commits: entry.commits })
        }
        this.filed++
      }
    }
  }

  /** Waits until leaf `size - 1` is served, a commit arrives (or a close), or the index closes. */
  private async servedOrCommit(size: bigint): Promise<'served' | 'woken' | 'closed'> {
    const awaitServed = this.options.awaitServed!
    if (this.waitingFor?.size !== size) this.waitingFor = { size, served: awaitServed(size) }
    const served = this.waitingFor.served.then((ok) => (ok ? ('served' as const) : ('closed' as const)))
    let woken: () => void = () => undefined
    const commit = new Promise<'woken'>((resolve) => {
      woken = () => resolve('woken')
      this.wake = woken
    })
    try {
      return await Promise.race([served, commit])
    } finally {
      if (this.wake === woken) this.wake = undefined
    }
  }

  private async work(): Promise<void> {
    try {
      if (!this.rebuilt) {
        await this.rebuild(this.startingFrom)
        this.rebuilt = true
      }
      while (this.failure === undefined) {
        // Everything committed meanwhile goes into one output leaf.
        this.fileAll()
        const head = this.newest
        if (head === undefined || head.size <= (this.last?.inputSize ?? -1n) || head.size !== this.filed)
          break
        if (this.servedMap !== undefined && this.lastIndex !== undefined) {
          const size = this.lastIndex + 1n
          if (this.served().size < size) {
            // The previous leaf waits for the witnesses: file what comes meanwhile, publish after.
            const outcome = await this.servedOrCommit(size)
            if (outcome === 'closed') break
            // The served map follows (the queue does not grow while the witnesses keep up).
            if (outcome === 'served') this.catchUp(this.served().size - 1n)
            continue
          }
          this.catchUp(size - 1n)
        }
        await this.publish(head)
        // The map is the published one until the next batch is filed: answer the reads waiting for it.
        for (const read of this.reads.splice(0)) read.run()
      }
    } catch (err) {
      // The log goes on; the index stops and says why (a restart rebuilds it from the log).
      this.failure ??= err
      if (!this.stopping) this.report(`the verifiable index stopped: ${(err as Error).stack ?? String(err)}`)
      for (const read of this.reads.splice(0))
        read.fail(new LogServerError('INDEX_UNAVAILABLE', 'the index stopped'))
    } finally {
      this.working = undefined
      for (const read of this.reads.splice(0)) read.run()
    }
  }

  private async publish(head: TreeHead): Promise<void> {
    const leaf: OutputLeaf = { inputSize: head.size, inputRoot: head.root, mapRoot: this.map.rootHash() }
    const bytes = encodeOutputLeaf(leaf)
    // The builder is the output log's only writer: the leaf's index is the size now. Known as unserved
    // before the commit makes it servable.
    const leafIndex = this.options.sequencer.head.size
    if (this.servedMap !== undefined) this.unserved.push({ leafIndex, leaf })
    const sequenced = await this.options.sequencer.append({
      leaf: bytes,
      leafHash: hashLeaf(bytes),
      keyId: OUTPUT_KEY_ID,
      payloadHash: toHex(sha256(bytes)),
      digests: [],
      commits: [],
    })
    if (sequenced.index !== leafIndex) {
      throw new Error(`the output leaf went to ${sequenced.index}, not ${leafIndex}: another writer`)
    }
    this.last = leaf
    this.lastIndex = sequenced.index
  }

  /** The output log's newest leaf, checked against the log's size (it cannot cover more). */
  private async readLast(): Promise<{ last: OutputLeaf; index: bigint } | undefined> {
    const { inputHead, output, sequencer } = this.options
    const outputSize = sequencer.head.size
    if (outputSize === 0n) return undefined
    const bytes = await output.readLeaf(outputSize - 1n)
    if (bytes === undefined)
      throw new LogServerError('DATA_MISMATCH', `the index lost its leaf ${outputSize - 1n}`)
    const last = decodeOutputLeaf(bytes)
    if (last.inputSize > inputHead.size) {
      throw new LogServerError(
        'DATA_MISMATCH',
        `the index covers ${last.inputSize} entries but the log holds ${inputHead.size}: it belongs to another log`,
      )
    }
    return { last, index: outputSize - 1n }
  }

  private async rebuild(from: { last: OutputLeaf; index: bigint } | undefined): Promise<void> {
    const { input, inputHead, output } = this.options
    const entryOf = this.options.entryOf ?? loggedLeafMapInput
    const last = from?.last
    this.newest = inputHead
    if (from !== undefined && (await this.loadSnapshot(from.last, from.index))) {
      this.last = from.last
      this.lastIndex = from.index
      return
    }
    // The leaves checked on the way, ascending: the last, and with witnesses every leaf from the served
    // one on (the served map is built up to it, and caught up through the others). Each must state the
    // map rebuilt at its input size.
    const checkpoints: Published[] = []
    const servedSize = this.served().size
    const servedLeafIndex = this.servedMap !== undefined && servedSize > 0n ? servedSize - 1n : undefined
    if (from !== undefined) {
      for (let i = servedLeafIndex ?? from.index; i < from.index; i++) {
        const bytes = await output.readLeaf(i)
        if (bytes === undefined) throw new LogServerError('DATA_MISMATCH', `the index lost its leaf ${i}`)
        checkpoints.push({ leafIndex: i, leaf: decodeOutputLeaf(bytes) })
      }
      checkpoints.push({ leafIndex: from.index, leaf: from.last })
    }
    const servedInputSize = checkpoints.find((c) => c.leafIndex === servedLeafIndex)?.leaf.inputSize
    const range = CompactRange.empty()
    const check = async () => {
      while (checkpoints.length > 0 && checkpoints[0]!.leaf.inputSize === this.filed) {
        const published = checkpoints.shift()!
        const { leafIndex, leaf } = published
        if (
          !bytesEqual(range.root(), leaf.inputRoot) ||
          !bytesEqual(await steppedRoot(this.map), leaf.mapRoot)
        ) {
          throw new LogServerError(
            'DATA_MISMATCH',
            `the index's leaf ${leafIndex} (input size ${leaf.inputSize}) does not match the map rebuilt from the log`,
          )
        }
        if (this.servedMap === undefined) continue
        if (leafIndex === servedLeafIndex) this.servedLeaf = published
        else if (servedLeafIndex === undefined || leafIndex > servedLeafIndex) this.unserved.push(published)
      }
    }
    await check()
    while (this.filed < inputHead.size) {
      if (this.stopping)
        throw new LogServerError('INDEX_UNAVAILABLE', 'the index was closed during its rebuild')
      const count = Number(minBig(BigInt(REBUILD_CHUNK), inputHead.size - this.filed))
      // Stop at each checked leaf's size exactly, to check it there.
      const next = checkpoints[0]?.leaf.inputSize
      const upTo = next !== undefined ? Number(minBig(BigInt(count), next - this.filed)) : count
      const leaves = await input.readLeaves(this.filed, upTo)
      // Checked after each read, the step that waits: a close is not held up by the rest of the log.
      if (this.stopping)
        throw new LogServerError('INDEX_UNAVAILABLE', 'the index was closed during its rebuild')
      if (leaves.length !== upTo)
        throw new LogServerError('DATA_MISMATCH', `the log lost leaves after ${this.filed}`)
      for (const leaf of leaves) {
        const mapInput = entryOf(this.filed, leaf)
        this.map.addEntry(Number(this.filed), mapInput)
        if (this.servedMap !== undefined) {
          // Up to the served leaf into the served map as well; beyond it, into the queue.
          if (servedInputSize !== undefined && this.filed < servedInputSize) {
            this.servedMap.addEntry(Number(this.servedFiled++), mapInput)
          } else this.queue.push(mapInput)
        }
        range.append(hashLeaf(leaf))
        this.filed++
      }
      await check()
      this.options.progress?.(this.filed, inputHead.size)
    }
    if (checkpoints.length > 0) {
      throw new LogServerError('DATA_MISMATCH', 'the index states input sizes the log never reached')
    }
    if (this.servedMap !== undefined && this.servedLeaf !== undefined) {
      // Its hashes in steps, as the map's, and checked: it files the same entries up to the served leaf.
      const root = await steppedRoot(this.servedMap)
      if (!bytesEqual(root, this.servedLeaf.leaf.mapRoot)) {
        throw new Error(`the served map is not the one leaf ${this.servedLeaf.leafIndex} states`)
      }
    }
    if (!bytesEqual(range.root(), inputHead.root)) {
      throw new LogServerError('DATA_MISMATCH', "the log's leaves do not give its committed root")
    }
    this.last = last
    if (from !== undefined) this.lastIndex = from.index
    // The first leaf, or one covering what the log took since the last: published at once, unless with
    // witnesses the last one still waits for them (then the work loop publishes it once it is served).
    if (last === undefined || last.inputSize < inputHead.size) {
      await steppedRoot(this.map) // the hashes filed since the last check, without holding the event loop
      if (this.servedMap === undefined || this.lastIndex === undefined || servedSize > this.lastIndex) {
        await this.publish(inputHead)
      }
    }
  }
}

/**
 * The root of a map whose hashes are mostly stale (loaded, or rebuilt from the log), computed in steps with
 * the event loop turning between them: a million keys take seconds, and the log serves meanwhile.
 */
async function steppedRoot(map: VerifiableMap): Promise<Hash> {
  const steps = map.rootHashSteps()
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done === true) return step.value
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/** Bytes before the map's own snapshot: the output leaf index and the input size it is the map of. */
const SNAPSHOT_HEADER = 16

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}
