import type { FetchFunction } from '@ledger/client'

/** Somewhere to write text: process.stdout and process.stderr fit, and so does a test's buffer. */
export interface TextSink {
  write(text: string): unknown
  /** True when a person is watching (progress output is only drawn then). */
  isTTY?: boolean
}

/**
 * Everything a command may touch of its surroundings. Only bin.ts builds one from `process`; tests build
 * their own, so commands run in-process with captured output.
 */
export interface Io {
  stdout: TextSink
  stderr: TextSink
  env: Readonly<Record<string, string | undefined>>
  /** Relative paths are resolved against it. */
  cwd: string
  /** Default: the global fetch. */
  fetch?: FetchFunction
  /** Aborted when the user asks a long-running command (`attest monitor`) to stop. */
  signal?: AbortSignal
}
