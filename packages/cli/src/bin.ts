#!/usr/bin/env node
// The only file that touches process.argv, the real streams and the exit code.
import { main } from './main.js'

// `attest ... | head`: a reader that stops early is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw err
})

const argv = process.argv.slice(2)
// Only the long-running `attest monitor` stops gracefully on a signal; every other command keeps the
// default (Ctrl-C ends it at once).
const controller = new AbortController()
if (argv[0] === 'monitor') {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      process.stderr.write(`attest monitor: ${signal}: stopping after this pass\n`)
      controller.abort()
    })
  }
}

// Node ends a process whose event loop drained while this await was unsettled with exit code 13; say
// what that means rather than leave a silent non-zero exit (never 0: nothing was finished).
let finished = false
process.on('exit', (code) => {
  if (!finished && code === 13) {
    process.stderr.write('attest: exited before the command finished (internal error)\n')
  }
})

process.exitCode = await main(argv, {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
})
finished = true
