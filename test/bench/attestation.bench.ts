// Attestation throughput: signing and verifying through @ledger/attestation (the @sigstore path and the fast
// node:crypto path the log server uses), each next to raw node:crypto on the same key and the same PAE,
// measured in one run so the ratios compare like with like.
import { sign, verify } from 'node:crypto'
import {
  buildStatement,
  dssePAE,
  encodeLogEntry,
  generateKeyPair,
  IN_TOTO_PAYLOAD_TYPE,
  openBundle,
  privateKeyFromPEM,
  publicKeyFromPEM,
  signStatement,
  verifyBundle,
  verifyBundleFast,
  verifyDSSE,
  verifyLogEntry,
} from '@ledger/attestation'
import type { KeyType, PublicKeyInfo } from '@ledger/attestation'
import { rate, rateAsync, ratio, row } from './measure.js'

const KEY_TYPES: readonly KeyType[] = ['ecdsa-p256', 'ed25519']

// The machine is shared: measuring every operation in short interleaved slices and keeping each one's best
// puts the raw and the package figures of a ratio under the same load.
const ROUNDS = 4
const SLICE_SECONDS = 0.25

async function bestOf<K extends string>(ops: Record<K, () => unknown>): Promise<Record<K, number>> {
  const best = {} as Record<K, number>
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of Object.keys(ops) as K[]) {
      const op = ops[name]
      const measured =
        op.constructor.name === 'AsyncFunction'
          ? await rateAsync(op as () => Promise<unknown>, SLICE_SECONDS)
          : rate(op, SLICE_SECONDS)
      best[name] = Math.max(best[name] ?? 0, measured)
    }
  }
  return best
}

export async function run(): Promise<void> {
  for (const type of KEY_TYPES) {
    const pair = generateKeyPair(type)
    const privateKey = privateKeyFromPEM(pair.privateKeyPem)
    const publicKey = publicKeyFromPEM(pair.publicKeyPem)
    const statement = buildStatement({
      artifacts: [
        { name: 'pkg-1.0.0.tgz', sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
      ],
      source: {
        uri: 'git+https://github.com/example/pkg',
        commit: '0123456789abcdef0123456789abcdef01234567',
      },
      builderId: 'https://rebuilder.example/b1',
      metadata: { startedOn: '2026-01-01T00:00:00Z', finishedOn: '2026-01-01T00:05:00Z' },
    })
    const bundle = await signStatement(statement, privateKey)
    const { payload, signature } = openBundle(bundle, publicKey.keyId)
    const pae = dssePAE(IN_TOTO_PAYLOAD_TYPE, payload)
    const algorithm = type === 'ed25519' ? null : 'sha256'
    const leaf = encodeLogEntry({
      payload,
      signature,
      spkiDer: publicKey.spkiDer,
      keyDetails: publicKey.keyDetails,
    })
    const keyCache = new Map<string, PublicKeyInfo>()

    console.log(`\n${type} (payload ${payload.length} bytes, leaf ${leaf.byteLength} bytes)`)
    const r = await bestOf({
      rawSign: () => sign(algorithm, pae, privateKey.keyObject),
      packageSign: async () => signStatement(statement, privateKey),
      rawVerify: () => verify(algorithm, pae, publicKey.keyObject, signature),
      verifyDSSE: () => verifyDSSE(payload, signature, publicKey.keyObject, publicKey.keyDetails),
      verifyBundleFast: () => verifyBundleFast(bundle, publicKey),
      verifyBundle: () => verifyBundle(bundle, publicKey),
      verifyLogEntry: () => verifyLogEntry(leaf, { keyCache }),
      publicKeyFromPEM: () => publicKeyFromPEM(pair.publicKeyPem),
    })
    row('  raw node:crypto sign (same PAE)', r.rawSign, 'ops/s')
    row('  signStatement (@sigstore/sign DSSE bundle)', r.packageSign, 'ops/s')
    row('  raw node:crypto verify (same PAE)', r.rawVerify, 'ops/s')
    row('  verifyDSSE (payload → PAE → verify)', r.verifyDSSE, 'ops/s')
    row('  verifyBundleFast (bundle checks + statement)', r.verifyBundleFast, 'ops/s')
    row('  verifyBundle (@sigstore/verify)', r.verifyBundle, 'ops/s')
    row('  verifyLogEntry (decode, hash, verify, statement)', r.verifyLogEntry, 'ops/s')
    row('  publicKeyFromPEM (saved by a key cache)', r.publicKeyFromPEM, 'ops/s')
    ratio('  signStatement / raw sign', r.packageSign, r.rawSign)
    ratio('  verifyDSSE / raw verify', r.verifyDSSE, r.rawVerify, '>= 0.9')
    ratio('  verifyBundleFast / raw verify', r.verifyBundleFast, r.rawVerify)
    ratio('  verifyBundle (@sigstore) / raw verify', r.verifyBundle, r.rawVerify)
    ratio('  verifyBundleFast / verifyBundle (@sigstore)', r.verifyBundleFast, r.verifyBundle)
  }
}
