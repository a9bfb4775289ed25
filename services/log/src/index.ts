// @ledger/log-server: the transparency log server (DESIGN §5-§7). Tests and tools start it in-process
// with startLogServer; `npm start` runs main.ts, a thin shell over the same function.
export { startLogServer, readAllowlist, readWitnesses } from './server.js'
export type { RunningLog, StartOptions } from './server.js'
export {
  commitsInFlightFor,
  DEFAULT_ORIGIN,
  DEFAULT_POSTGRES_COMMITS_IN_FLIGHT,
  defaultConfig,
  helpText,
  loadConfig,
  parseConfig,
  parseWitnessSpec,
} from './config.js'
export type { ConfigRequest, LogConfig } from './config.js'
export { LogServerError, STATUS_BY_CODE, RETRY_AFTER_SECONDS } from './errors.js'
export type { ErrorBody, LogServerErrorCode } from './errors.js'
export { LOG_KEY_FILE, logKeyFromSignerKey } from './log-key.js'
export type { LogKey } from './log-key.js'
export { LevelStore } from './level-store.js'
export { Sequencer } from './sequencer.js'
export type { CommittedBatch, LogEntryInput, Sequenced, SequencerOptions } from './sequencer.js'
export { checkState, loadEdge, openLogTree, signCheckpoint } from './log-tree.js'
export type { TreeHead } from './log-tree.js'
export { DedupReads, dedupId } from './dedup.js'
export { TileCache } from './tile-cache.js'
export { LogReader } from './log-reader.js'
export { Witnessing } from './witnessing.js'
export type { WitnessEndpoint, WitnessingOptions, WitnessPost } from './witnessing.js'
export { MAX_JSON_DEPTH } from './verify-core.js'
export type {
  CommittedState,
  DedupKey,
  IndexedEntry,
  IntegratedBatch,
  LogBackend,
  LogMeta,
  LogStore,
  LookupKind,
  LookupMatch,
  LookupQuery,
  LookupResult,
  StoredTile,
  WitnessedStore,
} from './store.js'
export { MAX_LOG_SIZE } from './sequencer.js'
export { DEFAULT_LOOKUP_LIMIT, MAX_LOOKUP_LIMIT, MAX_LOOKUP_KEY_IDS } from './app.js'
export { PostgresStore, PendingQueue, LostWriterError } from './postgres-store.js'
export type { PostgresStoreOptions, PendingEntry } from './postgres-store.js'
export { ClusterNode } from './cluster-node.js'
export type { ClusterNodeOptions } from './cluster-node.js'
export { LocalNode } from './node.js'
export type { LogNode } from './node.js'
export { migrateLog, indexedEntryOf } from './migrate.js'
