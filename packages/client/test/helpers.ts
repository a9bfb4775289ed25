// Keys and signed statements for client tests, made with @ledger/attestation (the signing side).
import {
  buildStatement,
  generateKeyPair,
  signStatement,
  type DSSEBundleJSON,
  type GeneratedKeyPair,
} from '@ledger/attestation'
import { parseCosignerKey, type NoteSigner } from '@ledger/tlog'

export const COMMIT_A = 'a'.repeat(40)
export const COMMIT_B = 'b'.repeat(40)
export const REPO = 'git+https://github.com/example/project'

export const digestOf = (hexChar: string) => 'sha256:' + hexChar.repeat(64)

export interface TestKey extends GeneratedKeyPair {
  sign(subjects: { name: string; sha256: string }[], commit?: string): Promise<DSSEBundleJSON>
}

export function makeKey(type: 'ecdsa-p256' | 'ed25519' = 'ecdsa-p256'): TestKey {
  const pair = generateKeyPair(type)
  return {
    ...pair,
    sign: (subjects, commit = COMMIT_A) =>
      signStatement(
        buildStatement({
          artifacts: subjects,
          source: { uri: REPO, commit },
          builderId: `https://builders.example/${pair.keyId.slice(0, 8)}`,
        }),
        pair.privateKeyPem,
      ),
  }
}

/** A policy document (JSON text) for the given log and parties. */
export function policyText(
  log: { origin: string; verifierKey: string },
  parties: { name: string; keys: string[] }[],
  threshold: number,
  witnesses?: { keys: string[]; quorum: number },
): string {
  return JSON.stringify({ log, parties, threshold, ...(witnesses && { witnesses }) })
}

/**
 * A witness cosigner key as a NoteSigner, so a fake log can add its cosignature/v1 line to checkpoints: the
 * note signature bytes are the 8-byte timestamp and the Ed25519 signature (C2SP tlog-cosignature).
 */
export function cosignerAsNoteSigner(signerKey: string, timestamp = 1_700_000_000n): NoteSigner {
  const cosigner = parseCosignerKey(signerKey)
  return {
    name: cosigner.name,
    keyId: cosigner.keyId,
    sign: (message) => {
      const sig = cosigner.cosign(new TextDecoder().decode(message), timestamp)
      const out = new Uint8Array(8 + sig.signature.length)
      new DataView(out.buffer).setBigUint64(0, sig.timestamp)
      out.set(sig.signature, 8)
      return out
    },
  }
}
