// Runs the README's "Trust roots and chains" as written: rebuilders name their compiler with --input, a
// policy names the upstream compiler as a root, `attest verify --chain` passes, and fails without the root,
// naming the bootstrap compiler as the weakest link.
import { expect, it } from 'vitest'
import { runReadmeSection } from './support/readme-section.js'

it('the README section "Trust roots and chains" runs as written', async () => {
  const run = await runReadmeSection('## Trust roots and chains')
  expect(run.script).toContain('--chain')
  expect(run.script).toContain('--input')
  if (run.code !== 0)
    throw new Error(`section exited ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`)
  expect(run.stdout).toMatch(/^ok app-1\.0\.tar\.gz {2}sha256:[0-9a-f]{64} {2}reproduced by 2 of 2 parties/m)
  expect(run.stdout).toMatch(
    /^ {4}ok rustc 1\.54\.0 {2}sha256:[0-9a-f]{64} {2}root of trust: rustc 1\.54\.0 upstream$/m,
  )
  expect(run.stdout).toContain('chain ok: every path ends in a root of trust or a reproduced artifact')
  expect(run.stdout).toMatch(
    /^chain NOT ok: weakest link rustc 1\.54\.0 \(sha256:[0-9a-f]{64}\): too few: 0 of 2/m,
  )
  expect(run.stdout).toContain('the chain ends in no root of trust: exit 1')
}, 150_000)
