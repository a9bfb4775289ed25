// Runs the README's walkthrough: the ```sh blocks under "## Walkthrough", in order, as one bash script.
// Needs the built tree (dist/), as `npm test` provides.
//
// What the test changes, and why: the log's port 8080 becomes a free port (tests listen on any free port);
// `npm install` lines are dropped (the tree is installed and built already); and when this checkout's
// node_modules/.bin has no `attest` yet (npm links a workspace bin only if it existed at install time),
// `npx attest` runs packages/cli/bin/attest.js, the very file npm links.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeDir, tempDir } from './e2e-support.js'
import { freePort, sectionBlocks } from './support/readme-section.js'

const repo = fileURLToPath(new URL('..', import.meta.url))

let dir: string
let source: string
let blocks: string[]

beforeAll(async () => {
  dir = await tempDir('attest-walkthrough-')
  const readme = await readFile(join(repo, 'README.md'), 'utf8').catch(() => '')
  if (readme.split('\n').some((line) => line.trim() === '## Walkthrough')) {
    source = 'README.md'
    blocks = sectionBlocks(readme, '## Walkthrough')
  }
  // A directory shaped like the repository root, so the walkthrough's relative paths work and its files
  // (demo/) land here, not in the checkout.
  for (const name of ['node_modules', 'services', 'packages', 'schemas', 'package.json']) {
    await symlink(join(repo, name), join(dir, name))
  }
})

afterAll(async () => {
  await removeDir(dir)
})

describe('the README walkthrough', () => {
  it('is there', () => {
    expect(source).toBeDefined()
    expect(blocks.length).toBeGreaterThan(3)
    expect(blocks.join('\n')).toContain('npx attest verify')
  })

  it('runs as written', async () => {
    const port = await freePort()
    const body = blocks
      .join('\n')
      .split('\n')
      .filter((line) => !/^\s*npm (install|ci)\b/.test(line))
      .join('\n')
      .replaceAll('8080', String(port))
    const shim = existsSync(join(repo, 'node_modules', '.bin', 'attest'))
      ? ''
      : `npx() { if [ "$1" = attest ]; then shift; node ${JSON.stringify(join(repo, 'packages/cli/bin/attest.js'))} "$@"; else command npx "$@"; fi; }\n`
    const script = `set -euo pipefail\n${shim}${body}\n`
    await mkdir(join(dir, 'home'), { recursive: true })
    await writeFile(join(dir, 'walkthrough.sh'), script)
    const child = spawn('bash', ['walkthrough.sh'], {
      cwd: dir,
      // Its own process group: whatever the script leaves running is ended with it, by that group's id.
      detached: true,
      env: { ...process.env, HOME: join(dir, 'home'), XDG_STATE_HOME: join(dir, 'home', 'state') },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
      child.on('exit', (c) => {
        clearTimeout(timer)
        resolve(c)
      })
    })
    try {
      process.kill(-child.pid!, 'SIGTERM')
    } catch {
      // The group is gone already: the walkthrough stopped its log itself.
    }
    if (code !== 0)
      throw new Error(`walkthrough exited ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`)
    // What the walkthrough shows a newcomer actually happened.
    expect(stdout).toMatch(/logged: entry 0 of demo\.example\/log/)
    expect(stdout).toMatch(/logged: entry 1 of demo\.example\/log/)
    expect(stdout).toContain('reproduced by 2 of the 2 parties required: OK')
    expect(stdout).toContain('not enough rebuilders: exit 1')
    expect(stdout).toMatch(/valid sigstore-bundle receipt: entry 0/)
    expect(stdout).toMatch(/valid tlog-proof receipt: entry 0/)
  }, 150_000)
})
