import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { defaultConfig, helpText, OPTIONS, parseConfig } from '../src/config.js'
import { MonitorError } from '../src/errors.js'

function codeOf(fn: () => unknown): string {
  try {
    fn()
    return 'no error'
  } catch (err) {
    return err instanceof MonitorError ? err.code : 'not a MonitorError'
  }
}

const KEY = 'log.example+01234567+AQ=='
const DIGEST = `sha256:${'ab'.repeat(32)}`
const COMMIT = 'cd'.repeat(20)

describe('monitor config', () => {
  it('needs --log and exactly one source of the log key', () => {
    expect(codeOf(() => parseConfig([], {}))).toBe('INVALID_CONFIG')
    expect(codeOf(() => parseConfig(['--log', 'http://l:8080'], {}))).toBe('INVALID_CONFIG')
    expect(codeOf(() => parseConfig(['--log', 'http://l:8080', '--log-key', KEY, '--policy', 'p'], {}))).toBe(
      'INVALID_CONFIG',
    )
    const request = parseConfig(['--log', 'http://l:8080/', '--log-key', KEY], {})
    expect(request).toEqual({
      kind: 'run',
      config: { ...defaultConfig(), logUrl: 'http://l:8080', logKey: KEY },
    })
  })

  it('reads repeatable watch flags, or comma-separated variables, and booleans', () => {
    const request = parseConfig(
      [
        '--log',
        'http://l',
        '--log-key-file',
        'k',
        '--watch-digest',
        DIGEST,
        '--watch-digest',
        DIGEST,
        '--watch-digest',
        `blake2b:${'cd'.repeat(64)}`,
        '--once',
      ],
      {
        MONITOR_WATCH_COMMITS: `${COMMIT}, ${'ef'.repeat(32)}`,
        MONITOR_SAMPLE: '3',
        MONITOR_HEALTH_PORT: '9100',
      },
    )
    expect(request).toMatchObject({
      kind: 'run',
      config: {
        logKeyFile: resolve('k'),
        watchDigests: [DIGEST, `blake2b:${'cd'.repeat(64)}`],
        watchCommits: [COMMIT, 'ef'.repeat(32)],
        once: true,
        sample: 3,
        healthPort: 9100,
      },
    })
    const fromEnv = parseConfig([], {
      MONITOR_LOG_URL: 'https://l',
      MONITOR_POLICY: 'p.policy',
      MONITOR_ONCE: 'true',
    })
    expect(fromEnv).toMatchObject({
      config: { logUrl: 'https://l', policyFile: resolve('p.policy'), once: true },
    })
  })

  it('answers --help with every option and its variable', () => {
    const request = parseConfig(['--help'], {})
    expect(request.kind).toBe('help')
    for (const o of OPTIONS) {
      expect((request as { text: string }).text).toContain(`--${o.flag}`)
      expect(helpText()).toContain(`$${o.env}`)
    }
  })

  const base = ['--log', 'http://l', '--log-key', KEY]
  for (const [name, args, env] of [
    ['a digest without its algorithm', [...base, '--watch-digest', 'ab'.repeat(32)], {}],
    ['a sha1 digest', [...base, '--watch-digest', `sha1:${'ab'.repeat(20)}`], {}],
    ['an uppercase commit', [...base, '--watch-commit', 'CD'.repeat(20)], {}],
    ['a short key id', [...base, '--watch-key', 'ab'], {}],
    ['a non-http log URL', ['--log', 'ftp://l', '--log-key', KEY], {}],
    ['a relative webhook', [...base, '--webhook', '/hook'], {}],
    ['an interval below 100 ms', [...base, '--interval-ms', '5'], {}],
    ['a bad boolean variable', base, { MONITOR_ONCE: 'yes' }],
    ['an unknown flag', [...base, '--follow'], {}],
  ] as [string, string[], Record<string, string>][]) {
    it(`refuses ${name}`, () => {
      expect(codeOf(() => parseConfig(args, env))).toBe('INVALID_CONFIG')
    })
  }
})
