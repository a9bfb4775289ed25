// `attest verify --digest` loads only what it needs (issue #12): run in a fresh process, it must not load
// the signer, the Sigstore verifier, the monitor, ajv's schema compiler, commander or Node's fetch (undici).
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateNoteKey } from '@ledger/tlog'
import { afterAll, beforeAll, expect, it } from 'vitest'

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url))
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'attest-lazy-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

it('attest verify --digest loads neither @sigstore/sign, @sigstore/verify, the monitor, the ajv compiler, commander nor undici', async () => {
  const policy = join(dir, 'policy.json')
  await writeFile(
    policy,
    JSON.stringify({
      log: {
        origin: 'lazy.example/log',
        verifierKey: generateNoteKey('lazy.example/log').verifierKey,
      },
      parties: [{ name: 'a', keys: ['ab'.repeat(32)] }],
      threshold: 1,
    }),
  )
  // The whole command runs (policy read and checked, the lookup tried against a closed port: exit 4),
  // then the process lists every CommonJS module it loaded and every ES module it resolved.
  const script = `
    import { createRequire } from 'node:module'
    const { main } = await import(${JSON.stringify(MAIN)})
    const quiet = { write: () => true }
    const code = await main(['verify', '--log', 'http://127.0.0.1:9', '--policy', ${JSON.stringify(policy)},
      '--digest', 'sha256:${'ab'.repeat(32)}', '--timeout', '1', '--state', ${JSON.stringify(join(dir, 'state'))}],
      { stdout: quiet, stderr: quiet, env: {}, cwd: ${JSON.stringify(dir)} })
    const cjs = Object.keys(createRequire(import.meta.url).cache)
    const builtins = process.moduleLoadList
    console.log(JSON.stringify({ code, cjs, builtins }))
  `
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: dir }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  )
  const { code, cjs, builtins } = JSON.parse(out) as { code: number; cjs: string[]; builtins: string[] }
  expect(code).toBe(4)
  // It did load what a verify needs (the generated validators' runtime is CommonJS) ...
  expect(cjs.some((path) => path.includes('/ajv/dist/runtime/'))).toBe(true)
  // ... and none of what only other commands need.
  for (const unwanted of [
    '/@sigstore/sign/',
    '/@sigstore/verify/',
    '/@sigstore/protobuf-specs/',
    '/ajv/dist/compile/',
    '/level/',
    '/classic-level/',
    // Only the packages' barrels load canonicalize: the verify path imports the modules it uses.
    '/canonicalize/',
    // main.ts parses a verify's command line itself: commander is for help, errors and other commands.
    '/commander/',
  ]) {
    expect(cjs.filter((path) => path.includes(unwanted))).toEqual([])
  }
  // The client talks node:http: Node's fetch (undici, and its WebAssembly parser) is never loaded.
  expect(builtins.some((name) => name.includes('http'))).toBe(true)
  expect(builtins.filter((name) => name.includes('undici'))).toEqual([])
})
