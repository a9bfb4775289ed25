// `npm run start:witness`: runs the witness until SIGTERM or SIGINT. Owns the process: signals, output, exit codes.
import { createLogger, runService } from '@ledger/service'
import { loadConfig } from './config.js'
import { startWitness } from './server.js'

void runService({
  load: loadConfig,
  start: (config) => startWitness(config, { logger: createLogger('witness', config.logLevel) }),
  announce: (witness, config) => [
    ...(witness.created ? [`created a new witness key in ${config.dataDir}`] : []),
    `verifier key ${witness.verifierKey}`,
    ...witness.logs.map((log) => `witnessing ${log.origin} (${log.keys.length} key(s))`),
    // Tests that spawn the witness read this line to learn the port.
    `listening ${witness.url}`,
  ],
  stopping: 'stopping',
})
