import { EXIT_USAGE, helpText, parseConfig, runMonitor } from '@ledger/monitor'
import type { ExitCode } from '../exit-codes.js'
import type { Io } from '../io.js'

/**
 * `attest monitor ...`: the monitor of @ledger/monitor (the same one `npm run start:monitor` runs), with
 * the same options, run in this process. Stops at the end of a pass when io.signal aborts (Ctrl-C). Exit codes are attest's: 0 clean, 1 alerts raised, 2 usage,
 * 4 log unreachable.
 */
export async function monitorCommand(io: Io, args: readonly string[]): Promise<ExitCode> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(helpText().replace('npm run start:monitor --', 'attest monitor'))
    return 0
  }
  let request
  try {
    request = parseConfig(args, io.env)
  } catch (err) {
    io.stderr.write(`attest monitor: ${(err as Error).message}\n(see attest monitor --help)\n`)
    return EXIT_USAGE as ExitCode
  }
  if (request.kind === 'help') {
    io.stdout.write(request.text)
    return 0
  }
  const code = await runMonitor(
    request.config,
    { stdout: io.stdout, stderr: io.stderr },
    io.signal !== undefined ? { signal: io.signal } : {},
  )
  return code as ExitCode
}
