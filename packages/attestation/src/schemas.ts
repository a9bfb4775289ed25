// The JSON Schemas of schemas/ (the contract between the log, the client and the CLI), compiled at build
// time by ajv's standalone generator (scripts/generate-validators.mjs) with the options a runtime Ajv had.
import type { ErrorObject } from 'ajv/dist/2020.js'
import * as generated from './schema-validators.generated.js'
import { AttestationError } from './errors.js'
import type { AttestationErrorCode } from './errors.js'
import type { ApiError, RebuildStatement, Statement, Submission, TrustPolicy } from './types.js'

/** The schema files of @ledger/schemas, by name (`<name>.schema.json`). */
export type SchemaName = 'statement' | 'rebuild-provenance' | 'submission' | 'trust-policy' | 'api-error'

/** `$id` of each schema: https://rebuild-ledger.dev/schemas/<name>.schema.json */
export function schemaId(name: SchemaName): string {
  return `https://rebuild-ledger.dev/schemas/${name}.schema.json`
}

/** Compiled at build time (schema-validators.generated.ts): nothing is compiled when a process starts. */
type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null }
const VALIDATORS: Readonly<Record<SchemaName, Validator>> = {
  statement: generated.statement as unknown as Validator,
  'rebuild-provenance': generated.rebuildProvenance as unknown as Validator,
  submission: generated.submission as unknown as Validator,
  'trust-policy': generated.trustPolicy as unknown as Validator,
  'api-error': generated.apiError as unknown as Validator,
}

function compiledValidator(name: SchemaName): Validator {
  return VALIDATORS[name]
}

/** One line naming where a document broke its schema: the JSON pointer of the value and ajv's reason. */
export function describeSchemaErrors(errors: readonly ErrorObject[] | null | undefined): string {
  const first = errors?.[0]
  if (!first) return 'invalid'
  const params = Object.keys(first.params).length > 0 ? ` ${JSON.stringify(first.params)}` : ''
  return `${first.instancePath || '/'}: ${first.message ?? 'invalid'}${params}`
}

/** Validates `value` against schema `name`, throwing AttestationError `code` with the ajv path on failure. */
export function assertSchema<T>(name: SchemaName, value: unknown, code: AttestationErrorCode): T {
  const validate = compiledValidator(name)
  if (!validate(value)) {
    throw new AttestationError(code, `${name} schema: ${describeSchemaErrors(validate.errors)}`)
  }
  return value as T
}

/** True when `value` satisfies schema `name`. */
export function isSchemaValid(name: SchemaName, value: unknown): boolean {
  return compiledValidator(name)(value)
}

/**
 * A validator for schema `name`: it returns its (untrusted) argument typed when valid, and throws
 * AttestationError SCHEMA_INVALID naming the failing JSON pointer otherwise. Compiled once per process.
 */
export function schemaValidator<T>(name: SchemaName): (value: unknown) => T {
  return (value) => assertSchema<T>(name, value, 'SCHEMA_INVALID')
}

/** Validates a POST /api/v1/entries body (submission.schema.json). Throws AttestationError SCHEMA_INVALID. */
export const validateSubmission: (value: unknown) => Submission = schemaValidator<Submission>('submission')

/** Validates an in-toto Statement v1 (statement.schema.json), any predicate. Throws SCHEMA_INVALID. */
export const validateStatement: (value: unknown) => Statement = schemaValidator<Statement>('statement')

/**
 * Validates a rebuild statement (rebuild-provenance.schema.json: DESIGN §3 on top of SLSA Provenance v1).
 * Throws SCHEMA_INVALID. Signed payloads go through `parseStatement`, which answers STATEMENT_INVALID.
 */
export const validateRebuildStatement: (value: unknown) => RebuildStatement =
  schemaValidator<RebuildStatement>('rebuild-provenance')

/** Validates a trust policy (trust-policy.schema.json, DESIGN §8). Throws SCHEMA_INVALID. */
export const validateTrustPolicy: (value: unknown) => TrustPolicy =
  schemaValidator<TrustPolicy>('trust-policy')

/** Validates an API error body (api-error.schema.json, DESIGN §6). Throws SCHEMA_INVALID. */
export const validateApiError: (value: unknown) => ApiError = schemaValidator<ApiError>('api-error')
