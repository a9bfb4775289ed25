import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AttestationError } from '@ledger/attestation'
import { ClientError } from '@ledger/client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EXIT, exitCodeFor, hashFile, main, type Io } from '../src/index.js'
import { PROGRESS_THRESHOLD } from '../src/hash-file.js'
import { clean, table } from '../src/table.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'attest-cli-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function run(...argv: string[]) {
  let stdout = ''
  let stderr = ''
  const io: Io = {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: { HOME: dir, XDG_STATE_HOME: join(dir, 'state') },
    cwd: dir,
    fetch: () => Promise.reject(new TypeError('no network in unit tests')),
  }
  const code = await main(argv, io)
  return { code, stdout, stderr }
}

describe('attest --version', () => {
  it("prints the package's version and exits 0", async () => {
    const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string
    }
    const { code, stdout } = await run('--version')
    expect(code).toBe(0)
    expect(stdout).toBe(`${version}\n`)
  })
})

describe('attest --help', () => {
  it('documents the exit codes and exits 0', async () => {
    const { code, stdout } = await run('--help')
    expect(code).toBe(0)
    for (const line of [
      '0  ok',
      '1  negative verdict',
      '2  usage or input error',
      '3  the log misbehaved',
      '4  network',
    ]) {
      expect(stdout).toContain(line)
    }
  })

  const commands = [['keygen'], ['submit'], ['verify'], ['lookup'], ['receipt', 'verify'], ['log', 'info']]
  for (const command of commands) {
    it(`has help for ${command.join(' ')}`, async () => {
      const { code, stdout } = await run(...command, '--help')
      expect(code).toBe(0)
      expect(stdout).toContain(`Usage: attest ${command.join(' ')}`)
    })
  }

  it('exits 2 for no command, an unknown command, an unknown or missing option', async () => {
    expect((await run()).code).toBe(2)
    expect((await run('nope')).code).toBe(2)
    expect((await run('keygen', '--out', 'k', '--bogus')).code).toBe(2)
    expect((await run('keygen')).code).toBe(2)
    expect((await run('keygen', '--out', 'k', '--type', 'rsa')).code).toBe(2)
    expect((await run('receipt')).code).toBe(2)
  })
})

describe('attest keygen', () => {
  it('writes the two PEM files, the private one mode 0600, and refuses to overwrite either', async () => {
    const { code, stdout } = await run('keygen', '--out', 'k', '--json')
    expect(code).toBe(0)
    const { keyId } = JSON.parse(stdout) as { keyId: string }
    const pub = await readFile(join(dir, 'k.pub'), 'utf8')
    expect(pub).toMatch(/^-----BEGIN PUBLIC KEY-----\n/)
    expect(await readFile(join(dir, 'k.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    expect((await stat(join(dir, 'k.key'))).mode & 0o777).toBe(0o600)
    // The printed key id is the SHA-256 of the SPKI DER in k.pub.
    const der = Buffer.from(pub.replace(/-----[A-Z ]+-----|\n/g, ''), 'base64')
    expect(keyId).toBe(createHash('sha256').update(der).digest('hex'))

    expect((await run('keygen', '--out', 'k')).code).toBe(2)
    await rm(join(dir, 'k.key'))
    const again = await run('keygen', '--out', 'k')
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('k.pub exists')
    await expect(stat(join(dir, 'k.key'))).rejects.toThrow()
  })

  it('makes Ed25519 keys when asked', async () => {
    expect((await run('keygen', '--out', 'e', '--type', 'ed25519')).code).toBe(0)
    const pub = await readFile(join(dir, 'e.pub'), 'utf8')
    // SPKI DER of an Ed25519 key is 44 bytes: 12 of header and the 32-byte key.
    expect(Buffer.from(pub.replace(/-----[A-Z ]+-----|\n/g, ''), 'base64')).toHaveLength(44)
  })
})

describe('input errors exit 2 before any network', () => {
  it('submit without artifacts, with a bad commit, or an unreadable key', async () => {
    await run('keygen', '--out', 'k')
    const base = [
      'submit',
      '--log',
      'http://127.0.0.1:9',
      '--key',
      'k.key',
      '--repo',
      'git+https://x.example/r',
    ]
    expect((await run(...base, '--commit', 'a'.repeat(40))).code).toBe(2)
    expect((await run(...base, '--commit', 'nothex', '--subject', `a=sha256:${'1'.repeat(64)}`)).code).toBe(2)
    expect((await run(...base, '--commit', 'a'.repeat(40), '--subject', 'a=sha256:12')).code).toBe(2)
    expect((await run(...base, '--commit', 'a'.repeat(40), '--artifact', 'missing')).code).toBe(2)
    const noKey = [
      'submit',
      '--log',
      'http://127.0.0.1:9',
      '--key',
      'missing.key',
      '--repo',
      'git+https://x.example/r',
    ]
    expect(
      (await run(...noKey, '--commit', 'a'.repeat(40), '--subject', `a=sha256:${'1'.repeat(64)}`)).code,
    ).toBe(2)
  })

  it('verify with both or neither of --artifact and --digest', async () => {
    const base = ['verify', '--log', 'http://127.0.0.1:9', '--policy', 'p.json']
    expect((await run(...base)).code).toBe(2)
    expect((await run(...base, '--digest', `sha256:${'1'.repeat(64)}`, '--artifact', 'x')).code).toBe(2)
    expect((await run(...base, '--digest', `sha256:${'1'.repeat(64)}`, '--threshold', '0')).code).toBe(2)
  })

  it('a network failure is exit 4, reported as JSON with --json', async () => {
    const { code, stdout } = await run('log', 'info', '--log', 'http://127.0.0.1:9', '--json')
    expect(code).toBe(4)
    expect(JSON.parse(stdout)).toMatchObject({ error: { code: 'NETWORK' }, exitCode: 4 })
  })
})

describe('exitCodeFor', () => {
  it('maps every client error code to the documented exit code', () => {
    const cases: [ConstructorParameters<typeof ClientError>[0], number][] = [
      ['LOG_MISBEHAVING', EXIT.LOG_MISBEHAVED],
      ['NETWORK', EXIT.UNAVAILABLE],
      ['NOT_FOUND', EXIT.USAGE],
      ['RECEIPT_INVALID', EXIT.NEGATIVE],
      ['REJECTED', EXIT.USAGE],
      ['POLICY_INVALID', EXIT.USAGE],
      ['STATE_IO', EXIT.USAGE],
      ['INVALID_ARGUMENT', EXIT.USAGE],
    ]
    for (const [code, exit] of cases) expect(exitCodeFor(new ClientError(code, 'x'))).toBe(exit)
    expect(exitCodeFor(new AttestationError('KEY_MALFORMED', 'x'))).toBe(EXIT.USAGE)
    expect([EXIT.OK, EXIT.NEGATIVE, EXIT.USAGE, EXIT.LOG_MISBEHAVED, EXIT.UNAVAILABLE]).toEqual([
      0, 1, 2, 3, 4,
    ])
  })
})

describe('hashFile', () => {
  it('streams the SHA-256 of a file', async () => {
    await writeFile(join(dir, 'f'), 'abc')
    expect(await hashFile(join(dir, 'f'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    )
  })

  it('shows progress on large files only', async () => {
    const lines: string[] = []
    const sink = { write: (t: string) => lines.push(t) }
    await writeFile(join(dir, 'small'), 'x')
    await hashFile(join(dir, 'small'), sink)
    expect(lines).toEqual([])
    const big = Buffer.alloc(PROGRESS_THRESHOLD, 7)
    await writeFile(join(dir, 'big'), big)
    const digest = await hashFile(join(dir, 'big'), sink, 'big')
    expect(digest).toBe(createHash('sha256').update(big).digest('hex'))
    expect(lines[lines.length - 1]).toBe('hashing big: 100%\n')
    expect(lines.length).toBeGreaterThan(2)
  })
})

describe('table', () => {
  it('aligns columns and neutralizes control characters in untrusted cells', () => {
    expect(table(['A', 'BB'], [['xyz', 'w\u001b[31m\nz']])).toBe('A    BB\nxyz  w [31m z')
    expect(clean('a\u009bb')).toBe('a b')
  })
})
