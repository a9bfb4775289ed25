// `npm run start:monitor`: runs the monitor until SIGTERM or SIGINT, or one pass with --once. Owns the
// process: signals and the exit code (0 clean, 1 alerts, 2 usage, 3 log unreachable).
import { EXIT_USAGE, loadConfig, runMonitor, type ConfigRequest } from '@ledger/monitor'

async function main(): Promise<void> {
  let request: ConfigRequest
  try {
    request = loadConfig()
  } catch (err) {
    console.error(`error: ${(err as Error).message}\n(see --help)`)
    process.exit(EXIT_USAGE)
  }
  if (request.kind === 'help') {
    process.stdout.write(request.text)
    return
  }
  const controller = new AbortController()
  const stop = (signal: string) => {
    if (controller.signal.aborted) return
    process.stderr.write(`monitor: ${signal}: stopping after this pass\n`)
    controller.abort()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  const code = await runMonitor(
    request.config,
    { stdout: process.stdout, stderr: process.stderr },
    {
      signal: controller.signal,
      onHealth: (endpoint) => process.stderr.write(`monitor: health ${endpoint.url}/healthz\n`),
    },
  )
  process.exit(code)
}

void main()
