// Acceptance (issue #5): receipts verify offline, in both shapes of DESIGN §6, with nothing but the log's
// key; a receipt tampered in any one field fails. The receipts come from the real server, which is stopped
// before anything is verified.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ClientError, verifyReceipt } from '@ledger/client'
import { generateNoteKey, verifierKeyOf } from '@ledger/tlog'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, removeDir, startLog, tempDir, type CliRun } from './e2e-support.js'

const COMMIT = '0123456789abcdef0123456789abcdef01234567'

let dir: string
let attest: ReturnType<typeof cli>
let logKey: string
let receiptText: string
let proofText: string
let signerPem: string

function expectCode(run: CliRun, code: number) {
  if (run.code !== code)
    throw new Error(`exit ${run.code}, expected ${code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`)
}

beforeAll(async () => {
  dir = await tempDir()
  attest = cli(dir)
  const log = await startLog(join(dir, 'log'))
  logKey = log.verifierKey
  try {
    expectCode(await attest('keygen', '--out', 'me'), 0)
    expectCode(await attest('keygen', '--out', 'other', '--type', 'ed25519'), 0)
    // A few entries first, so the inclusion proof has hashes to tamper with.
    for (let i = 0; i < 5; i++) {
      const run = await attest(
        'submit',
        '--log',
        log.url,
        '--key',
        'other.key',
        '--subject',
        `noise-${i}=sha256:${String(i).repeat(64)}`,
        '--repo',
        'git+https://example.org/r',
        '--commit',
        COMMIT,
        '--log-key',
        logKey,
        '--receipt',
        `noise-${i}.json`,
      )
      expectCode(run, 0)
    }
    await writeFile(join(dir, 'artifact.bin'), 'artifact bytes')
    const run = await attest(
      'submit',
      '--log',
      log.url,
      '--key',
      'me.key',
      '--artifact',
      'artifact.bin',
      '--repo',
      'git+https://example.org/r',
      '--commit',
      COMMIT,
      '--log-key',
      logKey,
      '--receipt',
      'receipt.json',
      '--tlog-proof',
      'receipt.tlog-proof',
    )
    expectCode(run, 0)
  } finally {
    await log.close()
  }
  receiptText = await readFile(join(dir, 'receipt.json'), 'utf8')
  proofText = await readFile(join(dir, 'receipt.tlog-proof'), 'utf8')
  signerPem = await readFile(join(dir, 'me.pub'), 'utf8')
})

afterAll(async () => {
  await removeDir(dir)
})

function verifies(receipt: string | object, extra: { publicKey?: string } = {}): boolean {
  try {
    verifyReceipt(receipt, { logVerifierKey: logKey, ...extra })
    return true
  } catch (err) {
    expect(err).toBeInstanceOf(ClientError)
    expect(['RECEIPT_INVALID', 'INVALID_ARGUMENT']).toContain((err as ClientError).code)
    return false
  }
}

/** Every leaf of a JSON value, with its path. */
function leaves(
  value: unknown,
  path: (string | number)[] = [],
): { path: (string | number)[]; value: unknown }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...path, i]))
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]))
  }
  return [{ path, value }]
}

function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>
  let node = copy
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>
  const last = path[path.length - 1]!
  if (value === undefined) {
    if (Array.isArray(node)) node.splice(Number(last), 1)
    else delete node[last]
  } else node[last] = value
  return copy
}

/** A different value of the same kind: a bit flipped in base64 content, a number changed, a character changed. */
function tamper(value: unknown): unknown {
  if (typeof value === 'number') return value + 1
  if (typeof value === 'boolean') return !value
  const text = String(value)
  if (/^(?:0|[1-9][0-9]*)$/.test(text)) return String(BigInt(text) + 1n)
  const bytes = Buffer.from(text, 'base64')
  if (text.length >= 4 && bytes.length > 0 && bytes.toString('base64') === text) {
    bytes[bytes.length >> 1]! ^= 0x01
    return bytes.toString('base64')
  }
  if (text.length === 0) return 'x'
  const i = text.length >> 1
  return text.slice(0, i) + (text[i] === 'a' ? 'b' : 'a') + text.slice(i + 1)
}

describe('offline receipt verification (acceptance)', () => {
  it('an untampered Sigstore bundle receipt and tlog-proof verify with no server', () => {
    expect(verifies(receiptText)).toBe(true)
    expect(verifies(JSON.parse(receiptText) as object, { publicKey: signerPem })).toBe(true)
    expect(verifies(proofText, { publicKey: signerPem })).toBe(true)
    const verified = verifyReceipt(proofText, { logVerifierKey: logKey })
    expect(verified.format).toBe('tlog-proof')
    expect(verified.index).toBe(5n)
  })

  it('fails for a bundle receipt tampered in any one field, or missing it', () => {
    const receipt = JSON.parse(receiptText) as object
    const all = leaves(receipt)
    expect(all.length).toBeGreaterThan(15)
    // Two fields may be absent with the same meaning: protobuf JSON leaves out an integratedTime of 0, and
    // a DSSE signature's keyid is an optional, unsigned hint. Changing them still fails.
    const optional = ['verificationMaterial.tlogEntries.0.integratedTime', 'dsseEnvelope.signatures.0.keyid']
    const survivors: string[] = []
    for (const { path, value } of all) {
      const name = path.join('.')
      if (verifies(setAt(receipt, path, tamper(value)) as object)) survivors.push(`changed ${name}`)
      if (!optional.includes(name) && verifies(setAt(receipt, path, undefined) as object))
        survivors.push(`removed ${name}`)
    }
    expect(survivors).toEqual([])
    expect(all.map((l) => l.path.join('.'))).toEqual(expect.arrayContaining(optional))
  })

  it('fails for a tlog-proof tampered in any one line, or missing it', () => {
    const lines = proofText.split('\n')
    const survivors: string[] = []
    lines.forEach((line, i) => {
      if (line === '') return
      const changed = line.startsWith('index ')
        ? `index ${BigInt(line.slice(6)) + 1n}`
        : line.startsWith('extra ')
          ? `extra ${String(tamper(line.slice(6)))}`
          : line.startsWith('\u2014 ')
            ? line.replace(/ (\S+)$/, (_m, sig: string) => ` ${String(tamper(sig))}`)
            : String(tamper(line))
      const variants = [changed, undefined]
      for (const variant of variants) {
        const copy = [...lines]
        if (variant === undefined) copy.splice(i, 1)
        else copy[i] = variant
        if (verifies(copy.join('\n')))
          survivors.push(`${variant === undefined ? 'removed' : 'changed'} line ${i}: ${line}`)
      }
    })
    expect(survivors).toEqual([])
  })

  it('fails for a genuine receipt of another signer when the signer is pinned', async () => {
    const other = await readFile(join(dir, 'noise-0.json'), 'utf8')
    expect(verifies(other)).toBe(true)
    expect(verifies(other, { publicKey: signerPem })).toBe(false)
  })

  it('fails under another key of the same origin', () => {
    const origin = logKey.slice(0, logKey.indexOf('+'))
    const impostor = verifierKeyOf(generateNoteKey(origin).signerKey)
    for (const receipt of [receiptText, proofText]) {
      try {
        verifyReceipt(receipt, { logVerifierKey: impostor })
        throw new Error('expected RECEIPT_INVALID')
      } catch (err) {
        expect((err as ClientError).code).toBe('RECEIPT_INVALID')
      }
    }
  })

  it('`attest receipt verify` exits 0 for both shapes and 1 for a tampered one', async () => {
    expectCode(await attest('receipt', 'verify', 'receipt.json', '--log-key', logKey), 0)
    const run = await attest(
      'receipt',
      'verify',
      'receipt.tlog-proof',
      '--log-key',
      logKey,
      '--public-key',
      'me.pub',
      '--json',
    )
    expectCode(run, 0)
    expect(run.json()).toMatchObject({ valid: true, format: 'tlog-proof', index: 5 })
    await writeFile(join(dir, 'tampered.json'), receiptText.replace(/"logIndex": "5"/g, '"logIndex": "4"'))
    expect(await readFile(join(dir, 'tampered.json'), 'utf8')).not.toBe(receiptText)
    expectCode(await attest('receipt', 'verify', 'tampered.json', '--log-key', logKey), 1)
    expectCode(await attest('receipt', 'verify', 'receipt.json'), 2) // no key: usage error
  })
})
