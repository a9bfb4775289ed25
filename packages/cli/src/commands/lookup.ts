import { statementBuildInputs } from '@ledger/attestation'
import { subjectJSON } from '../context.js'
import {
  clientFor,
  httpOptions,
  parseCommitFlag,
  parseDigestFlag,
  parseKeyIdFlag,
  resolveLog,
  stateStore,
  toJSON,
  usage,
} from '../context.js'
import { EXIT, type ExitCode } from '../exit-codes.js'
import type { Io } from '../io.js'
import { table } from '../table.js'

export interface LookupOptions {
  log: string
  digest?: string
  commit?: string
  keyid?: string[]
  logKey?: string
  policy?: string
  tlogPolicy?: string
  state?: string
  timeout?: string
  json?: boolean
}

/**
 * `attest lookup`: every entry naming a digest or a commit, each verified (inclusion proof to a checkpoint
 * consistent with the state dir, leaf, signature), with the party of its key when a policy is given.
 */
export async function lookupCommand(io: Io, opts: LookupOptions): Promise<ExitCode> {
  if ((opts.digest === undefined) === (opts.commit === undefined)) {
    throw usage('give exactly one of --digest sha256:HEX or --commit HEX')
  }
  const digest = opts.digest !== undefined ? parseDigestFlag(opts.digest) : undefined
  const commit = opts.commit !== undefined ? parseCommitFlag(opts.commit) : undefined
  const keyIds = (opts.keyid ?? []).map((keyId) => parseKeyIdFlag('--keyid', keyId))
  const http = httpOptions(io, opts.timeout)
  const state = stateStore(io, opts.state)
  const resolved = await resolveLog(io, opts, state, http)
  const client = clientFor(opts.log, resolved, state, http)
  const result = await client.lookupAll({
    ...(digest !== undefined && { digest }),
    ...(commit !== undefined && { commit }),
    ...(keyIds.length > 0 && { keyIds }),
  })
  const partyOf = (keyId: string) => resolved.policy?.partyOf.get(keyId)
  const rows = result.entries.map((entry) => ({
    index: entry.index,
    keyId: entry.keyId,
    ...(resolved.policy !== undefined && { party: partyOf(entry.keyId) ?? null }),
    subjects: entry.keys.subjects.map((s) => subjectJSON(s)),
    commits: entry.keys.commits,
    builderId: entry.statement.predicate.runDetails.builder.id,
    inputs: statementBuildInputs(entry.statement).map((input) => subjectJSON(input)),
  }))
  if (opts.json) {
    io.stdout.write(
      toJSON({
        ...(digest !== undefined && { digest }),
        ...(commit !== undefined && { commit }),
        total: result.total,
        entries: rows,
        checkpoint: result.checkpoint.note,
        complete: result.complete,
        ...(result.indexSize !== undefined && { indexSize: result.indexSize }),
        ...(result.indexedSize !== undefined && { indexedSize: result.indexedSize }),
      }),
    )
    return EXIT.OK
  }
  const { origin, size } = result.checkpoint.checkpoint
  const lines = [
    `${rows.length} verified entr${rows.length === 1 ? 'y' : 'ies'} for ${digest ?? `commit ${commit}`}` +
      ` (the log reports ${result.total} in all) at ${origin} tree size ${size}`,
  ]
  if (rows.length > 0) {
    lines.push('')
    const header = ['INDEX', 'KEY', ...(resolved.policy ? ['PARTY'] : []), 'COMMIT', 'SUBJECTS']
    lines.push(
      table(
        header,
        rows.map((r) => [
          String(r.index),
          r.keyId.slice(0, 16),
          ...(resolved.policy ? [partyOf(r.keyId) ?? '(unknown)'] : []),
          r.commits.map((c) => c.slice(0, 12)).join(' '),
          r.subjects.map((s) => `${s.name}=${s.digest.slice(0, 19)}…`).join(' '),
        ]),
      ),
    )
  }
  lines.push('')
  lines.push(
    result.complete
      ? `complete as of index size ${result.indexSize} (log size ${result.indexedSize}): none of its first ${result.indexedSize} entries can have been left out`
      : 'not proven complete (no verifiable index pinned): the log could have left entries out',
  )
  io.stdout.write(`${lines.join('\n')}\n`)
  return EXIT.OK
}
