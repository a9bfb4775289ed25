import { readFile, stat } from 'node:fs/promises'
import { formatDigest } from '@ledger/attestation/digest.js'
import { countReproductionsBatch } from '@ledger/client/batch.js'
import type { ReproductionCount } from '@ledger/client/count.js'
import { checkpointFreshness, formatFreshness } from '@ledger/client/freshness.js'
import { LedgerClient } from '@ledger/client/log-client.js'
import { parseCheckpoint } from '@ledger/tlog/checkpoint.js'
import { parseSignedNote } from '@ledger/tlog/signed-note.js'
import { httpOptions, readPolicy, resolvePath, stateStore, toJSON, usage } from '../context.js'
import { EXIT, type ExitCode } from '../exit-codes.js'
import type { Io } from '../io.js'
import { completenessLine } from './verify.js'
import { LockfileError, MAX_LOCKFILE_PACKAGES, parseLockfile, type LockfileFormat } from '../lockfile.js'
import { clean, table } from '../table.js'

/** Largest lockfile read (npm lockfiles of big monorepos are a few MB). */
const MAX_LOCKFILE_BYTES = 64 * 1024 * 1024

export interface VerifyLockfileOptions {
  log: string
  policy: string
  tlogPolicy?: string
  lockfile: string[]
  threshold?: number
  state?: string
  timeout?: string
  json?: boolean
}

/** One package's answer: where it came from, and DESIGN §8's answer for its digest. */
export type PackageAnswer = { name: string; lockfile: string; status: Status } & ReproductionCount

type Status = 'conflict' | 'too few' | 'ok'
const ORDER: Record<Status, number> = { conflict: 0, 'too few': 1, ok: 2 }

function statusOf(answer: ReproductionCount): Status {
  if (answer.conflicts.length > 0) return 'conflict'
  return answer.ok ? 'ok' : 'too few'
}

/** Reads and parses one lockfile; exit 2 with the file and the line or JSON path on any problem. */
async function readLockfile(
  io: Io,
  file: string,
): Promise<{ format: LockfileFormat; packages: ReturnType<typeof parseLockfile>['packages'] }> {
  const path = resolvePath(io, file)
  let text: string
  try {
    const { size } = await stat(path)
    if (size > MAX_LOCKFILE_BYTES) throw usage(`lockfile ${file}: larger than ${MAX_LOCKFILE_BYTES} bytes`)
    const bytes = await readFile(path)
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (err) {
    if ((err as { exitCode?: number }).exitCode !== undefined) throw err
    throw usage(`cannot read lockfile ${file}: ${(err as Error).message}`, err)
  }
  try {
    return parseLockfile(text, file)
  } catch (err) {
    if (err instanceof LockfileError) throw usage(`lockfile ${file}: ${clean(err.message)}`, err)
    throw err
  }
}

/**
 * `attest verify --lockfile FILE...`: every package of the lockfiles (npm package-lock v2/v3, Cargo.lock,
 * sha256sum/sha512sum/b2sum lists) counted under the policy in one verified batch, all proven against ONE
 * checkpoint (countReproductionsBatch). Exit 0 only when every package meets the threshold with no
 * conflict, 1 otherwise; 2 for a lockfile that cannot be used (errors name the line or JSON path).
 */
export async function verifyLockfileCommand(io: Io, opts: VerifyLockfileOptions): Promise<ExitCode> {
  const packages: { name: string; lockfile: string; digest: string }[] = []
  const seen = new Set<string>()
  for (const file of opts.lockfile) {
    const parsed = await readLockfile(io, file)
    for (const pkg of parsed.packages) {
      const digest = formatDigest(pkg.digest)
      const key = `${pkg.name}\n${digest}`
      if (seen.has(key)) continue
      seen.add(key)
      packages.push({ name: pkg.name, lockfile: file, digest })
    }
    if (packages.length > MAX_LOCKFILE_PACKAGES)
      throw usage(
        `the lockfiles name more than ${MAX_LOCKFILE_PACKAGES} packages (the most one verify takes)`,
      )
  }
  const policy = await readPolicy(io, opts.policy, opts.tlogPolicy)
  const http = httpOptions(io, opts.timeout)
  const client = LedgerClient.fromPolicy(opts.log, policy, { ...http, state: stateStore(io, opts.state) })
  const progress = io.stderr.isTTY === true
  const counted = await countReproductionsBatch({
    client,
    policy,
    queries: packages.map((p) => ({ digest: p.digest })),
    ...(opts.threshold !== undefined && { threshold: opts.threshold }),
    ...(progress && {
      onProgress: (phase: string, answered: number, total: number) =>
        io.stderr.write(`\r${phase}: ${answered}/${total}\u001b[K`),
    }),
  })
  if (progress) io.stderr.write('\r\u001b[K')
  const { checkpoint, answers } = counted
  const completeness = {
    complete: counted.complete,
    ...(counted.indexSize !== undefined && { indexSize: counted.indexSize }),
    ...(counted.indexedSize !== undefined && { indexedSize: counted.indexedSize }),
  }
  const rows: PackageAnswer[] = answers.map((answer, i) => ({
    name: packages[i]!.name,
    lockfile: packages[i]!.lockfile,
    status: statusOf(answer),
    ...answer,
  }))
  const summary = {
    packages: rows.length,
    ok: rows.filter((r) => r.status === 'ok').length,
    tooFew: rows.filter((r) => r.status === 'too few').length,
    conflict: rows.filter((r) => r.status === 'conflict').length,
    threshold: answers[0]!.threshold,
  }
  const ok = summary.ok === summary.packages
  const fresh = checkpointFreshness(checkpoint, policy, Math.floor(Date.now() / 1000))
  if (opts.json) {
    io.stdout.write(toJSON({ ok, summary, packages: rows, checkpoint, ...completeness, fresh }))
  } else {
    const sorted = [...rows].sort(
      (a, b) => ORDER[a.status] - ORDER[b.status] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    )
    const out = [
      table(
        ['STATUS', 'NAME', 'DIGEST', 'PARTIES'],
        sorted.map((r) => [
          r.status.toUpperCase(),
          r.name,
          `${r.digest.slice(0, r.digest.indexOf(':') + 17)}…`,
          `${r.count}/${r.threshold}${r.parties.length > 0 ? ` ${r.parties.map((p) => p.name).join(',')}` : ''}`,
        ]),
      ),
      '',
      `${summary.packages} package${summary.packages === 1 ? '' : 's'}: ${summary.ok} ok, ${summary.tooFew} with too few parties, ${summary.conflict} with a conflict: ${ok ? 'OK' : 'NOT OK'}`,
    ]
    const cp = parseCheckpoint(parseSignedNote(checkpoint).text)
    out.push(`every package proven against the checkpoint of ${cp.origin} at tree size ${cp.size}`)
    out.push(completenessLine(completeness))
    out.push(formatFreshness(fresh, policy.witnesses))
    io.stdout.write(`${out.join('\n')}\n`)
  }
  return ok ? EXIT.OK : EXIT.NEGATIVE
}
