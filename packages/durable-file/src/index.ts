// Crash-safe small-file writes for keys and client state: the one copy of a sequence easy to get subtly
// wrong (the file's mode at creation, the fsyncs, the directory entry).
import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

export interface WriteDurablyOptions {
  /** Mode of the parent directory when it has to be created (default: the umask's). */
  dirMode?: number
}

/**
 * Writes `text` (a string, as UTF-8, or byte parts in order) to `path` so that a crash leaves either the old file or the whole new one, never a torn or
 * briefly world-readable one: a fresh temporary file beside it, created with `mode` (so a secret is never
 * readable by others, even for a moment), synced, renamed over `path`, then the directory synced (a
 * rename is durable only once the directory entry is). Concurrent writers do not corrupt the file: each
 * has its own temporary name, and the last rename wins. On failure the temporary file is removed and the
 * error is rethrown.
 */
export async function writeFileDurably(
  path: string,
  text: string | readonly Uint8Array[],
  mode: number,
  options: WriteDurablyOptions = {},
): Promise<void> {
  const dir = dirname(path)
  await mkdir(dir, { recursive: true, ...(options.dirMode !== undefined && { mode: options.dirMode }) })
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const file = await open(temp, 'wx', mode)
    try {
      if (typeof text === 'string') await file.writeFile(text, 'utf8')
      // Parts in order: each writeFile continues from where the previous one ended.
      else for (const part of text) await file.writeFile(part)
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(temp, path)
  } catch (err) {
    await unlink(temp).catch(() => undefined)
    throw err
  }
  const dirHandle = await open(dir, 'r')
  try {
    await dirHandle.sync()
  } finally {
    await dirHandle.close()
  }
}
