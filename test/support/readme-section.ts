// Runs one section of the README: its ```sh blocks, in order, as one bash script, in a temp folder shaped
// like the repository root. The same changes as the walkthrough test: a free port for 8080, `npm install`
// and `npm ci` lines dropped (the tree is installed and built), and `npx attest` runs
// packages/cli/bin/attest.js when this checkout's node_modules/.bin has no link yet.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { removeDir, tempDir } from '../e2e-support.js'

const repo = fileURLToPath(new URL('../..', import.meta.url))

/** The ```sh blocks between `heading` (a whole line, e.g. `## Walkthrough`) and the next `## ` heading. */
export function sectionBlocks(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n')
  const start = lines.findIndex((line) => line.trim() === heading)
  if (start < 0) return []
  const end = lines.findIndex((line, i) => i > start && line.startsWith('## '))
  const blocks: string[] = []
  let current: string[] | undefined
  for (const line of lines.slice(start + 1, end < 0 ? undefined : end)) {
    if (current === undefined && line.trim() === '```sh') current = []
    else if (current !== undefined && line.trim() === '```') {
      blocks.push(current.join('\n'))
      current = undefined
    } else if (current !== undefined) current.push(line)
  }
  return blocks
}

/** A port free on 127.0.0.1 right now (the README's 8080 becomes one). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export interface SectionRun {
  script: string
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs the section under `heading` of README.md with `set -euo pipefail`; kills it (and what it started)
 * after `killAfterMs`, a guard against a hung script, not a time the test asserts.
 */
export async function runReadmeSection(heading: string, killAfterMs = 120_000): Promise<SectionRun> {
  const blocks = sectionBlocks(await readFile(join(repo, 'README.md'), 'utf8'), heading)
  const dir = await tempDir('attest-readme-section-')
  try {
    for (const name of ['node_modules', 'services', 'packages', 'schemas', 'package.json'])
      await symlink(join(repo, name), join(dir, name))
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
    await mkdir(join(dir, 'home'), { recursive: true })
    await writeFile(join(dir, 'section.sh'), `set -euo pipefail\n${shim}${body}\n`)
    const child = spawn('bash', ['section.sh'], {
      cwd: dir,
      detached: true,
      env: { ...process.env, HOME: join(dir, 'home'), XDG_STATE_HOME: join(dir, 'home', 'state') },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
      child.on('exit', (c) => {
        clearTimeout(timer)
        resolve(c)
      })
    })
    try {
      process.kill(-child.pid!, 'SIGTERM')
    } catch {
      // The group is gone already: the script stopped its log itself.
    }
    return { script: body, code, stdout, stderr }
  } finally {
    await removeDir(dir)
  }
}
