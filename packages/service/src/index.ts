export { OptionError, optionsHelp, parseOptions } from './options.js'
export type { GivenOption, OptionKind, OptionSpec, ParsedOptions } from './options.js'
export {
  DEFAULT_HTTP_LIMITS,
  DISCARD_LIMIT,
  closeServer,
  createLimitedServer,
  discardBody,
  limitConnectionsPerClient,
  listen,
  readBody,
} from './http.js'
export type { HttpLimits } from './http.js'
export { EXIT_USAGE, configOrExit, runService } from './process.js'
export type { Service, ServiceRequest } from './process.js'
export {
  LOG_LEVELS,
  LOG_LEVEL_RE,
  createLogger,
  createRegistry,
  httpDurationHistogram,
  isLogLevel,
  observeRequests,
  sendHealth,
  sendMetrics,
} from './observe.js'
export type { Logger, LogLevel, ObserveOptions } from './observe.js'
