// Streaming digests of artifact files: constant memory whatever their size, progress for large ones.
import { multiHash, type DigestAlgorithm, type SubjectDigests } from '@ledger/attestation'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { TextSink } from './io.js'

/** Files at least this large get progress lines on stderr. */
export const PROGRESS_THRESHOLD = 64 * 1024 * 1024

/** The lowercase hex SHA-256 of the file at `path` (see hashFileWith). */
export async function hashFile(path: string, progress?: TextSink, label = path): Promise<string> {
  return (await hashFileWith(path, ['sha256'], progress, label)).sha256!
}

/**
 * The digests of the file at `path` with each of `algorithms`, read once as a stream. For files of
 * PROGRESS_THRESHOLD bytes or more, writes `hashing NAME: N%` to `progress` at every tenth (on one redrawn
 * line when it is a TTY). Rejects with the fs error when the file cannot be read.
 */
export async function hashFileWith(
  path: string,
  algorithms: readonly DigestAlgorithm[],
  progress?: TextSink,
  label = path,
): Promise<SubjectDigests> {
  const { size } = await stat(path)
  const hash = multiHash(algorithms)
  const show = progress !== undefined && size >= PROGRESS_THRESHOLD
  let done = 0
  let shown = -1
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer)
    done += (chunk as Buffer).length
    if (show) {
      const tenth = Math.floor((done * 10) / size)
      if (tenth > shown) {
        shown = tenth
        const line = `hashing ${label}: ${tenth * 10}%`
        progress.write(progress.isTTY ? `\r${line}` : `${line}\n`)
      }
    }
  }
  if (show && progress.isTTY) progress.write('\n')
  return hash.digest()
}
