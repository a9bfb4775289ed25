// Real statements published by others (test/vectors/attestation/, sources in its README) against our schemas.
import { readFileSync } from 'node:fs'
import { Ajv2020 } from 'ajv/dist/2020.js'
import type { ErrorObject } from 'ajv/dist/2020.js'
import { describe, expect, it } from 'vitest'
import {
  AttestationError,
  parseStatement,
  validateRebuildStatement,
  validateStatement,
  validateSubmission,
} from '@ledger/attestation'
import { vectorFile } from './helpers.js'

interface Verdict {
  valid: boolean
  failures?: [string, string][]
}
interface Vector {
  file: string
  kind: 'statement' | 'predicate' | 'bundle'
  comment: string
  statement?: Verdict
  rebuildProvenance?: Verdict
  slsaPredicate?: Verdict
  rebuildPredicate?: Verdict
  submission?: Verdict
}

const manifest = JSON.parse(vectorFile('manifest.json')) as { vectors: Vector[] }

// An independent ajv instance over the schema files, with allErrors, to see every reason a document fails.
const ajv = new Ajv2020({ allErrors: true, strictRequired: false })
for (const name of ['statement', 'rebuild-provenance', 'submission']) {
  ajv.addSchema(
    JSON.parse(
      readFileSync(new URL(`../../../schemas/${name}.schema.json`, import.meta.url), 'utf8'),
    ) as object,
  )
}
const base = 'https://rebuild-ledger.dev/schemas/'
const allErrors = (id: string, value: unknown): ErrorObject[] => {
  const validate = ajv.getSchema(base + id)
  if (!validate) throw new Error(`no schema ${id}`)
  return validate(value) ? [] : (validate.errors ?? [])
}

function expectVerdict(verdict: Verdict, errors: ErrorObject[]): void {
  expect(errors.length === 0).toBe(verdict.valid)
  const seen = errors.map((e) => [e.instancePath, e.keyword])
  for (const failure of verdict.failures ?? []) expect(seen).toContainEqual(failure)
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f()
    return undefined
  } catch (error) {
    if (error instanceof AttestationError) return error.code
    throw error
  }
}

describe.each(manifest.vectors)('$file', (vector) => {
  const document = JSON.parse(vectorFile(vector.file)) as Record<string, unknown>
  const payload =
    vector.kind === 'bundle'
      ? Buffer.from((document.dsseEnvelope as { payload: string }).payload, 'base64')
      : Buffer.from(vectorFile(vector.file))
  const statement: unknown = vector.kind === 'bundle' ? JSON.parse(payload.toString('utf8')) : document

  if (vector.statement) {
    const verdict = vector.statement
    it(`statement.schema.json: ${verdict.valid ? 'valid' : 'invalid'}`, () => {
      expectVerdict(verdict, allErrors('statement.schema.json', statement))
      expect(codeOf(() => validateStatement(statement))).toBe(verdict.valid ? undefined : 'SCHEMA_INVALID')
    })
  }
  if (vector.rebuildProvenance) {
    const verdict = vector.rebuildProvenance
    it(`rebuild-provenance.schema.json: ${verdict.valid ? 'valid' : 'invalid'}`, () => {
      expectVerdict(verdict, allErrors('rebuild-provenance.schema.json', statement))
      expect(codeOf(() => validateRebuildStatement(statement))).toBe(
        verdict.valid ? undefined : 'SCHEMA_INVALID',
      )
      // As a signed payload (the published bytes themselves), the same verdict with the verify-time code.
      expect(codeOf(() => parseStatement(payload))).toBe(verdict.valid ? undefined : 'STATEMENT_INVALID')
    })
  }
  if (vector.slsaPredicate) {
    const verdict = vector.slsaPredicate
    it(`SLSA Provenance v1 predicate: ${verdict.valid ? 'valid' : 'invalid'}`, () => {
      expectVerdict(verdict, allErrors('rebuild-provenance.schema.json#/$defs/slsaProvenanceV1', document))
    })
  }
  if (vector.rebuildPredicate) {
    const verdict = vector.rebuildPredicate
    it(`rebuild predicate: ${verdict.valid ? 'valid' : 'invalid'}`, () => {
      expectVerdict(verdict, allErrors('rebuild-provenance.schema.json#/$defs/rebuildPredicate', document))
    })
  }
  if (vector.submission) {
    const verdict = vector.submission
    it(`as a submission: ${verdict.valid ? 'valid' : 'invalid'}`, () => {
      const body = {
        bundle: document,
        publicKey: '-----BEGIN PUBLIC KEY-----\n' + 'A'.repeat(64) + '\n-----END PUBLIC KEY-----\n',
      }
      expectVerdict(verdict, allErrors('submission.schema.json', body))
      expect(codeOf(() => validateSubmission(body))).toBe(verdict.valid ? undefined : 'SCHEMA_INVALID')
    })
  }
})

it('the manifest covers every vector file, and the honest cases it must', () => {
  const files = manifest.vectors.map((v) => v.file)
  expect(new Set(files).size).toBe(files.length)
  // Real statements that pass the in-toto schema but lack a gitCommit source dependency.
  const lacking = manifest.vectors.filter(
    (v) =>
      v.statement?.valid &&
      v.rebuildProvenance?.failures?.some(
        ([path, keyword]) => path.endsWith('/resolvedDependencies') && keyword === 'contains',
      ),
  )
  expect(lacking.map((v) => v.file).sort()).toEqual([
    'oss-rebuild-artifact-equivalence-v0.1.json',
    'oss-rebuild-rebuild-v0.1.json',
  ])
})
