// `npm start`: runs the log server until SIGTERM or SIGINT. Owns the process: signals, output, exit codes.
import { loadConfig, type ConfigRequest } from './config.js'
import { startLogServer, type RunningLog } from './server.js'

async function main(): Promise<void> {
  let request: ConfigRequest
  try {
    request = loadConfig()
  } catch (err) {
    console.error(`error: ${(err as Error).message}\n(see --help)`)
    process.exit(2)
  }
  if (request.kind === 'help') {
    process.stdout.write(request.text)
    return
  }
  let log: RunningLog
  try {
    log = await startLogServer(request.config)
  } catch (err) {
    console.error(`error: ${(err as Error).message}`)
    process.exit(1)
  }
  if (log.created) console.log(`created a new log in ${request.config.dataDir}`)
  console.log(`origin ${log.origin}`)
  console.log(`verifier key ${log.verifierKey}`)
  // Tests that spawn the server read this line to learn the port.
  console.log(`listening ${log.url}`)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    console.log(`${signal}: finishing queued submissions`)
    log.close().then(
      () => {
        console.log('stopped')
        process.exit(0)
      },
      (err: unknown) => {
        console.error('error while stopping:', err)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

void main()
