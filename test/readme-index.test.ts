// Runs the README's "Pin the verifiable index" as written (test/support/readme-section.ts): a log with
// --index, two rebuilders, a policy that pins the index key the log announced, and `attest verify`
// answering complete.
import { expect, it } from 'vitest'
import { runReadmeSection } from './support/readme-section.js'

it('the README section "Pin the verifiable index" runs as written', async () => {
  const run = await runReadmeSection('## Pin the verifiable index')
  expect(run.script).toContain('"index": { "verifierKey": "$INDEX_KEY" }')
  if (run.code !== 0)
    throw new Error(`section exited ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`)
  expect(run.stdout).toMatch(/reproduced by 2 of the 2 parties required: OK/)
  expect(run.stdout).toMatch(/complete as of index size \d+ \(log size 2\)/)
}, 150_000)
