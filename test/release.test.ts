// Our own release, rebuilt (issue 15): `npm run release` from two fresh clones of this commit, in folders at
// different depths, with different umask, time zone and source file times, run at different moments, must
// give byte-identical tarballs and SHA256SUMS. Then the tarballs, unpacked as npm installs them outside the
// repository, give a working `attest`. Third-party dependencies come from npm's cache (npm ci --offline) and
// from this repository's node_modules: tests download nothing. Slow (two npm ci and two builds).
import { execFile } from 'node:child_process'
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const exec = promisify(execFile)
const repo = new URL('..', import.meta.url).pathname

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ledger-release-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Sets every file's times under `folder` (but node_modules and .git) to `when`. */
async function touchAll(folder: string, when: Date): Promise<void> {
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === '.git') continue
    const path = join(folder, entry.name)
    if (entry.isDirectory()) await touchAll(path, when)
    await utimes(path, when, when)
  }
}

/** A fresh clone of this commit at `path`, released under `umask` and `tz`; returns its release folder. */
async function releaseFrom(path: string, umask: string, tz: string, when: Date): Promise<string> {
  await exec('git', ['clone', '--quiet', '--no-hardlinks', repo, path])
  await touchAll(path, when)
  const env = { ...process.env, TZ: tz, CI: 'true' }
  const script = `umask ${umask} && npm ci --offline --no-audit --no-fund --loglevel=error && npm run release --silent`
  await exec('sh', ['-c', script], { cwd: path, env, maxBuffer: 16 << 20 })
  return join(path, 'release')
}

// Two npm ci and two builds: a generous bound, so that only a hang fails it, not a slow machine.
describe('npm run release', { timeout: 15 * 60_000 }, () => {
  let first: string
  test('two fresh clones, other folders, umask, time zone and file times: the same bytes', async () => {
    const [a, b] = await Promise.all([
      releaseFrom(join(dir, 'a'), '022', 'UTC', new Date('2001-02-03T04:05:06Z')),
      releaseFrom(
        join(dir, 'deeper', 'path', 'b'),
        '077',
        'Pacific/Chatham',
        new Date('2033-09-10T11:12:13Z'),
      ),
    ])
    first = a
    const sums = await readFile(join(a, 'SHA256SUMS'), 'utf8')
    expect(await readFile(join(b, 'SHA256SUMS'), 'utf8')).toBe(sums)
    const names = sums
      .trim()
      .split('\n')
      .map((line) => line.split('  ')[1]!)
    expect(names).toContain('ledger-cli-0.1.0.tgz')
    expect(names).toContain('ledger-client-0.1.0.tgz')
    for (const name of names) {
      expect(await readFile(join(b, name)), name).toEqual(await readFile(join(a, name)))
    }
    // The sums are coreutils' format: sha256sum -c agrees.
    await exec('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: b })
  })

  test('the tarballs, unpacked as npm installs them outside the repository, give a working attest', async () => {
    expect(first).toBeDefined()
    const project = join(dir, 'installed')
    const modules = join(project, 'node_modules')
    await mkdir(join(modules, '@ledger'), { recursive: true })
    for (const file of await readdir(first)) {
      if (!file.endsWith('.tgz')) continue
      const name = file.replace(/^ledger-/, '').replace(/-\d+\.\d+\.\d+\.tgz$/, '')
      const target = join(modules, '@ledger', name)
      await mkdir(target)
      await exec('tar', ['xzf', join(first, file), '--strip-components=1', '-C', target])
    }
    // Third-party packages, where the lock file puts them: hoisted, or under the package that needs
    // another version than the hoisted one.
    for (const entry of await readdir(join(repo, 'node_modules'))) {
      if (entry === '@ledger' || entry.startsWith('.')) continue
      await symlink(join(repo, 'node_modules', entry), join(modules, entry))
    }
    const lock = JSON.parse(await readFile(join(repo, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, unknown>
    }
    for (const path of Object.keys(lock.packages)) {
      const nested = /^(packages\/[a-z-]+)\/node_modules\/([^/]+)$/.exec(path)
      if (nested === null) continue
      const owner = join(modules, '@ledger', nested[1]!.slice('packages/'.length))
      await mkdir(join(owner, 'node_modules'), { recursive: true })
      await symlink(join(repo, path), join(owner, 'node_modules', nested[2]!))
    }
    const attest = join(modules, '@ledger', 'cli', 'bin', 'attest.js')
    const help = await exec('node', [attest, '--help'], { cwd: project })
    expect(help.stdout).toMatch(/verify/)
    // It really runs from the unpacked tarballs, not from the repository's workspaces.
    const resolved = await exec(
      'node',
      ['--input-type=module', '-e', "console.log(import.meta.resolve('@ledger/client'))"],
      { cwd: project },
    )
    expect(resolved.stdout.trim()).toBe(`file://${join(modules, '@ledger', 'client', 'dist', 'index.js')}`)
  })
})
