// `npm run start:monitor`: runs the monitor until SIGTERM or SIGINT, or one pass with --once. Owns the
// process: signals and the exit code (0 clean, 1 alerts, 2 usage, 4 log unreachable).
import { loadConfig, runMonitor } from '@ledger/monitor'
import { configOrExit } from '@ledger/service'

async function main(): Promise<void> {
  const config = configOrExit(loadConfig)
  if (config === undefined) return
  const controller = new AbortController()
  const stop = (signal: string) => {
    if (controller.signal.aborted) return
    process.stderr.write(`monitor: ${signal}: stopping after this pass\n`)
    controller.abort()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  const code = await runMonitor(
    config,
    { stdout: process.stdout, stderr: process.stderr },
    {
      signal: controller.signal,
      onHealth: (endpoint) => process.stderr.write(`monitor: health ${endpoint.url}/healthz\n`),
    },
  )
  process.exit(code)
}

void main()
