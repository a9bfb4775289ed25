// `npm start`: runs the log server until SIGTERM or SIGINT. Owns the process: signals, output, exit codes.
import { createLogger, runService } from '@ledger/service'
import { loadConfig } from './config.js'
import { startLogServer } from './server.js'

void runService({
  load: loadConfig,
  start: (config) => startLogServer(config, { logger: createLogger('log', config.logLevel) }),
  announce: (log, config) => [
    ...(log.created ? [`created a new log in ${config.dataDir}`] : []),
    `origin ${log.origin}`,
    `verifier key ${log.verifierKey}`,
    ...(log.indexVerifierKey !== undefined ? [`index verifier key ${log.indexVerifierKey}`] : []),
    // Tests that spawn the server read this line to learn the port.
    `listening ${log.url}`,
  ],
  stopping: 'finishing queued submissions',
})
