// The shapes the schemas describe, as TypeScript types. The schemas (schemas/*.schema.json) are the contract;
// these types are what a value has once its validator accepted it.
import type { KeyDetails } from './constants.js'

/** in-toto DigestSet: algorithm name to (mostly lowercase hex) digest. */
export type DigestSet = Record<string, string>

/** in-toto ResourceDescriptor (spec/v1/resource_descriptor.md). */
export interface ResourceDescriptor {
  name?: string
  uri?: string
  digest?: DigestSet
  content?: string
  downloadLocation?: string
  mediaType?: string
  annotations?: Record<string, unknown>
  [field: string]: unknown
}

/** in-toto Statement v1 (statement.schema.json). */
export interface Statement {
  _type: 'https://in-toto.io/Statement/v1'
  subject: (ResourceDescriptor & { digest: DigestSet })[]
  predicateType: string
  predicate?: Record<string, unknown>
  [field: string]: unknown
}

/** SLSA Provenance v1 predicate (slsa.dev/provenance/v1). */
export interface SLSAProvenanceV1 {
  buildDefinition: {
    buildType: string
    externalParameters: Record<string, unknown>
    internalParameters?: Record<string, unknown>
    resolvedDependencies?: ResourceDescriptor[]
    [field: string]: unknown
  }
  runDetails: {
    builder: { id: string; version?: Record<string, string>; builderDependencies?: ResourceDescriptor[] }
    metadata?: { invocationId?: string; startedOn?: string; finishedOn?: string; [field: string]: unknown }
    byproducts?: ResourceDescriptor[]
    [field: string]: unknown
  }
  [field: string]: unknown
}

/** A rebuilt artifact: a named subject with at least one of sha256, sha384, sha512, blake2b. */
export interface RebuiltArtifact extends ResourceDescriptor {
  name: string
  digest: DigestSet
}

/** The statement a rebuilder signs (rebuild-provenance.schema.json, DESIGN §3). */
export interface RebuildStatement extends Statement {
  subject: RebuiltArtifact[]
  predicateType: 'https://slsa.dev/provenance/v1'
  predicate: SLSAProvenanceV1 & {
    buildDefinition: SLSAProvenanceV1['buildDefinition'] & { resolvedDependencies: ResourceDescriptor[] }
  }
}

/** A DSSE envelope in Sigstore protobuf JSON (base64 payload and signatures). */
export interface DSSEEnvelopeJSON {
  payload: string
  payloadType: string
  signatures: { sig: string; keyid?: string }[]
}

/** A Sigstore bundle v0.3 with a DSSE envelope and a public key hint, as submission.schema.json accepts it. */
export interface DSSEBundleJSON {
  mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json'
  verificationMaterial: {
    publicKey: { hint: string }
    tlogEntries?: Record<string, unknown>[]
    timestampVerificationData?: Record<string, unknown>
  }
  dsseEnvelope: DSSEEnvelopeJSON
}

/** Body of POST /api/v1/entries (submission.schema.json). */
export interface Submission {
  bundle: DSSEBundleJSON
  publicKey: string
}

/** A trust policy (trust-policy.schema.json, DESIGN §8). */
export interface TrustPolicy {
  $schema?: string
  log: { origin: string; verifierKey: string }
  witnesses?: { keys: string[]; quorum: number }
  /** Freshness: the most seconds since the witness quorum cosigned a checkpoint (needs witnesses). */
  maxCheckpointAgeSeconds?: number
  parties: { name: string; keys: string[] }[]
  threshold: number
  roots?: ({ name: string } & ({ digest: string } | { party: string }))[]
  minDistinctToolchains?: number
}

/** Error body of the JSON API (api-error.schema.json). */
export interface ApiError {
  error: { code: string; message: string; details?: Record<string, unknown> }
}

export type { KeyDetails }
