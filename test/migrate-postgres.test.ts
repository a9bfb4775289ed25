// `npm run migrate`: a LevelDB log copied into PostgreSQL, run as an operator runs it (the built program,
// real processes), proven to hold the same checkpoint, served by the PostgreSQL log byte for byte; an
// interrupted copy resumes; a database holding another log is refused.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { generateNoteKey, parseSignerKey } from '@ledger/tlog'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { LevelStore } from '../services/log/src/level-store.js'
import { migrateLog } from '../services/log/src/migrate.js'
import { PostgresStore } from '../services/log/src/postgres-store.js'
import { hex, post, signed, statement } from '../services/log/test/helpers.js'
import { startLog, tempDir, removeDir } from './e2e-support.js'
import { auditLog } from './support/log-audit.js'
import { spawnLog } from './support/log-process.js'
import { postgresDatabase } from './support/postgres-test.js'

const run = promisify(execFile)
const MIGRATE = fileURLToPath(new URL('../services/log/dist/migrate-main.js', import.meta.url))
const ORIGIN = 'e2e.example/migrate'

let dir: string
const databases: Awaited<ReturnType<typeof postgresDatabase>>[] = []
let checkpoint: string
let size: bigint

beforeAll(async () => {
  dir = await tempDir('ledger-migrate-')
  const log = await startLog(`${dir}/data`, ORIGIN)
  // 600 entries over three entry bundles; digests and commits shared by several entries.
  for (let i = 0; i < 600; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: 50 }, (_, j) =>
        signed(statement([hex((i + j) % 97), hex(i + j)], hex((i + j) % 13, 40))),
      ),
    )
    const answers = await Promise.all(batch.map((s) => post(log.url, s.body)))
    for (const answer of answers) expect(answer.status).toBe(201)
  }
  checkpoint = log.servedCheckpoint()
  size = 600n
  await log.close()
})

afterAll(async () => {
  for (const database of databases) await database.drop()
  await removeDir(dir)
})

async function migrate(to: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MIGRATE, '--data', `${dir}/data`, '--to', to])
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

describe('npm run migrate (LevelDB to PostgreSQL)', () => {
  test('copies the log and proves it; the PostgreSQL log serves the same checkpoint and goes on', async () => {
    const database = await postgresDatabase()
    databases.push(database)
    const result = await migrate(database.url)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/^copied 600 entries of e2e\.example\/migrate into postgres:\/\//m)
    expect(result.stdout).toMatch(/^proven: the database's checkpoint is the log's \(size 600, root /m)

    const child = spawnLog([
      '--data',
      `${dir}/data`,
      '--store',
      database.url,
      '--port',
      '0',
      '--verify-workers',
      '0',
    ])
    try {
      const url = await child.listening
      expect(await (await fetch(`${url}/checkpoint`)).text()).toBe(checkpoint)
      const audited = await auditLog(url, child.verifierKey())
      expect(audited.size).toBe(size)
      // The index rows were derived again from the leaves: a digest shared by entries finds them all.
      const lookup = (await (await fetch(`${url}/api/v1/lookup?digest=sha256:${hex(5)}`)).json()) as {
        total: number
        entries: { index: number }[]
      }
      expect(lookup.total).toBe(7)
      expect(lookup.entries.map((e) => e.index)).toEqual([5, 102, 199, 296, 393, 490, 587])
      const next = await signed(statement([hex(100_000)], hex(1, 40)))
      const answer = await post(url, next.body)
      expect(answer.status).toBe(201)
      expect(answer.json.verificationMaterial.tlogEntries[0].logIndex).toBe('600')
    } finally {
      await child.stop()
    }
  })

  test('an interrupted copy resumes where it stopped', async () => {
    const database = await postgresDatabase()
    databases.push(database)
    // Stopped after three commits of 100 entries, as a crash would stop it.
    const source = await LevelStore.open(`${dir}/data/db`)
    let commits = 0
    const target = await PostgresStore.open(database.url, {
      beforeWrite: () => {
        if (++commits > 4) throw new Error('the machine went down')
      },
    })
    const { readFile } = await import('node:fs/promises')
    const signer = parseSignerKey((await readFile(`${dir}/data/log.key`, 'utf8')).trim())
    await expect(migrateLog({ source, target, signer, origin: ORIGIN, batchSize: 100 })).rejects.toThrow(
      'the machine went down',
    )
    expect((await target.readState())?.size).toBe(300n)
    await target.close()
    await source.close()
    const result = await migrate(database.url)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/^copied 300 entries/m)
    expect(result.stdout).toMatch(/^proven: /m)
  })

  test('a database that holds another log is refused, and nothing is written', async () => {
    const database = await postgresDatabase()
    databases.push(database)
    const other = await PostgresStore.open(database.url)
    const { verifierKey } = generateNoteKey('someone.else/log')
    await other.writeMeta({ origin: 'someone.else/log', verifierKey, createdAt: '2026-01-01T00:00:00Z' })
    await other.close()
    const result = await migrate(database.url)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/holds another log/)
    const check = await PostgresStore.open(database.url)
    expect(await check.readState()).toBeUndefined()
    await check.close()
    expect((await migrate('mysql://nope')).code).toBe(2)
  })
})
