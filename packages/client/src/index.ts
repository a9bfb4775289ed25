// @ledger/client: talks to a rebuild-ledger log and verifies everything it answers (DESIGN §5, §6, §8).
export { ClientError, misbehaving } from './errors.js'
export type { ClientErrorCode, MisbehaviorEvidence, MisbehaviorKind } from './errors.js'
export { HttpTransport, isConnectionReset, parseRetryAfter } from './http.js'
export type { FetchFunction, HttpOptions, HttpResponse } from './http.js'
export { defaultStateDir, FileStateStore, MemoryStateStore, stateFileName } from './state.js'
export type { StateStore, StoredCheckpoint } from './state.js'
export {
  assertFresh,
  fromTlogPolicy,
  loadTrustPolicy,
  openTrustedCheckpoint,
  openWitnessedCheckpoint,
  parseLogTrust,
  parseWitnessKey,
} from './policy.js'
export type {
  LogTrust,
  PolicyParty,
  TrustPolicy,
  TrustRoot,
  WitnessedCheckpoint,
  WitnessTrust,
} from './policy.js'
export { checkpointFreshness, formatFreshness, freshnessNotClaimed } from './freshness.js'
export type { Freshness } from './freshness.js'
export { CheckpointTracker } from './checkpoint-tracker.js'
export type {
  CheckpointTrackerOptions,
  ConsistencyProofFetcher,
  VerifiedCheckpoint,
} from './checkpoint-tracker.js'
export { INDEX_BATCH_MAX_KEYS, LedgerClient, verifyLookupEntry } from './log-client.js'
export type {
  IndexLookup,
  LedgerClientOptions,
  LogInfo,
  LookupPage,
  LookupQuery,
  SubmitResult,
  VerifiedEntry,
} from './log-client.js'
export { verifyEntryLeaf } from './entry.js'
export type { VerifiedLeaf } from './entry.js'
export { toTlogProof, verifyBundleReceipt, verifyReceipt, verifyTlogProofReceipt } from './receipt.js'
export type { ReceiptVerifyOptions, SigstoreBundleJSON, VerifiedReceipt } from './receipt.js'
export { countReproductions } from './count.js'
export type { Completeness, Conflict, CountedParty, CountOptions, ReproductionCount } from './count.js'
export {
  chainToDot,
  DEFAULT_CHAIN_DEPTH,
  distinctToolchains,
  evaluateChain,
  renderChainTree,
} from './chain.js'
export type {
  ArtifactEvidence,
  BuildInput,
  ChainAnswer,
  ChainEdge,
  ChainNode,
  ChainPolicy,
  ChainVerdict,
} from './chain.js'
export { MAX_CHAIN_DEPTH, verifyChain } from './chain-verify.js'
export type { ChainOptions, VerifiedChain } from './chain-verify.js'
export { verifyIndexAnswer, verifyIndexBatchAnswer } from './index-verify.js'
export type { IndexedAnswer, IndexedBatch, IndexedEntry, IndexProven } from './index-verify.js'
export { BATCH_MAX_KEY_IDS, BATCH_MAX_KEYS, countReproductionsBatch, lookupBatch } from './batch.js'
export type {
  BatchAnswer,
  BatchCount,
  BatchCountOptions,
  BatchCountQuery,
  BatchKeyAnswer,
  BatchOptions,
  BatchQuery,
} from './batch.js'
