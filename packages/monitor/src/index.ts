// @ledger/monitor: follows a log through its tiles, proves it append-only, re-verifies every entry,
// audits its lookups and alerts (DESIGN §9). `runMonitor` is the entry point of `npm run start:monitor`
// and of the CLI's `attest monitor`; `Monitor` runs single passes for tests and tools.
export { Monitor } from './monitor.js'
export type { MonitorIo, PassResult } from './monitor.js'
export { runMonitor } from './run.js'
export type { HealthEndpoint, RunMonitorOptions } from './run.js'
export { defaultConfig, helpText, loadConfig, OPTIONS, parseConfig } from './config.js'
export type { ConfigRequest, MonitorConfig } from './config.js'
export {
  EXIT_ALERTS,
  EXIT_CLEAN,
  EXIT_CODE_BY_CODE,
  EXIT_UNREACHABLE,
  EXIT_USAGE,
  MonitorError,
} from './errors.js'
export type { MonitorErrorCode } from './errors.js'
export { createAlertSink } from './alerts.js'
export type { Alert, AlertBody, AlertSink, CheckpointEvidence, LookupQuery } from './alerts.js'
export { Progress } from './progress.js'
export type { ProgressStream } from './progress.js'
export { bundlePrefix, LogFetcher } from './fetcher.js'
export { verifyLeaf } from './verify-core.js'
export type { EntryOutcome } from './verify-core.js'
export { LevelMonitorStore, subjectKey } from './state-store.js'
export type {
  EntryRecord,
  IndexAuditState,
  IndexBatch,
  MonitorState,
  MonitorStore,
  SubjectRecord,
} from './state-store.js'
export { IndexAudit } from './index-audit.js'
export type { IndexAuditOptions } from './index-audit.js'
