// `attest`: the command lines the installer's gate runs (`attest verify ...`, `attest --version`) run
// here without commander; every other one, help and parse errors included, goes to the commander wiring
// in program.ts, loaded only then. The one place errors become exit codes is report.ts.
import { createRequire } from 'node:module'
import { withEnvDefaults } from './env-defaults.js'
import { EXIT, type ExitCode } from './exit-codes.js'
import type { VerifyOptions } from './commands/verify.js'
import type { Io } from './io.js'
import { reportError } from './report.js'
import { parseVerifyFlags } from './verify-flags.js'

/** The version of @ledger/cli (its package.json, next to dist/). */
export const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version

/**
 * Runs `attest` with `argv` (the arguments after the program name) and returns the exit code. Never
 * throws: errors are reported on io.stderr (or as JSON on io.stdout with --json) and mapped by exitCodeFor.
 */
export async function main(argv: readonly string[], io: Io): Promise<ExitCode> {
  if (argv.length === 1 && argv[0] === '--version') {
    // What commander prints for it.
    io.stdout.write(`${VERSION}\n`)
    return EXIT.OK
  }
  const verify = parseVerifyFlags(argv)
  if (verify !== undefined) {
    try {
      const { verifyCommand } = await import('./commands/verify.js')
      // As commander's opts(): the value types are the parser's, checked by the command.
      return await verifyCommand(
        io,
        withEnvDefaults(io, verify as Partial<VerifyOptions>, true) as VerifyOptions,
      )
    } catch (err) {
      return reportError(err, io, argv.includes('--json'))
    }
  }
  const { runProgram } = await import('./program.js')
  return runProgram(argv, io)
}
