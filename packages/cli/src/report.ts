// The one place errors become exit codes and messages: on io.stderr, and as a JSON object on io.stdout
// under --json. Shared by the commander wiring (program.ts) and the command lines main.ts runs itself.
import { ClientError } from '@ledger/client/errors.js'
import { CliError } from './cli-error.js'
import { exitCodeFor, type ExitCode } from './exit-codes.js'
import type { Io } from './io.js'

/** Reports an error a command threw and returns its exit code (exitCodeFor). Never throws. */
export async function reportError(err: unknown, io: Io, wantsJSON: boolean): Promise<ExitCode> {
  const code = err instanceof CliError ? err.exitCode : exitCodeFor(err)
  if (wantsJSON) {
    io.stdout.write(
      `${JSON.stringify(
        {
          error: {
            code: err instanceof ClientError ? err.code : ((err as { code?: unknown }).code ?? 'INTERNAL'),
            message: (err as Error).message,
            ...(err instanceof ClientError && err.evidence !== undefined && { evidence: err.evidence }),
          },
          exitCode: code,
        },
        null,
        2,
      )}\n`,
    )
  }
  io.stderr.write(`attest: ${await describeError(err, io)}\n`)
  return code
}

/** ` --state DIR` when the state file is not in the default directory of this run. */
async function stateFlagHint(io: Io, stateFile: string, origin: string): Promise<string> {
  // Only a log caught misbehaving gets here: the state code is loaded for it alone.
  const [{ stateFileName }, { stateStore }] = await Promise.all([
    import('@ledger/client/state.js'),
    import('./context.js'),
  ])
  const dir = stateFile.slice(0, stateFile.length - stateFileName(origin).length - 1)
  return dir === stateStore(io, undefined).dir ? '' : ` --state ${dir}`
}

async function describeError(err: unknown, io: Io): Promise<string> {
  if (err instanceof ClientError && err.code === 'LOG_MISBEHAVING') {
    const kind = err.evidence?.kind
    const text = `the log misbehaved${kind !== undefined ? ` (${kind})` : ''}: ${err.message}`
    const { stateFile, origin } = err.evidence ?? {}
    if (stateFile === undefined || origin === undefined) return text
    return (
      `${text}\nattest: what this machine saw of ${origin} before is kept in ${stateFile}; keep it, it is ` +
      `the evidence.\nattest: if you know why the log started over (a test log made again), forget it ` +
      `with: attest state forget ${origin}${await stateFlagHint(io, stateFile, origin)}`
    )
  }
  if (err instanceof CliError) return err.message
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message
  }
  return String(err)
}
