import { basename } from 'node:path'
import { countReproductions, type ReproductionCount } from '@ledger/client/count.js'
import { checkpointFreshness, formatFreshness, type Freshness } from '@ledger/client/freshness.js'
import { LedgerClient } from '@ledger/client/log-client.js'
import type { WitnessTrust } from '@ledger/client/policy.js'
import { parseCheckpoint } from '@ledger/tlog/checkpoint.js'
import { parseSignedNote } from '@ledger/tlog/signed-note.js'
import {
  httpOptions,
  parseCommitFlag,
  parseDigestFlag,
  readPolicy,
  resolvePath,
  stateStore,
  toJSON,
  usage,
} from '../context.js'
import { EXIT, type ExitCode } from '../exit-codes.js'
import type { Io } from '../io.js'
import { table } from '../table.js'

export interface VerifyOptions {
  log: string
  policy: string
  tlogPolicy?: string
  artifact?: string
  digest?: string
  lockfile?: string[]
  commit?: string
  threshold?: string
  chain?: boolean
  depth?: string
  dot?: boolean
  state?: string
  timeout?: string
  json?: boolean
}

/**
 * `attest verify`, the installer's gate: counts the policy's parties that reproduced the artifact
 * (countReproductions, DESIGN §8). Exit 0 when the threshold is met and there is no conflict, 1 when not.
 * Errors propagate (exit 2, 3, 4 by exitCodeFor).
 */
export async function verifyCommand(io: Io, opts: VerifyOptions): Promise<ExitCode> {
  const given = [opts.artifact, opts.digest, opts.lockfile].filter((v) => v !== undefined).length
  if (given !== 1) throw usage('give exactly one of --artifact FILE, --digest DIGEST or --lockfile FILE')
  if (opts.chain !== true && (opts.depth !== undefined || opts.dot === true))
    throw usage('--depth and --dot go with --chain')
  if (opts.lockfile !== undefined) {
    if (opts.chain === true) throw usage('--chain goes with --artifact or --digest, not --lockfile')
    if (opts.commit !== undefined) throw usage('--commit does not go with --lockfile')
    const { verifyLockfileCommand } = await import('./verify-lockfile.js')
    const threshold = parseThreshold(opts.threshold)
    return verifyLockfileCommand(io, { ...opts, lockfile: opts.lockfile, threshold })
  }
  let digest: string
  if (opts.digest !== undefined) digest = parseDigestFlag(opts.digest)
  else {
    const { hashFile } = await import('../hash-file.js')
    try {
      digest = `sha256:${await hashFile(resolvePath(io, opts.artifact!), io.stderr, opts.artifact)}`
    } catch (err) {
      throw usage(`cannot read artifact ${opts.artifact}: ${(err as Error).message}`, err)
    }
  }
  const commit = opts.commit !== undefined ? parseCommitFlag(opts.commit) : undefined
  const threshold = parseThreshold(opts.threshold)
  const policy = await readPolicy(io, opts.policy, opts.tlogPolicy)
  const http = httpOptions(io, opts.timeout)
  const client = LedgerClient.fromPolicy(opts.log, policy, { ...http, state: stateStore(io, opts.state) })
  if (opts.chain === true) {
    if (opts.dot === true && opts.json === true) throw usage('give one of --json and --dot')
    const { MAX_CHAIN_DEPTH } = await import('@ledger/client/chain-verify.js')
    const depth = parseDepth(opts.depth, MAX_CHAIN_DEPTH)
    const { verifyChainCommand } = await import('./verify-chain.js')
    return verifyChainCommand(io, client, policy, {
      digest,
      ...(opts.artifact !== undefined && { name: basename(opts.artifact) }),
      ...(commit !== undefined && { commit }),
      ...(threshold !== undefined && { threshold }),
      ...(depth !== undefined && { depth }),
      ...(opts.json === true && { json: true }),
      ...(opts.dot === true && { dot: true }),
    })
  }
  const answer = await countReproductions({
    client,
    policy,
    digest,
    ...(commit !== undefined && { commit }),
    ...(threshold !== undefined && { threshold }),
  })
  // The client refused a checkpoint older than the policy allows (STALE); this says how old this one is.
  const fresh = checkpointFreshness(answer.checkpoint, policy, Math.floor(Date.now() / 1000))
  io.stdout.write(
    opts.json ? toJSON({ ...answer, fresh }) : formatAnswer(answer, { fresh, witnesses: policy.witnesses }),
  )
  return answer.ok ? EXIT.OK : EXIT.NEGATIVE
}

function parseDepth(text: string | undefined, MAX_CHAIN_DEPTH: number): number | undefined {
  if (text === undefined) return undefined
  if (!/^[0-9]{1,2}$/.test(text) || Number(text) > MAX_CHAIN_DEPTH)
    throw usage(`--depth ${text} is not an integer from 0 to ${MAX_CHAIN_DEPTH}`)
  return Number(text)
}

function parseThreshold(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  if (!/^[1-9][0-9]{0,5}$/.test(text)) throw usage(`--threshold ${text} is not a positive integer`)
  return Number(text)
}

/** The answer for people (with its checkpoint's freshness when given). */
export function formatAnswer(
  answer: ReproductionCount,
  freshness?: { fresh: Freshness | null; witnesses: WitnessTrust },
): string {
  const out: string[] = []
  out.push(`${answer.digest}${answer.commit !== undefined ? ` from commit ${answer.commit}` : ''}`)
  const verdict = answer.ok
    ? 'OK'
    : answer.conflicts.length > 0 && answer.count >= answer.threshold
      ? 'NOT OK (conflict)'
      : answer.conflicts.length > 0
        ? 'NOT OK (threshold not met, conflict)'
        : 'NOT OK (threshold not met)'
  out.push(`reproduced by ${answer.count} of the ${answer.threshold} parties required: ${verdict}`)
  if (answer.parties.length > 0) {
    out.push('')
    out.push(
      table(
        ['PARTY', 'KEYS', 'ENTRIES'],
        answer.parties.map((p) => [
          p.name,
          p.keyids.map((k) => k.slice(0, 16)).join(' '),
          p.entries.join(' '),
        ]),
      ),
    )
  }
  if (answer.conflicts.length > 0) {
    out.push('')
    out.push(`CONFLICTS: trusted parties that built the same commit into another digest`)
    out.push(
      table(
        ['PARTY', 'ENTRY', 'SUBJECT', 'DIGEST', 'COMMIT'],
        answer.conflicts.map((c) => [c.party, String(c.index), c.subject, c.digest, c.commit.slice(0, 12)]),
      ),
    )
  }
  const { unknown } = answer
  if (unknown.count > 0 || unknown.notFetched > 0) {
    out.push('')
    out.push(
      `not counted: ${unknown.count} entr${unknown.count === 1 ? 'y' : 'ies'} by ${unknown.keyids.length} key${unknown.keyids.length === 1 ? '' : 's'} outside the policy` +
        (unknown.notFetched > 0 ? `, and ${unknown.notFetched} more by other keys not fetched` : ''),
    )
    for (const keyid of unknown.keyids) out.push(`  ${keyid}`)
  }
  const checkpoint = parseCheckpoint(parseSignedNote(answer.checkpoint).text)
  out.push('')
  out.push(`proven against the checkpoint of ${checkpoint.origin} at tree size ${checkpoint.size}`)
  out.push(completenessLine(answer))
  if (freshness !== undefined) out.push(formatFreshness(freshness.fresh, freshness.witnesses))
  return `${out.join('\n')}\n`
}

/** What the answer proves about entries left out: complete through the pinned index, or not proven. */
export function completenessLine(answer: {
  complete: boolean
  indexSize?: number
  indexedSize?: number
}): string {
  return answer.complete
    ? `complete as of index size ${answer.indexSize} (log size ${answer.indexedSize}): none of its first ${answer.indexedSize} entries can have been left out`
    : 'not proven complete: the policy pins no verifiable index, so the log could have left entries out'
}
