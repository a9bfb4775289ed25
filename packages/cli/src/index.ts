// @ledger/cli: the `attest` command. `main` runs it in-process (tests); bin.ts runs it for real.
export { main } from './main.js'
export { EXIT, EXIT_CODES_HELP, exitCodeFor } from './exit-codes.js'
export type { ExitCode } from './exit-codes.js'
export type { Io, TextSink } from './io.js'
export { CliError } from './context.js'
export { hashFile } from './hash-file.js'
export { formatAnswer } from './commands/verify.js'
