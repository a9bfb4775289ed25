import { mkdir, open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * Writes `text` to `path` so that a crash leaves either the old file or the whole new one: a temporary
 * file created with `mode`, synced, renamed over `path`, then the directory synced.
 */
export async function writeFileDurably(path: string, text: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const temp = `${path}.tmp-${process.pid}`
  // A leftover from a crash would keep its old mode: start from nothing.
  await rm(temp, { force: true })
  const file = await open(temp, 'wx', mode)
  try {
    await file.writeFile(text)
    await file.sync()
  } finally {
    await file.close()
  }
  await rename(temp, path)
  const dir = await open(dirname(path), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}
