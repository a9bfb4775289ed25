import { basename } from 'node:path'
import { buildStatement, privateKeyFromPEM, signStatement, type ArtifactInput } from '@ledger/attestation'
import { toTlogProof } from '@ledger/client'
import {
  clientFor,
  httpOptions,
  parseCommitFlag,
  readTextFile,
  resolveLog,
  resolvePath,
  stateStore,
  toJSON,
  usage,
  writeFileAtomic,
} from '../context.js'
import { EXIT, type ExitCode } from '../exit-codes.js'
import { hashFile } from '../hash-file.js'
import type { Io } from '../io.js'

export interface SubmitOptions {
  log: string
  key: string
  artifact?: string[]
  subject?: string[]
  repo: string
  commit: string
  builderId?: string
  receipt?: string
  tlogProof?: string
  logKey?: string
  policy?: string
  tlogPolicy?: string
  state?: string
  timeout?: string
  json?: boolean
}

const SUBJECT_RE = /^(.+)=sha256:([0-9a-f]{64})$/

/**
 * `attest submit`: hashes the artifacts (or takes NAME=sha256:HEX subjects), builds and signs the rebuild
 * statement, submits it, verifies the receipt (checkpoint signature and consistency with the state dir,
 * inclusion proof, leaf, Sigstore verification), saves it, and prints the entry's index.
 */
export async function submitCommand(io: Io, opts: SubmitOptions): Promise<ExitCode> {
  const artifacts: ArtifactInput[] = []
  for (const subject of opts.subject ?? []) {
    const match = SUBJECT_RE.exec(subject)
    if (match === null) throw usage(`--subject ${subject}: expected NAME=sha256:<64 lowercase hex>`)
    artifacts.push({ name: match[1]!, sha256: match[2]! })
  }
  for (const file of opts.artifact ?? []) {
    let sha256: string
    try {
      sha256 = await hashFile(resolvePath(io, file), io.stderr, file)
    } catch (err) {
      throw usage(`cannot read artifact ${file}: ${(err as Error).message}`, err)
    }
    artifacts.push({ name: basename(file), sha256 })
  }
  if (artifacts.length === 0) throw usage('give at least one --artifact FILE or --subject NAME=sha256:HEX')
  const commit = parseCommitFlag(opts.commit)

  const pem = await readTextFile(io, opts.key, 'private key')
  let privateKey
  try {
    privateKey = privateKeyFromPEM(pem)
  } catch (err) {
    throw usage(`--key ${opts.key}: ${(err as Error).message}`, err)
  }
  const statement = buildStatement({
    artifacts,
    source: { uri: opts.repo, commit },
    builderId: opts.builderId ?? `urn:attest:key:${privateKey.publicKey.keyId}`,
  })
  const bundle = await signStatement(statement, privateKey)

  const http = httpOptions(io, opts.timeout)
  const state = stateStore(io, opts.state)
  const resolved = await resolveLog(io, opts, state, http)
  const client = clientFor(opts.log, resolved, state, http)
  const result = await client.submit(bundle, privateKey.publicKey.pem)

  const receiptPath = opts.receipt ?? `attest-receipt-${result.index}.json`
  const writtenReceipt = await writeFileAtomic(
    io,
    receiptPath,
    `${JSON.stringify(result.receipt, null, 2)}\n`,
  )
  let writtenProof: string | undefined
  if (opts.tlogProof !== undefined)
    writtenProof = await writeFileAtomic(io, opts.tlogProof, toTlogProof(result))

  const { origin, size } = result.checkpoint.checkpoint
  if (opts.json) {
    io.stdout.write(
      toJSON({
        index: result.index,
        created: result.created,
        keyId: result.entry.keyId,
        origin,
        treeSize: size,
        subjects: artifacts.map((a) => ({ name: a.name, digest: `sha256:${a.sha256}` })),
        commit,
        receipt: writtenReceipt,
        ...(writtenProof !== undefined && { tlogProof: writtenProof }),
        checkpoint: result.checkpoint.note,
      }),
    )
  } else {
    const lines = [
      `${result.created ? 'logged' : 'already logged'}: entry ${result.index} of ${origin} (tree size ${size})`,
      ...artifacts.map((a) => `  ${a.name}  sha256:${a.sha256}`),
      `from commit ${commit}, signed by key ${result.entry.keyId}`,
      `receipt verified and saved to ${receiptPath}`,
    ]
    if (opts.tlogProof !== undefined) lines.push(`tlog-proof saved to ${opts.tlogProof}`)
    io.stdout.write(`${lines.join('\n')}\n`)
  }
  return EXIT.OK
}
