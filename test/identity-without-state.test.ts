// A witness or a log whose key file survived but whose state did not must refuse to start: with an empty
// state the witness would cosign a fork of what it cosigned before, and the log would sign a second
// history. Run as an operator runs them (the built services as child processes); the explicit
// --new-identity starts them. The LevelDB log, the PostgreSQL log and the witness follow the same rule.
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateNoteKey } from '@ledger/tlog'
import { removeDir, tempDir } from './e2e-support.js'
import { spawnLog, spawnService, WITNESS_MAIN, type LogChild } from './support/log-process.js'
import { postgresDatabase } from './support/postgres-test.js'

let dir: string
const children: LogChild[] = []

function track(child: LogChild): LogChild {
  children.push(child)
  return child
}

beforeAll(async () => {
  dir = await tempDir('identity-')
})

afterAll(async () => {
  for (const child of children) await child.kill9()
  await removeDir(dir)
})

/** Starts, waits until it listens, stops it cleanly. */
async function startAndStop(child: LogChild): Promise<void> {
  await child.listening
  expect((await child.stop()).code).toBe(0)
}

/** Expects the process to exit non-zero before listening, naming the key file and --new-identity. */
async function expectRefused(child: LogChild, keyFile: string): Promise<void> {
  const { code } = await child.exited
  expect(code).not.toBe(0)
  expect(child.stdout()).not.toMatch(/^listening/m)
  expect(child.stderr()).toContain(keyFile)
  expect(child.stderr()).toContain('--new-identity')
}

describe('a key without its state is refused at start', () => {
  it('the witness: after its database is removed, it refuses; --new-identity starts it', async () => {
    const data = join(dir, 'witness')
    const logKey = generateNoteKey('identity.example/log')
    const logs = join(dir, 'logs.policy')
    await writeFile(logs, `log ${logKey.verifierKey}\n`)
    const args = ['--data', data, '--port', '0', '--logs', logs]
    await startAndStop(track(spawnService(WITNESS_MAIN, args)))
    const key = await readFile(join(data, 'witness.key'), 'utf8')

    await rm(join(data, 'db'), { recursive: true })
    await expectRefused(track(spawnService(WITNESS_MAIN, args)), join(data, 'witness.key'))
    // Refused: the key is left as it was, and no state was made.
    expect(await readFile(join(data, 'witness.key'), 'utf8')).toBe(key)
    await expectRefused(track(spawnService(WITNESS_MAIN, args)), join(data, 'witness.key'))

    const restarted = track(spawnService(WITNESS_MAIN, [...args, '--new-identity']))
    await startAndStop(restarted)
    // From now on the state exists: a plain start works.
    await startAndStop(track(spawnService(WITNESS_MAIN, args)))
  })

  it('the LevelDB log: after its store is removed, it refuses; --new-identity starts it', async () => {
    const data = join(dir, 'log')
    const args = ['--data', data, '--port', '0', '--origin', 'identity.example/log', '--verify-workers', '0']
    await startAndStop(track(spawnLog(args)))
    await rm(join(data, 'db'), { recursive: true })
    await expectRefused(track(spawnLog(args)), join(data, 'log.key'))
    await startAndStop(track(spawnLog([...args, '--new-identity'])))
    await startAndStop(track(spawnLog(args)))
  })

  it('the PostgreSQL log: a key file and a database that holds no log is refused the same way', async () => {
    const first = await postgresDatabase()
    const second = await postgresDatabase()
    try {
      const data = join(dir, 'pg-log')
      const args = ['--data', data, '--port', '0', '--origin', 'identity.example/pg', '--verify-workers', '0']
      await startAndStop(track(spawnLog([...args, '--store', first.url])))
      // The same key, pointed at an empty database (the old one lost, or a wrong URL).
      const refused = track(spawnLog([...args, '--store', second.url]))
      await expectRefused(refused, join(data, 'log.key'))
      await startAndStop(track(spawnLog([...args, '--store', second.url, '--new-identity'])))
    } finally {
      await first.drop()
      await second.drop()
    }
  })
})
