import { subjectDigestKeys } from '@ledger/attestation'
import { subjectJSON } from '../context.js'
import { fromTlogPolicy, verifyReceipt, type ReceiptVerifyOptions } from '@ledger/client'
import { readBytesFile, readPolicy, readTextFile, toJSON, usage } from '../context.js'
import { EXIT, type ExitCode } from '../exit-codes.js'
import type { Io } from '../io.js'
import { clean } from '../table.js'

export interface ReceiptVerifyCommandOptions {
  logKey?: string
  policy?: string
  tlogPolicy?: string
  publicKey?: string
  leaf?: string
  json?: boolean
}

/**
 * `attest receipt verify FILE`: verifies a receipt offline (no network), as a Sigstore bundle or a C2SP
 * tlog-proof. Exit 0 when it verifies, 1 when it does not (ClientError RECEIPT_INVALID), 2 on input errors.
 */
export async function receiptVerifyCommand(
  io: Io,
  file: string,
  opts: ReceiptVerifyCommandOptions,
): Promise<ExitCode> {
  const pinnedBy = [opts.logKey, opts.policy ?? opts.tlogPolicy].filter((v) => v !== undefined)
  if (pinnedBy.length !== 1) {
    throw usage(
      'give exactly one of --log-key KEY or --policy FILE (or --tlog-policy FILE): offline, the log key must be pinned',
    )
  }
  const verifyOpts: ReceiptVerifyOptions = { logVerifierKey: '' }
  if (opts.policy !== undefined || opts.tlogPolicy !== undefined) {
    const { log, witnesses } =
      opts.policy !== undefined
        ? await readPolicy(io, opts.policy, opts.tlogPolicy)
        : fromTlogPolicy(await readTextFile(io, opts.tlogPolicy!, 'tlog-policy'))
    verifyOpts.logVerifierKey = log.verifierKey
    verifyOpts.witnesses = witnesses.keys
    verifyOpts.quorum = witnesses.quorum
    if (witnesses.tlogPolicy !== undefined) verifyOpts.tlogPolicy = witnesses.tlogPolicy
  } else {
    const key = opts.logKey!
    verifyOpts.logVerifierKey = key.includes('+')
      ? key.trim()
      : (await readTextFile(io, key, 'log key file')).trim()
  }
  if (opts.publicKey !== undefined) {
    verifyOpts.publicKey = /^[0-9a-f]{64}$/i.test(opts.publicKey)
      ? opts.publicKey.toLowerCase()
      : await readTextFile(io, opts.publicKey, 'public key')
  }
  if (opts.leaf !== undefined) verifyOpts.leaf = await readBytesFile(io, opts.leaf, 'leaf')
  const receipt = await readBytesFile(io, file, 'receipt')
  const verified = verifyReceipt(receipt, verifyOpts)
  const { origin, size } = verified.checkpoint.checkpoint
  if (opts.json) {
    io.stdout.write(
      toJSON({
        valid: true,
        format: verified.format,
        index: verified.index,
        keyId: verified.entry.keyId,
        origin,
        treeSize: size,
        subjects: verified.entry.keys.subjects.map((s) => subjectJSON(s)),
        commits: verified.entry.keys.commits,
        checkpoint: verified.checkpoint.note,
      }),
    )
  } else {
    io.stdout.write(
      [
        `valid ${verified.format} receipt: entry ${verified.index} of ${origin} (tree size ${size})`,
        `signed by key ${verified.entry.keyId}`,
        ...verified.entry.keys.subjects.map(
          (s) => `  ${clean(s.name)}  ${subjectDigestKeys(s.digest).join(' ')}`,
        ),
        `from commit ${verified.entry.keys.commits.join(', ')}`,
      ].join('\n') + '\n',
    )
  }
  return EXIT.OK
}
