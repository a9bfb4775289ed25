import { resolve } from 'node:path'
import { describe, expect, test } from 'vitest'
import { OptionError, optionsHelp, parseOptions, type OptionSpec } from '../src/index.js'

const SPECS: readonly OptionSpec[] = [
  { flag: 'port', env: 'T_PORT', key: 'port', kind: 'int', min: 0, max: 65535, help: 'listen port' },
  { flag: 'data', env: 'T_DATA', key: 'dataDir', kind: 'path', help: 'data directory' },
  { flag: 'name', env: 'T_NAME', key: 'name', kind: 'string', help: 'a name' },
  { flag: 'log', env: 'T_LOG', key: 'logUrl', kind: 'url', help: 'log URL' },
  { flag: 'once', env: 'T_ONCE', key: 'once', kind: 'bool', help: 'one pass' },
  { flag: 'digest', env: 'T_DIGESTS', key: 'digests', kind: 'list', item: /^[0-9a-f]{4}$/, help: 'digests' },
  {
    flag: 'peer',
    env: 'T_PEERS',
    key: 'peers',
    kind: 'list',
    separator: 'whitespace',
    arg: ' URL=KEY',
    help: 'peers',
  },
]

function given(args: string[], env: Record<string, string> = {}) {
  const parsed = parseOptions(SPECS, args, env)
  if (parsed.help) throw new Error('help')
  return Object.fromEntries([...parsed.given].map(([key, { value, source }]) => [key, [value, source]]))
}

function refusal(args: string[], env: Record<string, string> = {}): string {
  try {
    parseOptions(SPECS, args, env)
  } catch (err) {
    expect(err).toBeInstanceOf(OptionError)
    return (err as Error).message
  }
  throw new Error('accepted')
}

describe('parseOptions', () => {
  test('a flag wins over its variable; an empty variable is absent; lists are always given', () => {
    expect(given(['--port', '8080'], { T_PORT: '9', T_NAME: '' })).toEqual({
      port: [8080, '--port'],
      digests: [[], '$T_DIGESTS'],
      peers: [[], '$T_PEERS'],
    })
    expect(given([], { T_PORT: '9', T_DATA: 'd', T_NAME: 'n', T_LOG: 'https://l.example//' })).toMatchObject({
      port: [9, '$T_PORT'],
      dataDir: [resolve('d'), '$T_DATA'],
      name: ['n', '$T_NAME'],
      logUrl: ['https://l.example', '$T_LOG'],
    })
  })

  test('--help and -h ask for the help text', () => {
    expect(parseOptions(SPECS, ['--help'], {})).toEqual({ help: true })
    expect(parseOptions(SPECS, ['-h', '--port', 'x'], {})).toEqual({ help: true })
  })

  test('bad values are refused with where they came from', () => {
    expect(refusal(['--port', '08'])).toBe('--port: not a whole number: 08')
    expect(refusal([], { T_PORT: '-1' })).toBe('$T_PORT: not a whole number: -1')
    expect(refusal(['--port', '65536'])).toBe('--port: 65536 is outside 0..65535')
    expect(refusal(['--name', ''])).toBe('--name: empty value')
    expect(refusal(['--log', 'ftp://x'])).toBe('--log: not an http(s) URL')
    expect(refusal(['--log', 'not a url'])).toBe('--log: not a URL: not a url')
    expect(refusal([], { T_ONCE: 'yes' })).toBe('$T_ONCE: expected 1, true, 0 or false')
    expect(refusal(['--digest', 'abcd', '--digest', 'xyz'])).toBe('--digest: "xyz" is not ^[0-9a-f]{4}$')
    expect(refusal(['--bogus'])).toMatch(/bogus/)
    expect(refusal(['positional'])).toMatch(/positional/)
  })

  test("a service's own error, when it gives one", () => {
    class ConfigError extends Error {}
    const invalid = (message: string) => new ConfigError(`bad config: ${message}`)
    expect(() => parseOptions(SPECS, ['--port', 'x'], {}, invalid)).toThrow(ConfigError)
    expect(() => parseOptions(SPECS, ['--nope'], {}, invalid)).toThrow(/^bad config: .*nope/)
  })

  test('bools from a flag or a variable; lists split by comma (trimmed) or whitespace', () => {
    expect(given(['--once']).once).toEqual([true, '--once'])
    expect(given([], { T_ONCE: '0' }).once).toEqual([false, '$T_ONCE'])
    expect(given([], { T_ONCE: 'true' }).once).toEqual([true, '$T_ONCE'])
    expect(given([], { T_DIGESTS: ' abcd , 0123' }).digests).toEqual([['abcd', '0123'], '$T_DIGESTS'])
    expect(refusal([], { T_DIGESTS: 'abcd,,0123' })).toBe('--digest: "" is not ^[0-9a-f]{4}$')
    expect(given([], { T_PEERS: '  a=1 \n b=2 ' }).peers).toEqual([['a=1', 'b=2'], '$T_PEERS'])
    expect(given(['--peer', 'c=3', '--peer', 'd=4'], { T_PEERS: 'a=1' }).peers).toEqual([
      ['c=3', 'd=4'],
      '--peer',
    ])
  })
})

describe('optionsHelp', () => {
  test('a header, then one padded line per option with its placeholder and variable, then --help', () => {
    const text = optionsHelp(
      ['Usage: x [options]', '', 'Does x.'],
      SPECS.slice(0, 2).concat(SPECS.slice(4)),
      14,
    )
    expect(text).toBe(
      [
        'Usage: x [options]',
        '',
        'Does x.',
        '',
        'Options:',
        '  --port N         listen port  [$T_PORT]',
        '  --data PATH      data directory  [$T_DATA]',
        '  --once           one pass  [$T_ONCE]',
        '  --digest VALUE   digests  [$T_DIGESTS]',
        '  --peer URL=KEY   peers  [$T_PEERS]',
        '  --help           print this text',
        '',
      ].join('\n'),
    )
  })
})
