// @ledger/witness: a C2SP tlog-witness server (DESIGN §9). Tests and tools start it in-process with
// startWitness; `npm run start:witness` runs main.ts, a thin shell over the same function.
export { startWitness, readLogsFile } from './server.js'
export type { RunningWitness, StartWitnessOptions } from './server.js'
export { DEFAULT_WITNESS_NAME, OPTIONS, defaultConfig, helpText, loadConfig, parseConfig } from './config.js'
export type { ConfigRequest, WitnessConfig } from './config.js'
export { STATUS_BY_CODE, WitnessError } from './errors.js'
export type { WitnessErrorCode } from './errors.js'
export { knownLogsFromVerifierKeys, systemClock, Witness } from './witness.js'
export type { Clock } from './witness.js'
export { loadOrCreateWitnessKey, WITNESS_KEY_FILE, witnessKeyFromSignerKey } from './witness-key.js'
export type { WitnessKey } from './witness-key.js'
export { LevelWitnessStore } from './level-store.js'
export type { EvidenceReason, KnownLog, LogState, WitnessMeta, WitnessStore } from './store.js'
