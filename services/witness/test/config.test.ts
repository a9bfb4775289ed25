import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { defaultConfig, helpText, OPTIONS, parseConfig } from '../src/config.js'
import { WitnessError } from '../src/errors.js'

function codeOf(fn: () => unknown): string {
  try {
    fn()
    return 'no error'
  } catch (err) {
    return err instanceof WitnessError ? err.code : 'not a WitnessError'
  }
}

describe('witness config', () => {
  it('defaults without flags or environment', () => {
    expect(parseConfig([], {})).toEqual({ kind: 'run', config: defaultConfig() })
    expect(defaultConfig()).toMatchObject({
      host: '127.0.0.1',
      port: 8081,
      bodyLimit: 65536,
      logsFile: undefined,
    })
  })

  it('reads flags over environment variables, and resolves paths', () => {
    const request = parseConfig(['--port', '9000', '--logs', 'x/logs.policy', '--name', 'w.example/1'], {
      WITNESS_PORT: '7000',
      WITNESS_HOST: '0.0.0.0',
      WITNESS_DATA: '/var/lib/witness',
      WITNESS_VERIFIER_KEY_FILE: 'out/w.vkey',
    })
    expect(request).toEqual({
      kind: 'run',
      config: {
        ...defaultConfig(),
        port: 9000,
        host: '0.0.0.0',
        dataDir: '/var/lib/witness',
        logsFile: resolve('x/logs.policy'),
        name: 'w.example/1',
        verifierKeyFile: resolve('out/w.vkey'),
      },
    })
  })

  it('answers --help with every option and its variable', () => {
    const request = parseConfig(['--help'], {})
    expect(request.kind).toBe('help')
    const text = (request as { text: string }).text
    for (const o of OPTIONS) {
      expect(text).toContain(`--${o.flag}`)
      expect(text).toContain(`$${o.env}`)
    }
    expect(text).toBe(helpText())
  })

  for (const [name, args, env] of [
    ['an unknown flag', ['--bogus', '1'], {}],
    ['a positional argument', ['serve'], {}],
    ['a port out of range', ['--port', '70000'], {}],
    ['a port with a sign', ['--port', '+1'], {}],
    ['a body limit too small', [], { WITNESS_BODY_LIMIT: '10' }],
    ['an empty flag value', ['--name', ''], {}],
  ] as [string, string[], Record<string, string>][]) {
    it(`refuses ${name}`, () => {
      expect(codeOf(() => parseConfig(args, env))).toBe('INVALID_CONFIG')
    })
  }
})
