// The validators compiled at build time must be what the schemas compile to today.
import { readFileSync } from 'node:fs'
import { expect, it } from 'vitest'
// @ts-expect-error: a plain .mjs script without types
import { TARGET, validatorSource } from '../scripts/generate-validators.mjs'

it('src/schema-validators.generated.ts is current (else: node packages/attestation/scripts/generate-validators.mjs)', () => {
  expect(readFileSync(TARGET as string, 'utf8')).toBe((validatorSource as () => string)())
})
