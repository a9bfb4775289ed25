// The rebuild statement (DESIGN §3): building one, parsing a signed one, and the keys the log indexes it by.
import { IN_TOTO_STATEMENT_V1, REBUILD_BUILD_TYPE, SLSA_PROVENANCE_V1 } from './constants.js'
import { decodeUTF8, GIT_COMMIT_HEX, isPlainObject, sha256 } from './bytes.js'
import { AttestationError } from './errors.js'
import type { AttestationErrorCode } from './errors.js'
import { assertSchema } from './schemas.js'
import {
  DIGEST_ALGORITHMS,
  DIGEST_LENGTHS,
  digestBytes,
  isDigestHex,
  subjectDigestKeys,
  type DigestAlgorithm,
  type SubjectDigests,
} from './digest.js'
import type { RebuildStatement, ResourceDescriptor } from './types.js'

/**
 * One rebuilt artifact: its name and its digests (lowercase hex; `sha256` is a shorthand for
 * `digest.sha256`), or its bytes, hashed here with `algorithms` (default sha256) and checked against any
 * digest also given.
 */
export interface ArtifactInput {
  name: string
  sha256?: string
  digest?: SubjectDigests
  bytes?: Uint8Array
  algorithms?: readonly DigestAlgorithm[]
}

export interface BuildStatementInput {
  /** The rebuilt artifacts, the statement's subjects, in this order. */
  artifacts: readonly ArtifactInput[]
  /** The source: repository URI (e.g. `git+https://github.com/o/r`) and commit (40 or 64 lowercase hex). */
  source: { uri: string; commit: string }
  /** The rebuilder's URI: `runDetails.builder.id`. */
  builderId: string
  /** `buildDefinition.buildType`; REBUILD_BUILD_TYPE by default. */
  buildType?: string
  /** Extra `externalParameters`, merged over `{repository, commit}`. */
  externalParameters?: Record<string, unknown>
  /** Other resolved dependencies (toolchains, base images); none of them may carry a gitCommit. */
  dependencies?: readonly ResourceDescriptor[]
  /** `runDetails.metadata`; Dates are written as RFC 3339 UTC. The package reads no clock: pass the times. */
  metadata?: { invocationId?: string; startedOn?: Date | string; finishedOn?: Date | string }
  /** The build environment, recorded as `buildDefinition.internalParameters.environment`. */
  environment?: Record<string, unknown>
}

/** Lowercase hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return sha256(bytes).toString('hex')
}

/**
 * Builds the statement a rebuilder signs: an in-toto Statement v1 with an SLSA Provenance v1 predicate whose
 * single gitCommit dependency is the source (DESIGN §3). Pure: bytes are hashed here, files are the caller's.
 * Throws AttestationError DIGEST_INVALID (a digest or commit that is not lowercase hex of the right length,
 * or bytes that do not match a given sha256) or STATEMENT_INVALID (the result breaks the schema).
 */
export function buildStatement(input: BuildStatementInput): RebuildStatement {
  const subject = input.artifacts.map((artifact) => ({
    name: artifact.name,
    digest: artifactDigests(artifact),
  }))
  if (!GIT_COMMIT_HEX.test(input.source.commit)) {
    throw new AttestationError('DIGEST_INVALID', 'source commit is not 40 or 64 lowercase hex')
  }
  const metadata: Record<string, string> = {}
  if (input.metadata?.invocationId !== undefined) metadata.invocationId = input.metadata.invocationId
  if (input.metadata?.startedOn !== undefined) metadata.startedOn = timestamp(input.metadata.startedOn)
  if (input.metadata?.finishedOn !== undefined) metadata.finishedOn = timestamp(input.metadata.finishedOn)

  const statement: RebuildStatement = {
    _type: IN_TOTO_STATEMENT_V1,
    subject,
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: input.buildType ?? REBUILD_BUILD_TYPE,
        externalParameters: {
          repository: input.source.uri,
          commit: input.source.commit,
          ...input.externalParameters,
        },
        ...(input.environment !== undefined
          ? { internalParameters: { environment: input.environment } }
          : {}),
        resolvedDependencies: [
          { uri: input.source.uri, digest: { gitCommit: input.source.commit } },
          ...(input.dependencies ?? []),
        ],
      },
      runDetails: {
        builder: { id: input.builderId },
        ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
      },
    },
  }
  return assertRebuildStatement(statement)
}

function artifactDigests(artifact: ArtifactInput): SubjectDigests {
  const digest: SubjectDigests = { ...artifact.digest }
  if (artifact.sha256 !== undefined) {
    if (digest.sha256 !== undefined && digest.sha256 !== artifact.sha256) {
      throw new AttestationError('DIGEST_INVALID', `artifact ${artifact.name}: two different sha256`)
    }
    digest.sha256 = artifact.sha256
  }
  if (artifact.bytes !== undefined) {
    const computed = digestBytes(artifact.bytes, artifact.algorithms ?? ['sha256'])
    for (const algorithm of DIGEST_ALGORITHMS) {
      const value = computed[algorithm]
      if (value === undefined) continue
      if (digest[algorithm] !== undefined && digest[algorithm] !== value) {
        throw new AttestationError(
          'DIGEST_INVALID',
          `artifact ${artifact.name}: bytes do not match ${algorithm}`,
        )
      }
      digest[algorithm] = value
    }
  }
  const out: SubjectDigests = {}
  for (const [algorithm, value] of Object.entries(digest)) {
    if (!(DIGEST_ALGORITHMS as readonly string[]).includes(algorithm)) {
      throw new AttestationError(
        'DIGEST_INVALID',
        `artifact ${artifact.name}: algorithm ${algorithm} is not accepted`,
      )
    }
    const alg = algorithm as DigestAlgorithm
    if (typeof value !== 'string' || !isDigestHex(alg, value)) {
      throw new AttestationError(
        'DIGEST_INVALID',
        `artifact ${artifact.name}: ${alg} is not ${DIGEST_LENGTHS[alg] * 2} lowercase hex`,
      )
    }
  }
  for (const algorithm of DIGEST_ALGORITHMS)
    if (digest[algorithm] !== undefined) out[algorithm] = digest[algorithm]
  if (Object.keys(out).length === 0) {
    throw new AttestationError(
      'DIGEST_INVALID',
      `artifact ${artifact.name}: no digest (${DIGEST_ALGORITHMS.join(', ')})`,
    )
  }
  return out
}

function timestamp(value: Date | string): string {
  if (typeof value === 'string') return value
  if (Number.isNaN(value.getTime()))
    throw new AttestationError('STATEMENT_INVALID', 'invalid Date in metadata')
  return value.toISOString()
}

/**
 * Checks an untrusted value against the rebuild rules (DESIGN §3, rebuild-provenance.schema.json): first the
 * digests the log indexes (DIGEST_INVALID: a subject sha256 or a gitCommit of the wrong form), then the
 * whole schema (STATEMENT_INVALID, with the failing JSON pointer). Returns the value typed.
 */
export function assertRebuildStatement(value: unknown): RebuildStatement {
  assertDigests(value)
  return assertSchema<RebuildStatement>('rebuild-provenance', value, 'STATEMENT_INVALID')
}

// The log indexes these values, so a malformed one gets its own code instead of a generic schema error.
function assertDigests(value: unknown): void {
  if (!isPlainObject(value)) return
  const fail = (code: AttestationErrorCode, what: string): never => {
    throw new AttestationError(code, what)
  }
  if (Array.isArray(value.subject)) {
    value.subject.forEach((subject: unknown, i) => {
      if (!isPlainObject(subject) || !isPlainObject(subject.digest)) return
      for (const algorithm of DIGEST_ALGORITHMS) {
        if (!(algorithm in subject.digest)) continue
        const digest = subject.digest[algorithm]
        if (typeof digest !== 'string' || !isDigestHex(algorithm, digest)) {
          fail(
            'DIGEST_INVALID',
            `/subject/${i}/digest/${algorithm} is not ${DIGEST_LENGTHS[algorithm] * 2} lowercase hex`,
          )
        }
      }
    })
  }
  const predicate = value.predicate
  if (!isPlainObject(predicate) || !isPlainObject(predicate.buildDefinition)) return
  const dependencies = predicate.buildDefinition.resolvedDependencies
  if (!Array.isArray(dependencies)) return
  dependencies.forEach((dependency: unknown, i) => {
    if (!isPlainObject(dependency) || !isPlainObject(dependency.digest)) return
    if (!('gitCommit' in dependency.digest)) return
    const commit = dependency.digest.gitCommit
    if (typeof commit !== 'string' || !GIT_COMMIT_HEX.test(commit)) {
      fail(
        'DIGEST_INVALID',
        `/predicate/buildDefinition/resolvedDependencies/${i}/digest/gitCommit is not 40 or 64 lowercase hex`,
      )
    }
  })
}

/**
 * Parses a DSSE payload (untrusted bytes, normally already signature-checked) as a rebuild statement.
 * Throws AttestationError PAYLOAD_NOT_JSON (not UTF-8 JSON text), DIGEST_INVALID or STATEMENT_INVALID.
 */
export function parseStatement(payload: Uint8Array): RebuildStatement {
  const text = decodeUTF8(payload)
  if (text === undefined) throw new AttestationError('PAYLOAD_NOT_JSON', 'payload is not UTF-8')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new AttestationError('PAYLOAD_NOT_JSON', 'payload is not JSON', { cause: error })
  }
  return assertRebuildStatement(value)
}

/** What the log indexes a statement by. */
export interface StatementIndexKeys {
  /**
   * Every distinct (algorithm, value) of every subject, as `<alg>:<hex>`, in subject order (within a
   * subject, in DIGEST_ALGORITHMS order). Only the accepted algorithms are indexed.
   */
  digests: string[]
  /** The source commit(s): the gitCommit of the resolved dependencies (exactly one in a valid statement). */
  commits: string[]
  /** Every subject, its name and its digests of the accepted algorithms, in subject order. */
  subjects: { name: string; digest: SubjectDigests }[]
}

/** The index keys of a statement already checked by `parseStatement`/`assertRebuildStatement`. */
export function statementIndexKeys(statement: RebuildStatement): StatementIndexKeys {
  const subjects = statement.subject.map((s) => {
    const digest: SubjectDigests = {}
    for (const algorithm of DIGEST_ALGORITHMS) {
      const value = s.digest[algorithm]
      if (value !== undefined) digest[algorithm] = value
    }
    return { name: s.name, digest }
  })
  const digests = [...new Set(subjects.flatMap((s) => subjectDigestKeys(s.digest)))]
  const commits = [
    ...new Set(
      statement.predicate.buildDefinition.resolvedDependencies
        .map((dependency) => dependency.digest?.gitCommit)
        .filter((commit): commit is string => typeof commit === 'string'),
    ),
  ]
  return { digests, commits, subjects }
}

/** A build input a statement names: a resolved dependency other than the source, by the digests the log indexes. */
export interface BuildInputDigests {
  /** Its `name`, else its `uri`, else `input <i>` (its position among the resolved dependencies). */
  name: string
  /** Its digests of the accepted algorithms (at least one). */
  digest: SubjectDigests
}

/**
 * The build inputs of a statement already checked by `parseStatement`/`assertRebuildStatement`: every
 * resolved dependency without a gitCommit (the source) that carries a digest of an accepted algorithm, in
 * order. Dependencies named only by a URI or by other algorithms (sha1, gitTree) are not build inputs the
 * log can answer for, and are left out.
 */
export function statementBuildInputs(statement: RebuildStatement): BuildInputDigests[] {
  const out: BuildInputDigests[] = []
  statement.predicate.buildDefinition.resolvedDependencies.forEach((dependency, i) => {
    const digestSet = dependency.digest
    if (digestSet === undefined || digestSet['gitCommit'] !== undefined) return
    const digest: SubjectDigests = {}
    for (const algorithm of DIGEST_ALGORITHMS) {
      const value = digestSet[algorithm]
      if (typeof value === 'string' && isDigestHex(algorithm, value)) digest[algorithm] = value
    }
    if (Object.keys(digest).length === 0) return
    const name = dependency.name ?? dependency.uri ?? `input ${i}`
    out.push({ name, digest })
  })
  return out
}
