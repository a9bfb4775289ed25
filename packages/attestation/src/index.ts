// @ledger/attestation: in-toto statements for rebuilds, their JSON Schemas, DSSE signing and verification in
// Sigstore bundles, key files and key ids, and the log entry encoding (DESIGN §3, §4). Pure: no I/O.
export { AttestationError } from './errors.js'
export type { AttestationErrorCode } from './errors.js'
export {
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_V1,
  MAX_BUILD_INPUT_NAME,
  MAX_BUILD_INPUTS,
  MAX_LEAF_SIZE,
  PRIVATE_KEY_FILE_MODE,
  REBUILD_BUILD_TYPE,
  SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
  SLSA_PROVENANCE_V1,
} from './constants.js'
export type { KeyDetails } from './constants.js'
export type {
  ApiError,
  DigestSet,
  DSSEBundleJSON,
  DSSEEnvelopeJSON,
  RebuildStatement,
  RebuiltArtifact,
  ResourceDescriptor,
  SLSAProvenanceV1,
  Statement,
  Submission,
  TrustPolicy,
} from './types.js'
export {
  describeSchemaErrors,
  isSchemaValid,
  schemaId,
  schemaProblem,
  schemaValidator,
  validateApiError,
  validateRebuildStatement,
  validateStatement,
  validateSubmission,
  validateTrustPolicy,
} from './schemas.js'
export type { SchemaName } from './schemas.js'
export {
  DIGEST_ALGORITHMS,
  DIGEST_LENGTHS,
  digestBytes,
  digestsDiffer,
  formatDigest,
  isDigestAlgorithm,
  isDigestHex,
  multiHash,
  parseCanonicalDigest,
  parseDigest,
  subjectDigestKeys,
  toSRI,
} from './digest.js'
export type { Digest, DigestAlgorithm, MultiHash, SubjectDigests } from './digest.js'
export {
  assertRebuildStatement,
  buildStatement,
  parseStatement,
  sha256Hex,
  statementBuildInputs,
  statementIndexKeys,
} from './statement.js'
export type {
  ArtifactInput,
  BuildInputDigests,
  BuildStatementInput,
  StatementIndexKeys,
} from './statement.js'
export {
  encodePublicKeyPEM,
  generateKeyPair,
  keyFileNames,
  keyIdFromSPKI,
  privateKeyFromPEM,
  publicKeyFromDER,
  publicKeyFromPEM,
} from './keys.js'
export type { GeneratedKeyPair, KeyType, PrivateKeyInfo, PublicKeyInfo } from './keys.js'
export { canonicalJSON } from './canonical-json.js'
export { dssePAE, verifyDSSE } from './dsse.js'
export { localKeySigner, signPayload, signStatement } from './sign.js'
export { openBundle, verifyBundle, verifyBundleFast, verifySubmission } from './verify.js'
export type { OpenedBundle, TLogAuthority, VerifiedAttestation, VerifyBundleOptions } from './verify.js'
export { bundleFromLogEntry, decodeLogEntry, encodeLogEntry, verifyLogEntry } from './log-entry.js'
export type { LogEntry, LogEntryInput, VerifiedLogEntry, VerifyLogEntryOptions } from './log-entry.js'
export { buildLogTrustedRoot, logKeyIds, TRUSTED_ROOT_MEDIA_TYPE } from './trusted-root.js'
export type { LogKeyIds } from './trusted-root.js'
