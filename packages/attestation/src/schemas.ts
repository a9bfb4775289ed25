// The JSON Schemas of schemas/ (the contract between the log, the client and the CLI), compiled once each.
import { createRequire } from 'node:module'
import { Ajv2020 } from 'ajv/dist/2020.js'
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js'
import { AttestationError } from './errors.js'
import type { AttestationErrorCode } from './errors.js'
import type { ApiError, RebuildStatement, Statement, Submission, TrustPolicy } from './types.js'

/** The schema files of @ledger/schemas, by name (`<name>.schema.json`). */
export type SchemaName = 'statement' | 'rebuild-provenance' | 'submission' | 'trust-policy' | 'api-error'

/** `$id` of each schema: https://rebuild-ledger.dev/schemas/<name>.schema.json */
export function schemaId(name: SchemaName): string {
  return `https://rebuild-ledger.dev/schemas/${name}.schema.json`
}

const SCHEMA_NAMES: readonly SchemaName[] = [
  'statement',
  'rebuild-provenance',
  'submission',
  'trust-policy',
  'api-error',
]

let ajv: Ajv2020 | undefined
const compiled = new Map<SchemaName, ValidateFunction>()

function compiledValidator(name: SchemaName): ValidateFunction {
  let validate = compiled.get(name)
  if (validate) return validate
  if (!ajv) {
    // Schemas load lazily so that importing the package (the CLI's startup) costs no compilation.
    const require = createRequire(import.meta.url)
    // strictRequired stays off: `anyOf: [{required: [a]}, ...]` alternatives name properties defined beside them.
    ajv = new Ajv2020({ strictSchema: true, strictNumbers: true, strictTypes: true, strictTuples: true })
    for (const schemaName of SCHEMA_NAMES) {
      ajv.addSchema(require(`@ledger/schemas/${schemaName}.schema.json`) as object)
    }
  }
  validate = ajv.getSchema(schemaId(name))
  if (!validate) throw new Error(`schema ${name} is not loaded`)
  compiled.set(name, validate)
  return validate
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
