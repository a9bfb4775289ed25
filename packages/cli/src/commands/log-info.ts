import { toBase64 } from '@ledger/tlog'
import { logKeyIds } from '@ledger/attestation'
import { clientFor, httpOptions, resolveLog, stateStore, toJSON } from '../context.js'
import { EXIT, type ExitCode } from '../exit-codes.js'
import type { Io } from '../io.js'

export interface LogInfoOptions {
  log: string
  logKey?: string
  policy?: string
  tlogPolicy?: string
  state?: string
  timeout?: string
  json?: boolean
}

/**
 * `attest log info`: the log's origin and key (checked against the pinned key, or pinned on first use),
 * and its current checkpoint, verified and checked for consistency with the state dir.
 */
export async function logInfoCommand(io: Io, opts: LogInfoOptions): Promise<ExitCode> {
  const http = httpOptions(io, opts.timeout)
  const state = stateStore(io, opts.state)
  const resolved = await resolveLog(io, opts, state, http)
  const client = clientFor(opts.log, resolved, state, http)
  const before = await client.trustedCheckpoint()
  const info = await client.info()
  const checkpoint = await client.checkpoint()
  const ids = logKeyIds(info.verifierKey)
  const { size, root } = checkpoint.checkpoint
  const summary = {
    url: client.http.baseUrl,
    origin: info.origin,
    verifierKey: info.verifierKey,
    logId: toBase64(ids.logId),
    keySource: resolved.source,
    size,
    root: toBase64(root),
    previousSize: before?.checkpoint.size ?? null,
    checkpoint: checkpoint.note,
  }
  if (opts.json) {
    io.stdout.write(toJSON(summary))
  } else {
    const previous =
      before === undefined
        ? 'first checkpoint seen from this log (stored)'
        : `consistent with the stored checkpoint of size ${before.checkpoint.size}`
    io.stdout.write(
      [
        `log        ${summary.url}`,
        `origin     ${info.origin}`,
        `key        ${info.verifierKey} (${resolved.source})`,
        `log id     ${summary.logId}`,
        `tree size  ${size}`,
        `root       ${summary.root}`,
        `checkpoint verified; ${previous}`,
      ].join('\n') + '\n',
    )
  }
  return EXIT.OK
}
