import { basename } from 'node:path'
import {
  buildStatement,
  DIGEST_ALGORITHMS,
  isDigestAlgorithm,
  MAX_BUILD_INPUT_NAME,
  MAX_BUILD_INPUTS,
  parseDigest,
  privateKeyFromPEM,
  signStatement,
  subjectDigestKeys,
  type ArtifactInput,
  type DigestAlgorithm,
  type SubjectDigests,
} from '@ledger/attestation'
import { ClientError, toTlogProof, verifyReceipt } from '@ledger/client'
import {
  clientFor,
  httpOptions,
  parseCommitFlag,
  readTextFile,
  resolveLog,
  resolvePath,
  stateStore,
  subjectJSON,
  toJSON,
  usage,
  writeFileAtomic,
} from '../context.js'
import { EXIT, type ExitCode } from '../exit-codes.js'
import { hashFileWith } from '../hash-file.js'
import type { Io } from '../io.js'

export interface SubmitOptions {
  log: string
  key: string
  artifact?: string[]
  subject?: string[]
  input?: string[]
  digestAlgs?: string
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

/** What `--artifact` records by default: npm's, most tools', and Arch's b2sum algorithms. */
export const DEFAULT_DIGEST_ALGS: readonly DigestAlgorithm[] = ['sha256', 'sha512', 'blake2b']

/** `--digest-algs sha256,sha512`: a comma-separated list of accepted algorithms, each once. */
export function parseDigestAlgs(value: string): DigestAlgorithm[] {
  const names = value.split(',').map((name) => name.trim().toLowerCase())
  const out: DigestAlgorithm[] = []
  for (const name of names) {
    if (!isDigestAlgorithm(name)) {
      throw usage(
        `--digest-algs ${value}: ${name || '(empty)'} is not one of ${DIGEST_ALGORITHMS.join(', ')}`,
      )
    }
    if (out.includes(name)) throw usage(`--digest-algs ${value}: ${name} is named twice`)
    out.push(name)
  }
  return out
}

/**
 * A `--subject` is NAME=DIGEST, the digest `alg:hex` or an SRI string whose base64 may end in `=`: the
 * name is everything before the last `=` that is followed by something other than `=`.
 */
function subjectSplit(subject: string): [string, string] | undefined {
  const at = subject.search(/=[^=]+=*$/)
  return at > 0 ? [subject.slice(0, at), subject.slice(at + 1)] : undefined
}

/**
 * `--input NAME=DIGEST` (repeatable; a name repeated gives it several digests): the build inputs (compiler,
 * base image, toolchain tarball), at most MAX_BUILD_INPUTS names of at most MAX_BUILD_INPUT_NAME
 * characters. Exit 2 for anything else.
 */
export function parseInputFlags(values: readonly string[]): { name: string; digest: SubjectDigests }[] {
  const byName = new Map<string, SubjectDigests>()
  for (const value of values) {
    const parts = subjectSplit(value)
    if (parts === undefined)
      throw usage(
        `--input ${value}: expected NAME=ALG:HEX or NAME=<SRI string>`,
        undefined,
        'INVALID_ARGUMENT',
      )
    const [name, text] = parts
    if (name.length > MAX_BUILD_INPUT_NAME || [...name].some((c) => c < ' ' || c === '\u007f'))
      throw usage(
        `--input ${value}: a name is at most ${MAX_BUILD_INPUT_NAME} characters, with no control characters`,
        undefined,
        'INVALID_ARGUMENT',
      )
    let digest
    try {
      digest = parseDigest(text)
    } catch (err) {
      throw usage(`--input ${value}: ${(err as Error).message}`, err, 'INVALID_DIGEST')
    }
    const digests = byName.get(name) ?? {}
    if (digests[digest.algorithm] !== undefined && digests[digest.algorithm] !== digest.hex)
      throw usage(`--input: ${name} is given two different ${digest.algorithm} digests`)
    digests[digest.algorithm] = digest.hex
    byName.set(name, digests)
  }
  if (byName.size > MAX_BUILD_INPUTS)
    throw usage(
      `--input: ${byName.size} build inputs, more than the ${MAX_BUILD_INPUTS} a statement may name`,
    )
  return [...byName].map(([name, digest]) => ({ name, digest }))
}

/**
 * `attest submit`: hashes the artifacts (sha256, sha512 and blake2b unless --digest-algs says otherwise;
 * or takes NAME=ALG:HEX and NAME=<SRI> subjects), builds and signs the rebuild
 * statement, submits it, verifies the receipt (checkpoint signature and consistency with the state dir,
 * inclusion proof, leaf, Sigstore verification), saves it, and prints the entry's index.
 */
export async function submitCommand(io: Io, opts: SubmitOptions): Promise<ExitCode> {
  const algorithms = opts.digestAlgs !== undefined ? parseDigestAlgs(opts.digestAlgs) : DEFAULT_DIGEST_ALGS
  // Subjects by name: `--subject a=sha256:X --subject a=sha512:Y` is one subject with two digests.
  const byName = new Map<string, SubjectDigests>()
  const add = (name: string, digest: SubjectDigests, what: string) => {
    const digests = byName.get(name) ?? {}
    for (const [algorithm, hex] of Object.entries(digest) as [DigestAlgorithm, string][]) {
      if (digests[algorithm] !== undefined && digests[algorithm] !== hex) {
        throw usage(`${what}: ${name} is given two different ${algorithm} digests`)
      }
      digests[algorithm] = hex
    }
    byName.set(name, digests)
  }
  for (const subject of opts.subject ?? []) {
    const parts = subjectSplit(subject)
    if (parts === undefined) throw usage(`--subject ${subject}: expected NAME=ALG:HEX or NAME=<SRI string>`)
    let digest
    try {
      digest = parseDigest(parts[1])
    } catch (err) {
      throw usage(`--subject ${subject}: ${(err as Error).message}`, err)
    }
    add(parts[0], { [digest.algorithm]: digest.hex }, '--subject')
  }
  for (const file of opts.artifact ?? []) {
    let digests: SubjectDigests
    try {
      digests = await hashFileWith(resolvePath(io, file), algorithms, io.stderr, file)
    } catch (err) {
      throw usage(`cannot read artifact ${file}: ${(err as Error).message}`, err)
    }
    add(basename(file), digests, `--artifact ${file}`)
  }
  const artifacts: ArtifactInput[] = [...byName].map(([name, digest]) => ({ name, digest }))
  if (artifacts.length === 0) throw usage('give at least one --artifact FILE or --subject NAME=ALG:HEX')
  const commit = parseCommitFlag(opts.commit)
  const inputs = parseInputFlags(opts.input ?? [])

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
    dependencies: inputs,
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

  // The log answers at once, before its witnesses cosign: the receipt's checkpoint is log-signed. With a
  // policy that asks for witnesses, the saved receipt is checked as `attest receipt verify --policy` will
  // check it, and the output says whether it meets the witness quorum (never "verified" when it does not).
  let witnessQuorumMet: boolean | undefined
  const witnesses = resolved.witnesses
  if (witnesses !== undefined && (witnesses.quorum > 0 || witnesses.tlogPolicy !== undefined)) {
    try {
      verifyReceipt(new TextEncoder().encode(JSON.stringify(result.receipt)), {
        logVerifierKey: resolved.log.verifierKey,
        witnesses: witnesses.keys,
        quorum: witnesses.quorum,
        ...(witnesses.tlogPolicy !== undefined && { tlogPolicy: witnesses.tlogPolicy }),
      })
      witnessQuorumMet = true
    } catch (err) {
      if (!(err instanceof ClientError) || err.code !== 'RECEIPT_INVALID') throw err
      witnessQuorumMet = false
    }
  }

  const { origin, size } = result.checkpoint.checkpoint
  if (opts.json) {
    io.stdout.write(
      toJSON({
        index: result.index,
        created: result.created,
        keyId: result.entry.keyId,
        origin,
        treeSize: size,
        subjects: artifacts.map((a) => subjectJSON({ name: a.name, digest: a.digest! })),
        commit,
        inputs: inputs.map(subjectJSON),
        receipt: writtenReceipt,
        ...(writtenProof !== undefined && { tlogProof: writtenProof }),
        ...(witnessQuorumMet !== undefined && { witnessQuorumMet }),
        checkpoint: result.checkpoint.note,
      }),
    )
  } else {
    const lines = [
      `${result.created ? 'logged' : 'already logged'}: entry ${result.index} of ${origin} (tree size ${size})`,
      ...artifacts.flatMap((a) => [`  ${a.name}`, ...subjectDigestKeys(a.digest!).map((d) => `    ${d}`)]),
      `from commit ${commit}, signed by key ${result.entry.keyId}`,
      ...(inputs.length > 0 ? ['built with'] : []),
      ...inputs.flatMap((i) => [`  ${i.name}`, ...subjectDigestKeys(i.digest).map((d) => `    ${d}`)]),
      witnessQuorumMet === false
        ? `receipt saved to ${receiptPath}: its log signature, inclusion proof and entry verify, but its ` +
          `checkpoint is not yet cosigned by the policy's witness quorum, so \`attest receipt verify\` with ` +
          `this policy refuses it (attest verify and lookup prove the entry against cosigned checkpoints)`
        : witnessQuorumMet === true
          ? `receipt verified (log signature and witness quorum) and saved to ${receiptPath}`
          : `receipt verified and saved to ${receiptPath}`,
    ]
    if (opts.tlogProof !== undefined) lines.push(`tlog-proof saved to ${opts.tlogProof}`)
    io.stdout.write(`${lines.join('\n')}\n`)
  }
  return EXIT.OK
}
