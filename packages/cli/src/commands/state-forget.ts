import { stateStore, toJSON, usage } from '../context.js'
import { EXIT, type ExitCode } from '../exit-codes.js'
import type { Io } from '../io.js'

export interface StateForgetOptions {
  state?: string
  json?: boolean
}

/**
 * `attest state forget ORIGIN`: forgets what this machine saw of a log, on purpose (a log started over).
 * The state file is renamed to `<file>.forgotten-<time>`, never deleted: with a later checkpoint it may
 * be the evidence of a misbehaving log. Exit 2 when there is no state for ORIGIN.
 */
export async function stateForgetCommand(
  io: Io,
  origin: string,
  opts: StateForgetOptions,
): Promise<ExitCode> {
  const store = stateStore(io, opts.state)
  const kept = await store.forget(origin)
  if (kept === undefined) throw usage(`no state for ${origin} in ${store.dir}`, undefined, 'NO_STATE')
  if (opts.json) io.stdout.write(toJSON({ origin, forgotten: store.path(origin), keptAs: kept }))
  else io.stdout.write(`forgot ${origin}: ${store.path(origin)} is now ${kept}\n`)
  return EXIT.OK
}
