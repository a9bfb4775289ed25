// The log server as a child process (the built services/log/dist/main.js, exactly what `npm start` runs):
// for tests that kill it, restart it on the same data, or load it from a separate event loop.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The built server entry point. */
export const LOG_MAIN = fileURLToPath(new URL('../../services/log/dist/main.js', import.meta.url))

/** Throws a clear error when the server has not been built (`npm test` runs `tsc -b` before vitest). */
export function assertLogBuilt(): void {
  if (!existsSync(LOG_MAIN)) {
    throw new Error(`${LOG_MAIN} is missing: build first with \`npx tsc -b\` (\`npm test\` does)`)
  }
}

export interface LogChild {
  child: ChildProcess
  /** Everything printed so far. */
  stdout(): string
  stderr(): string
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /**
   * Resolves with the base URL from the `listening http://...` line; rejects when the process exits first
   * (with its stderr in the message).
   */
  listening: Promise<string>
  /** The C2SP verifier key the server printed (`verifier key ...`), once listening. */
  verifierKey(): string
  /** SIGKILL: no shutdown code runs. Resolves once the process is gone. */
  kill9(): Promise<void>
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** The built witness entry point (what `npm run start:witness` runs). */
export const WITNESS_MAIN = fileURLToPath(new URL('../../services/witness/dist/main.js', import.meta.url))

/** Starts `node services/log/dist/main.js ...args` with piped output. */
export function spawnLog(args: readonly string[], extraNodeArgs: readonly string[] = []): LogChild {
  assertLogBuilt()
  return spawnService(LOG_MAIN, args, extraNodeArgs)
}

/** Starts `node MAIN ...args` (a built service that prints `listening <url>`) with piped output. */
export function spawnService(
  main: string,
  args: readonly string[],
  extraNodeArgs: readonly string[] = [],
): LogChild {
  if (!existsSync(main)) throw new Error(`${main} is missing: build first with \`npx tsc -b\``)
  const child = spawn(process.execPath, [...extraNodeArgs, main, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  const listening = new Promise<string>((resolve, reject) => {
    let found = false
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8')
      // Once found, never again: a log line per request would make every chunk rescan megabytes of
      // output, and the benchmarks' load generator (this process) would measure that.
      if (found) return
      const match = /^listening (http:\/\/\S+)$/m.exec(out)
      if (match) {
        found = true
        resolve(match[1]!)
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')))
    void exited.then(({ code, signal }) =>
      reject(new Error(`the server exited (code ${code}, signal ${signal}) before listening: ${err}`)),
    )
  })
  // A kill before the listening line is a normal event in crash tests: nobody need be waiting.
  listening.catch(() => undefined)
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    listening,
    verifierKey: () => {
      const match = /^verifier key (\S+)$/m.exec(out)
      if (!match) throw new Error(`no verifier key line in: ${out}`)
      return match[1]!
    },
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      return exited
    },
  }
}
