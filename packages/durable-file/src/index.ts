// Crash-safe small-file writes for keys and client state: the one copy of a sequence easy to get subtly
// wrong (the file's mode at creation, the fsyncs, the directory entry).
import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
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
  await syncDirectory(dir)
}

/** Syncs a directory, so that the entries just created or renamed in it survive a crash. */
async function syncDirectory(dir: string): Promise<void> {
  const dirHandle = await open(dir, 'r')
  try {
    await dirHandle.sync()
  } finally {
    await dirHandle.close()
  }
}

/** The file's text as UTF-8, or undefined when it does not exist; other failures are thrown. */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** Where a recorded file waits until its record is written: `<path>.new`. */
export const pendingPathOf = (path: string): string => `${path}.new`

/**
 * Makes a file that must never exist without a record of it elsewhere: a signing key, whose public half a
 * store records (a key file beside an empty store means the store was lost, and is refused). A crash
 * between writing the file and writing the record would leave exactly that. So `text` goes durably to
 * `<path>.new` first (replacing one left by an earlier crash: nothing used it, since nothing uses the file
 * before it is in place), `record()` writes the record, and only then is the file renamed into place (the
 * directory synced). When `record` throws, the pending file stays and the error is rethrown. Call it only
 * when `path` does not exist and nothing records a file yet; when the record exists but the file does not,
 * `placeRecordedFile` finishes a start that crashed before the rename.
 */
export async function createRecordedFile(
  path: string,
  text: string,
  mode: number,
  record: () => Promise<void>,
): Promise<void> {
  const pending = pendingPathOf(path)
  await writeFileDurably(pending, text, mode)
  await record()
  await rename(pending, path)
  await syncDirectory(dirname(path))
}

/**
 * Finishes `createRecordedFile` after a crash between the record and the rename: when `<path>.new` exists
 * and `isRecorded(text)` says the record names it, renames it into place (the directory synced) and
 * returns its text; otherwise returns undefined and changes nothing.
 */
export async function placeRecordedFile(
  path: string,
  isRecorded: (text: string) => boolean,
): Promise<string | undefined> {
  const pending = pendingPathOf(path)
  const text = await readFileIfExists(pending)
  if (text === undefined || !isRecorded(text)) return undefined
  await rename(pending, path)
  await syncDirectory(dirname(path))
  return text
}
