import { resolve } from 'node:path'
import { describe, expect, test } from 'vitest'
import { DEFAULT_ORIGIN, defaultConfig, helpText, parseConfig } from '../src/config.js'

function run(args: string[], env: Record<string, string> = {}) {
  const request = parseConfig(args, env)
  if (request.kind !== 'run') throw new Error('expected a configuration')
  return request.config
}

describe('parseConfig', () => {
  test('defaults: 127.0.0.1:8080, ./data, open admission, origin from the key', () => {
    const config = run([])
    expect(config).toEqual(defaultConfig())
    expect(config.host).toBe('127.0.0.1')
    expect(config.port).toBe(8080)
    expect(config.dataDir).toBe(resolve('data'))
    expect(config.origin).toBeUndefined()
    expect(config.allowlistFile).toBeUndefined()
    expect(config.verifyWorkers).toBeGreaterThanOrEqual(1)
    expect(DEFAULT_ORIGIN).toBe('localhost/ledger')
  })

  test('`--data DIR --port N --origin NAME` as npm start passes them', () => {
    const config = run(['--data', 'some/dir', '--port', '0', '--origin', 'ledger.example.org/2026'])
    expect(config.dataDir).toBe(resolve('some/dir'))
    expect(config.port).toBe(0)
    expect(config.origin).toBe('ledger.example.org/2026')
  })

  test('environment variables apply, flags win over them', () => {
    const env = {
      LEDGER_PORT: '9000',
      LEDGER_BATCH_SIZE: '10',
      LEDGER_CACHE_MB: '2',
      LEDGER_ALLOWLIST: 'keys.txt',
    }
    const config = run(['--batch-size=20'], env)
    expect(config.port).toBe(9000)
    expect(config.batchSize).toBe(20)
    expect(config.cacheBytes).toBe(2 * 1024 * 1024)
    expect(config.allowlistFile).toBe(resolve('keys.txt'))
    expect(run(['--verify-workers', '0', '--batch-wait-ms', '0']).verifyWorkers).toBe(0)
  })

  test('bad values and unknown flags are refused with INVALID_CONFIG', () => {
    for (const args of [
      ['--port', '65536'],
      ['--port', '-1'],
      ['--port', '08'],
      ['--port', 'x'],
      ['--batch-size', '0'],
      ['--body-limit', '10'],
      ['--nope'],
      ['positional'],
      ['--origin', ''],
    ]) {
      expect(() => parseConfig(args, {}), args.join(' ')).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG' }),
      )
    }
    expect(() => parseConfig([], { LEDGER_QUEUE_LIMIT: 'many' })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    )
  })

  test('--help lists every flag with its environment variable', () => {
    const request = parseConfig(['--help'], {})
    expect(request.kind).toBe('help')
    const text = helpText()
    for (const flag of [
      'data',
      'host',
      'port',
      'origin',
      'batch-size',
      'batch-wait-ms',
      'body-limit',
      'queue-limit',
      'verify-workers',
      'allowlist',
      'cache-mb',
    ]) {
      expect(text).toContain(`--${flag} `)
    }
    expect(text).toContain('$LEDGER_DATA')
  })
})
