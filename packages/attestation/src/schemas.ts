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

/**
 * One line naming where a document broke its schema: the JSON pointer of the value and the reason. A key
 * the schema does not know is named first (a misspelled `treshold` is the likely mistake, and the
 * `threshold` then missing is its consequence), then up to two other reasons.
 */
export function describeSchemaErrors(errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'invalid'
  const unknown = errors.filter((e) => e.keyword === 'additionalProperties')
  const ordered = [...unknown, ...errors.filter((e) => e.keyword !== 'additionalProperties')]
  const lines: string[] = []
  for (const e of ordered) {
    const at = e.instancePath || '/'
    const params = e.params as { additionalProperty?: string; missingProperty?: string }
    const line =
      e.keyword === 'additionalProperties' && params.additionalProperty !== undefined
        ? `${at}: unknown key ${JSON.stringify(params.additionalProperty)}`
        : e.keyword === 'required' && params.missingProperty !== undefined
          ? `${at}: missing key ${JSON.stringify(params.missingProperty)}`
          : `${at}: ${e.message ?? 'invalid'}${Object.keys(e.params).length > 0 ? ` ${JSON.stringify(e.params)}` : ''}`
    if (!lines.includes(line)) lines.push(line)
    if (lines.length === 3) break
  }
  return lines.join('; ')
}

/**
 * Why `value` breaks schema `name` (describeSchemaErrors), or undefined when it satisfies it. The validators
 * stop at the first error, so a misspelled key (`treshold`) shows as the key then missing (`threshold`):
 * a key of that object within two edits of the missing one is named as the likely misspelling.
 */
export function schemaProblem(name: SchemaName, value: unknown): string | undefined {
  const validate = compiledValidator(name)
  if (validate(value)) return undefined
  const text = describeSchemaErrors(validate.errors)
  const first = validate.errors?.[0]
  const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty
  if (first?.keyword !== 'required' || missing === undefined) return text
  let at: unknown = value
  for (const part of first.instancePath.split('/').slice(1)) {
    at = (at as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')]
  }
  if (typeof at !== 'object' || at === null) return text
  const near = Object.keys(at).find((key) => key !== missing && editDistance(key, missing) <= 2)
  return near === undefined ? text : `${text} (unknown key ${JSON.stringify(near)}: misspelled?)`
}

/** Levenshtein distance, for short keys. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      )
    }
    previous = current
  }
  return previous[b.length]!
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
