import { access } from 'node:fs/promises'
import { generateKeyPair, keyFileNames, PRIVATE_KEY_FILE_MODE, type KeyType } from '@ledger/attestation'
import { resolvePath, toJSON, usage, writeFileAtomic } from '../context.js'
import { EXIT, type ExitCode } from '../exit-codes.js'
import type { Io } from '../io.js'

export interface KeygenOptions {
  type: string
  out: string
  json?: boolean
}

/**
 * `attest keygen`: writes PREFIX.key (PKCS#8 PEM, mode 0600) and PREFIX.pub (SPKI PEM). Refuses to
 * overwrite either file (exit 2), checking both before writing anything.
 */
export async function keygenCommand(io: Io, opts: KeygenOptions): Promise<ExitCode> {
  if (opts.type !== 'ecdsa-p256' && opts.type !== 'ed25519') {
    throw usage(`--type ${opts.type}: expected ecdsa-p256 or ed25519`)
  }
  const files = keyFileNames(opts.out)
  for (const file of [files.privateKey, files.publicKey]) {
    const exists = await access(resolvePath(io, file)).then(
      () => true,
      () => false,
    )
    if (exists) throw usage(`${file} exists; refusing to overwrite it`)
  }
  const pair = generateKeyPair(opts.type as KeyType)
  await writeFileAtomic(io, files.privateKey, pair.privateKeyPem, {
    mode: PRIVATE_KEY_FILE_MODE,
    exclusive: true,
  })
  await writeFileAtomic(io, files.publicKey, pair.publicKeyPem, { mode: 0o644, exclusive: true })
  if (opts.json) {
    io.stdout.write(
      toJSON({
        keyId: pair.keyId,
        type: opts.type,
        privateKey: resolvePath(io, files.privateKey),
        publicKey: resolvePath(io, files.publicKey),
      }),
    )
  } else {
    io.stdout.write(
      `key id ${pair.keyId} (${opts.type})\nwrote ${files.privateKey} (private, mode 0600) and ${files.publicKey}\n`,
    )
  }
  return EXIT.OK
}
