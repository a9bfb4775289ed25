// `attest verify` runs without commander (main.ts, verify-flags.ts): its parser must accept only what
// commander accepts, and read it as commander does; what it refuses goes to commander.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EXIT, main, type Io } from '../src/index.js'
import { buildProgram, runProgram } from '../src/program.js'
import { parseVerifyFlags, VERIFY_FLAGS } from '../src/verify-flags.js'

const quiet = { write: () => true }

/** The program's `verify` command, its action replaced by one that does nothing. */
function commanderVerify() {
  const program = buildProgram({ stdout: quiet, stderr: quiet, env: {}, cwd: '/' }, async () => undefined)
  const verify = program.commands.find((c) => c.name() === 'verify')!
  verify.action(() => undefined)
  return { program, verify }
}

/** What commander makes of `attest verify ...argv`: its opts, or the code of its error. */
async function commanderParse(argv: readonly string[]): Promise<{ opts: unknown } | { error: string }> {
  const { program, verify } = commanderVerify()
  try {
    await program.parseAsync(['verify', ...argv], { from: 'user' })
    return { opts: { ...verify.opts() } }
  } catch (err) {
    return { error: (err as { code?: string }).code ?? String(err) }
  }
}

describe('the parser of attest verify', () => {
  it('knows the options the program declares to commander, each taking a value or not alike', () => {
    const { verify } = commanderVerify()
    const declared = Object.fromEntries(
      verify.options.map((o) => [
        o.long,
        {
          takesValue: o.required || o.optional,
          // The one repeatable option collects with a parser; no other has one.
          ...(o.parseArg !== undefined && { repeatable: true }),
        },
      ]),
    )
    expect(declared).toEqual(VERIFY_FLAGS)
  })

  it('reads what it accepts exactly as commander does (and leaves the rest to commander)', async () => {
    const names = [...Object.keys(VERIFY_FLAGS), '--help', '-h', '--version', '--bogus', '--', '--log-key']
    const value = fc.oneof(
      fc.constantFrom(
        '',
        'x',
        '-',
        '--json',
        '--log',
        '-h',
        '--help',
        '--version',
        'a=b',
        'sha512-YQ==',
        '--digest=x',
      ),
      fc.string({ maxLength: 6 }),
    )
    const name = fc.constantFrom(...names)
    // Mostly well-formed pieces (an option and its value), so that most command lines are ours to parse.
    const piece = fc.oneof(
      { weight: 6, arbitrary: fc.tuple(name, value).map(([n, v]) => [n, v]) },
      { weight: 3, arbitrary: fc.tuple(name, value).map(([n, v]) => [`${n}=${v}`]) },
      { weight: 3, arbitrary: name.map((n) => [n]) },
      { weight: 1, arbitrary: value.map((v) => [v]) },
    )
    let accepted = 0
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 5 }), async (pieces) => {
        const argv = pieces.flat()
        const ours = parseVerifyFlags(['verify', ...argv])
        if (ours === undefined) return
        accepted++
        expect(await commanderParse(argv)).toEqual({ opts: ours })
      }),
      { numRuns: 3000 },
    )
    // The property held for command lines that the parser took, not only for ones it left to commander.
    expect(accepted).toBeGreaterThan(300)
  })

  it('accepts the installer shapes, and leaves help and errors to commander', () => {
    expect(
      parseVerifyFlags(['verify', '--log=http://l', '--policy', 'p.json', '--digest', 'sha256:ab', '--json']),
    ).toEqual({ log: 'http://l', policy: 'p.json', digest: 'sha256:ab', json: true })
    expect(parseVerifyFlags(['verify', '--lockfile', 'a', '--lockfile=b', '--tlog-policy', 't'])).toEqual({
      lockfile: ['a', 'b'],
      tlogPolicy: 't',
    })
    expect(parseVerifyFlags(['verify', '--digest', 'a', '--digest', 'b'])).toEqual({ digest: 'b' })
    for (const argv of [
      ['verify', '--help'],
      ['verify', '-h'],
      ['verify', '--digest'],
      ['verify', '--json=yes'],
      ['verify', 'extra'],
      ['verify', '--', '--json'],
      ['verify', '--log-key', 'k'],
      ['verify', '--log', '--version'],
      ['lookup', '--digest', 'x'],
      ['--json', 'verify'],
    ]) {
      expect(parseVerifyFlags(argv)).toBeUndefined()
    }
  })
})

describe('attest verify without commander', () => {
  async function run(argv: string[], through: typeof main) {
    let stdout = ''
    let stderr = ''
    const io: Io = {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      env: { HOME: '/nonexistent' },
      cwd: '/nonexistent',
      fetch: () => Promise.reject(new TypeError('no network in unit tests')),
    }
    const code = await through(argv, io)
    return { code, stdout, stderr }
  }

  it('reports usage errors exactly as through commander', async () => {
    for (const argv of [
      ['verify'],
      ['verify', '--digest', 'sha256:' + 'ab'.repeat(32)],
      ['verify', '--log', 'http://127.0.0.1:9', '--digest', 'sha256:' + 'ab'.repeat(32)],
      ['verify', '--log', 'http://127.0.0.1:9', '--policy', 'p.json', '--digest', 'nothex', '--json'],
      ['verify', '--log', 'http://127.0.0.1:9', '--policy', 'p.json', '--digest', 'x', '--artifact', 'y'],
      ['verify', '--log', 'http://127.0.0.1:9', '--policy', 'missing.json', '--lockfile', 'l', '--chain'],
      ['verify', '--log', 'http://127.0.0.1:9', '--policy', 'missing.json', '--digest', 'ab'.repeat(32)],
      ['verify', '--log', 'h', '--policy', 'missing.json', '--digest', 'ab'.repeat(32), '--json'],
    ]) {
      const fast = await run(argv, main)
      expect(fast.code).toBe(EXIT.USAGE)
      expect(fast).toEqual(await run(argv, runProgram))
    }
  })
})
