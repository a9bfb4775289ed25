/** DSSE payloadType of in-toto attestations; the only type the ledger signs, verifies and logs. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json'

/** `_type` of an in-toto Statement v1. */
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1'

/** `predicateType` of SLSA Provenance v1. */
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1'

/** Default `buildType` of statements built by `buildStatement`. */
export const REBUILD_BUILD_TYPE = 'https://rebuild-ledger.dev/buildtypes/rebuild/v1'

/** Media type of a Sigstore bundle v0.3. */
export const SIGSTORE_BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json'

/** Largest log leaf: C2SP tlog-tiles entry bundles prefix each entry with a uint16 length (DESIGN §4). */
export const MAX_LEAF_SIZE = 65_535

/** Sigstore `PublicKeyDetails` names of the two accepted key types (sigstore protobuf-specs common). */
export type KeyDetails = 'PKIX_ECDSA_P256_SHA_256' | 'PKIX_ED25519'

/** File mode for a private key file (owner read/write only); the CLI applies it when writing. */
export const PRIVATE_KEY_FILE_MODE = 0o600

/** Most build inputs (resolved dependencies besides the source) a rebuild statement names (the schema's). */
export const MAX_BUILD_INPUTS = 256

/** Longest name of a build input, in characters (the schema's). */
export const MAX_BUILD_INPUT_NAME = 256
