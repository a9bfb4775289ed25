// `npm run start:monitor`: runs the monitor until SIGTERM or SIGINT, or one pass with --once. Owns the
// process: signals and the exit code (0 clean, 1 alerts, 2 usage, 4 log unreachable).
import { loadConfig, runMonitor } from '@ledger/monitor'
import { EXIT_USAGE, configOrExit } from '@ledger/service'

/** Set once runMonitor returned: the process may only end with its code. */
let finished = false

// If the event loop ever drains while a pass is still awaited (nothing left to keep the process alive),
// Node would exit 0 and a cron job would read "clean" though nothing was checked: say so, and exit 2.
process.on('exit', (code) => {
  if (finished || code !== 0) return
  process.stderr.write('monitor: exited before the pass finished (internal error): nothing was checked\n')
  process.exitCode = EXIT_USAGE
})

async function main(): Promise<void> {
  const config = configOrExit(loadConfig)
  if (config === undefined) {
    finished = true
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
    config,
    { stdout: process.stdout, stderr: process.stderr },
    {
      signal: controller.signal,
      onHealth: (endpoint) => process.stderr.write(`monitor: health ${endpoint.url}/healthz\n`),
    },
  )
  finished = true
  process.exit(code)
}

void main()
