import { resolve } from 'node:path'
import { describe, expect, test } from 'vitest'
import { generateCosignerKey } from '@ledger/tlog'
import { commitsInFlightFor, DEFAULT_ORIGIN, defaultConfig, helpText, parseConfig } from '../src/config.js'

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
    expect(config.batchWaitMs).toBe(1)
    expect(config.commitsInFlight).toBeUndefined()
    // By store unless configured: PostgreSQL overlaps two commits, LevelDB writes one at a time.
    expect(commitsInFlightFor(config)).toBe(1)
    expect(commitsInFlightFor({ ...config, store: 'postgres://db/ledger' })).toBe(2)
    expect(commitsInFlightFor({ store: 'postgres://db/ledger', commitsInFlight: 1 })).toBe(1)
    expect(commitsInFlightFor({ store: 'leveldb', commitsInFlight: 3 })).toBe(3)
    expect(config.witnesses).toEqual([])
    expect(config.witnessQuorum).toBeUndefined()
    expect(config.witnessTimeoutMs).toBe(2000)
    expect(config.receiptWitnessWaitMs).toBe(0)
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
    expect(run(['--commits-in-flight', '2']).commitsInFlight).toBe(2)
    expect(run([], { LEDGER_COMMITS_IN_FLIGHT: '1' }).commitsInFlight).toBe(1)
  })

  test('bad values and unknown flags are refused with INVALID_CONFIG', () => {
    for (const args of [
      ['--port', '65536'],
      ['--port', '-1'],
      ['--port', '08'],
      ['--port', 'x'],
      ['--batch-size', '0'],
      ['--commits-in-flight', '0'],
      ['--commits-in-flight', '5'],
      ['--body-limit', '10'],
      ['--nope'],
      ['positional'],
      ['--origin', ''],
      // The verifiable index runs on LevelDB only (deviations.md).
      ['--index', '--store', 'postgres://u@127.0.0.1:5432/ledger'],
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
      'commits-in-flight',
      'body-limit',
      'queue-limit',
      'verify-workers',
      'allowlist',
      'cache-mb',
      'witness',
      'witness-url',
      'witness-key-file',
      'witness-quorum',
      'witness-timeout-ms',
      'receipt-witness-wait-ms',
    ]) {
      expect(text).toContain(`--${flag} `)
    }
    expect(text).toContain('$LEDGER_DATA')
    expect(text).toContain('$LEDGER_WITNESSES')
  })

  test('--witness URL=VERIFIERKEY, repeatable; $LEDGER_WITNESSES space-separated; quorum and timeouts', () => {
    const w1 = generateCosignerKey('w1.example/w').verifierKey
    const w2 = generateCosignerKey('w2.example/w').verifierKey
    const config = run(
      [
        '--witness',
        `https://w1.example/prefix=${w1}`,
        '--witness',
        `http://127.0.0.1:9000=${w2}`,
        '--witness-quorum',
        '1',
        '--witness-timeout-ms',
        '500',
        '--receipt-witness-wait-ms',
        '250',
      ],
      { LEDGER_WITNESSES: `https://ignored.example=${w1}` },
    )
    expect(config.witnesses).toEqual([
      { url: 'https://w1.example/prefix', verifierKey: w1 },
      { url: 'http://127.0.0.1:9000', verifierKey: w2 },
    ])
    expect(config.witnessQuorum).toBe(1)
    expect(config.witnessTimeoutMs).toBe(500)
    expect(config.receiptWitnessWaitMs).toBe(250)
    const fromEnv = run([], {
      LEDGER_WITNESSES: ` https://a.example=${w1}  https://b.example=${w2}\n`,
      LEDGER_WITNESS_QUORUM: '2',
    })
    expect(fromEnv.witnesses.map((w) => w.url)).toEqual(['https://a.example', 'https://b.example'])
    expect(fromEnv.witnessQuorum).toBe(2)

    const refused = (args: string[], env: Record<string, string> = {}) =>
      expect(() => parseConfig(args, env), args.join(' ')).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG' }),
      )
    refused(['--witness', w1])
    refused(['--witness', `=${w1}`])
    refused(['--witness', `not a url=${w1}`])
    refused(['--witness', `ftp://w.example=${w1}`])
    refused(['--witness', 'https://w.example=not+a+key'])
    // A log note key (type 0x01) is not a cosignature key (type 0x04).
    refused(['--witness', `https://w.example=${'w.example+00000000+AQ=='}`])
    refused(['--witness', `https://a.example=${w1}`, '--witness', `https://b.example=${w1}`])
    refused(['--witness', `https://a.example=${w1}`, '--witness-quorum', '2'])
    refused(['--witness-quorum', '1'])
    refused(['--witness-quorum', '0', '--witness', `https://a.example=${w1}`])
    refused(['--witness-timeout-ms', '0'])
    refused([], { LEDGER_WITNESSES: 'https://a.example' })
  })

  test('--witness-url with --witness-key-file (the key is read at start), as docker-compose.yml gives them', () => {
    const config = run([], { LEDGER_WITNESS_URL: 'http://witness:8081', LEDGER_WITNESS_KEY_FILE: 'w.vkey' })
    expect(config.witnessUrl).toBe('http://witness:8081')
    expect(config.witnessKeyFile).toBe(resolve('w.vkey'))
    // It counts towards the quorum.
    const w1 = generateCosignerKey('w1.example/w').verifierKey
    expect(
      run(['--witness', `https://a.example=${w1}`, '--witness-quorum', '2'], {
        LEDGER_WITNESS_URL: 'http://witness:8081',
        LEDGER_WITNESS_KEY_FILE: 'w.vkey',
      }).witnessQuorum,
    ).toBe(2)
    for (const args of [
      ['--witness-url', 'http://witness:8081'],
      ['--witness-key-file', 'w.vkey'],
      ['--witness-url', 'witness:8081', '--witness-key-file', 'w.vkey'],
      ['--witness-url', 'http://witness:8081', '--witness-key-file', 'w.vkey', '--witness-quorum', '2'],
    ]) {
      expect(() => parseConfig(args, {}), args.join(' ')).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG' }),
      )
    }
  })
})
