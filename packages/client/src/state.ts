// Where the client remembers the last checkpoint it verified for each log, so that the next one can be
// checked against it (consistency) and a fork or a rollback is caught even across runs.
import { createHash } from 'node:crypto'
import { readFile, rename } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { writeFileDurably } from '@ledger/durable-file'
import { ClientError } from './errors.js'

/** What the client remembers about one log (one origin). */
export interface StoredCheckpoint {
  origin: string
  /** The note verifier key the checkpoint was verified with (pinned on first use when no policy names one). */
  verifierKey: string
  /** The signed checkpoint note, verbatim: with the verifier key, the evidence of what the log once said. */
  checkpoint: string
}

/**
 * Durable memory of verified checkpoints, one per origin. Contract: `load` returns exactly what the last
 * completed `save` of that origin stored, or undefined if none ever completed; `save` resolves only once
 * the state is durable (synced), and a crash at any moment leaves either the old or the new state, never
 * a mix. Throws ClientError STATE_IO on any failure, including a stored file that does not parse:
 * forgetting the state silently would disarm rollback detection. One writer per origin at a time;
 * concurrent writers do not corrupt the file, the last rename wins.
 */
export interface StateStore {
  load(origin: string): Promise<StoredCheckpoint | undefined>
  save(state: StoredCheckpoint): Promise<void>
  /** Where `origin`'s state is kept, for messages (a file path); undefined when it is nowhere a person can look. */
  location?(origin: string): string
}

/**
 * The default state directory: `$XDG_STATE_HOME/attest` when XDG_STATE_HOME is set to an absolute path
 * (XDG Base Directory spec: relative values are ignored), else `~/.local/state/attest`.
 */
export function defaultStateDir(env: Readonly<Record<string, string | undefined>>, home = homedir()): string {
  const xdg = env['XDG_STATE_HOME']
  if (xdg !== undefined && xdg.startsWith('/')) return join(xdg, 'attest')
  return join(home, '.local', 'state', 'attest')
}

/** The file name that stores `origin`: URL-encoded (no path separators, no `..`), or hashed when long. */
export function stateFileName(origin: string): string {
  const encoded = encodeURIComponent(origin).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  )
  if (encoded.length <= 180) return `checkpoint-${encoded}.json`
  return `checkpoint-sha256-${createHash('sha256').update(origin).digest('hex')}.json`
}

/** A StateStore of one JSON file per origin in a directory (created with mode 0700 when missing). */
export class FileStateStore implements StateStore {
  constructor(readonly dir: string) {}

  /** The file that holds `origin`'s state. */
  path(origin: string): string {
    return join(this.dir, stateFileName(origin))
  }

  location(origin: string): string {
    return this.path(origin)
  }

  /**
   * Forgets `origin` on purpose (`attest state forget`): its file is renamed to
   * `<file>.forgotten-<time>`, kept as evidence, never deleted. Returns the new name, or undefined when
   * there was no state. Throws ClientError STATE_IO.
   */
  async forget(origin: string, now = new Date()): Promise<string | undefined> {
    const file = this.path(origin)
    const kept = `${file}.forgotten-${now.toISOString().replace(/[:.]/g, '-')}`
    try {
      await rename(file, kept)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new ClientError('STATE_IO', `cannot rename ${file}: ${(err as Error).message}`, { cause: err })
    }
    return kept
  }

  async load(origin: string): Promise<StoredCheckpoint | undefined> {
    const file = this.path(origin)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new ClientError('STATE_IO', `cannot read ${file}: ${(err as Error).message}`, { cause: err })
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (cause) {
      throw new ClientError('STATE_IO', `${file} is not JSON; remove it only if you trust the log`, { cause })
    }
    const state = parsed as Partial<Record<keyof StoredCheckpoint, unknown>>
    if (
      typeof state !== 'object' ||
      state === null ||
      typeof state.origin !== 'string' ||
      typeof state.verifierKey !== 'string' ||
      typeof state.checkpoint !== 'string'
    ) {
      throw new ClientError('STATE_IO', `${file} is not a stored checkpoint`)
    }
    if (state.origin !== origin)
      throw new ClientError('STATE_IO', `${file} holds the state of another origin`)
    return { origin: state.origin, verifierKey: state.verifierKey, checkpoint: state.checkpoint }
  }

  async save(state: StoredCheckpoint): Promise<void> {
    const file = this.path(state.origin)
    const text = `${JSON.stringify({ origin: state.origin, verifierKey: state.verifierKey, checkpoint: state.checkpoint }, null, 2)}\n`
    try {
      await writeFileDurably(file, text, 0o600, { dirMode: 0o700 })
    } catch (err) {
      throw new ClientError('STATE_IO', `cannot write ${file}: ${(err as Error).message}`, { cause: err })
    }
  }
}

/** A StateStore in memory (for tests and one-shot uses that must not persist anything). */
export class MemoryStateStore implements StateStore {
  private readonly states = new Map<string, StoredCheckpoint>()

  async load(origin: string): Promise<StoredCheckpoint | undefined> {
    const state = this.states.get(origin)
    return state && { ...state }
  }

  async save(state: StoredCheckpoint): Promise<void> {
    this.states.set(state.origin, { ...state })
  }
}
