// Shared test helpers: fixture files and small independent computations (node:crypto, never the package).
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'

export function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')
}

export function vectorFile(name: string): string {
  return readFileSync(new URL(`../../../test/vectors/attestation/${name}`, import.meta.url), 'utf8')
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export function b64(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString('base64')
}

/** Key ids of the fixture keys, computed with `openssl pkey -pubin -outform DER | sha256sum` (fixtures/README.md). */
export const FIXTURE_KEY_IDS = {
  'ecdsa-p256': 'eb41ca82d7601949c321f53c16d303f1e71448b7b8adace7d691b02368469f88',
  ed25519: '57624cd286827484b8dbecd2f29265cebbdcf4eb1fda1a24fc380699009f317a',
} as const

export const KEY_TYPES = ['ecdsa-p256', 'ed25519'] as const

/** A minimal valid rebuild statement, written out by hand. */
export function sampleStatement(overrides: { commit?: string; sha256?: string } = {}) {
  return {
    _type: 'https://in-toto.io/Statement/v1' as const,
    subject: [
      {
        name: 'pkg-1.0.0.tgz',
        digest: {
          sha256: overrides.sha256 ?? 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
        },
      },
    ],
    predicateType: 'https://slsa.dev/provenance/v1' as const,
    predicate: {
      buildDefinition: {
        buildType: 'https://rebuild-ledger.dev/buildtypes/rebuild/v1',
        externalParameters: {},
        resolvedDependencies: [
          {
            uri: 'git+https://github.com/o/r',
            digest: { gitCommit: overrides.commit ?? '0123456789abcdef0123456789abcdef01234567' },
          },
        ],
      },
      runDetails: { builder: { id: 'https://rebuilder.example/b1' } },
    },
  }
}
