// `npm run start:witness`: runs the witness until SIGTERM or SIGINT. Owns the process: signals, output, exit codes.
import { loadConfig, type ConfigRequest } from './config.js'
import { startWitness, type RunningWitness } from './server.js'

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
  let witness: RunningWitness
  try {
    witness = await startWitness(request.config)
  } catch (err) {
    console.error(`error: ${(err as Error).message}`)
    process.exit(1)
  }
  if (witness.created) console.log(`created a new witness key in ${request.config.dataDir}`)
  console.log(`verifier key ${witness.verifierKey}`)
  for (const log of witness.logs) console.log(`witnessing ${log.origin} (${log.keys.length} key(s))`)
  // Tests that spawn the witness read this line to learn the port.
  console.log(`listening ${witness.url}`)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    console.log(`${signal}: stopping`)
    witness.close().then(
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
