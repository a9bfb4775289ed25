// Shared by the end-to-end tests: temp dirs, a real log server in this process, and the `attest` CLI run
// in-process with captured output (commands take an io object; no subprocess needed).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main, type Io } from '@ledger/cli'
import { defaultConfig, startLogServer, type LogConfig, type RunningLog } from '@ledger/log-server'

export async function tempDir(prefix = 'attest-e2e-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

/** Starts a log on 127.0.0.1, any free port, with its data in `dataDir`. */
export async function startLog(
  dataDir: string,
  origin = 'e2e.example/log',
  port = 0,
  overrides: Partial<LogConfig> = {},
): Promise<RunningLog> {
  return startLogServer({
    ...defaultConfig(),
    dataDir,
    host: '127.0.0.1',
    port,
    origin,
    verifyWorkers: 0,
    batchWaitMs: 1,
    ...overrides,
  })
}

export interface CliRun {
  code: number
  stdout: string
  stderr: string
  json(): unknown
}

/** An `attest` runner in `cwd`, its state dir under it (never the user's). */
export function cli(cwd: string, env: Record<string, string | undefined> = {}) {
  return async (...argv: string[]): Promise<CliRun> => {
    let stdout = ''
    let stderr = ''
    const io: Io = {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env: { HOME: cwd, XDG_STATE_HOME: join(cwd, 'state'), ...env },
      cwd,
    }
    const code = await main(argv, io)
    return { code, stdout, stderr, json: () => JSON.parse(stdout) as unknown }
  }
}
