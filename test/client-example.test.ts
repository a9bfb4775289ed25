// Issue #12: packages/client's README example, run as its README says, against a real log.
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { statementIndexKeys } from '@ledger/attestation'
import type { RunningLog } from '@ledger/log-server'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { removeDir, startLog, tempDir } from './e2e-support.js'
import { makeSubmissions, newRebuilder, rebuildStatement, submitAll } from './support/load.js'

const EXAMPLE = fileURLToPath(new URL('../packages/client/examples/batch-count.mjs', import.meta.url))

let dir: string
let log: RunningLog

beforeAll(async () => {
  dir = await tempDir()
  log = await startLog(join(dir, 'log-data'))
}, 60_000)

afterAll(async () => {
  await log?.close()
  await removeDir(dir)
})

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [EXAMPLE, ...args], { cwd: dir }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? -1), stdout, stderr })
    })
  })
}

it('batch-count.mjs counts every digest against one checkpoint and exits by the verdicts', async () => {
  const [alice, bob] = [newRebuilder(), newRebuilder('ed25519')]
  for (const [rebuilder, to] of [
    [alice, 3],
    [bob, 2],
  ] as const) {
    const results = await submitAll(log.url, await makeSubmissions(rebuilder, 'example', 0, to), 4)
    expect(results.every((r) => r.status === 201)).toBe(true)
  }
  const policy = join(dir, 'policy.json')
  await writeFile(
    policy,
    JSON.stringify({
      log: { origin: 'e2e.example/log', verifierKey: log.verifierKey },
      parties: [
        { name: 'alice', keys: [alice.keyId] },
        { name: 'bob', keys: [bob.keyId] },
      ],
      threshold: 2,
    }),
  )
  const digest = (n: number) => statementIndexKeys(rebuildStatement('example', n)).digests[0]!
  const both = await run([log.url, policy, join(dir, 'state'), digest(0), digest(1)])
  expect(both.code).toBe(0)
  expect(both.stdout).toContain(`ok\t2/2\t${digest(0)}`)
  expect(both.stdout).toContain(`ok\t2/2\t${digest(1)}`)
  const one = await run([log.url, policy, join(dir, 'state'), digest(0), digest(2)])
  expect(one.code).toBe(1)
  expect(one.stdout).toContain(`too few\t1/2\t${digest(2)}`)
})
