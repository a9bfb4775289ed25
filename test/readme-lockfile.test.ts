// Runs the README's "Gate an install on a lockfile": its ```sh blocks, in order, as one bash script, with
// the same changes as the walkthrough test (test/support/readme-section.ts: a free port for 8080, `npm ci`
// dropped: the tree is installed, and `npx attest` runs packages/cli/bin/attest.js when this checkout's
// node_modules/.bin has no link yet).
import { expect, it } from 'vitest'
import { runReadmeSection } from './support/readme-section.js'

it('the README section "Gate an install on a lockfile" runs as written', async () => {
  const run = await runReadmeSection('## Gate an install on a lockfile')
  expect(run.script).toContain('--lockfile package-lock.json')
  if (run.code !== 0)
    throw new Error(`section exited ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`)
  expect(run.stdout).toContain('2 packages: 2 ok, 0 with too few parties, 0 with a conflict: OK')
  expect(run.stdout).toMatch(/TOO FEW\s+is-odd@3\.0\.1/)
  expect(run.stdout).toContain('not every package has two rebuilders: exit 1')
}, 150_000)
