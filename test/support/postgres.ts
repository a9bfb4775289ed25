// A throwaway PostgreSQL cluster from the machine's own server binaries (Debian's postgresql package), for
// tests and benchmarks: initdb and pg_ctl run as an unprivileged user (`postgres` when we are root), in a
// temporary folder, listening on 127.0.0.1 at a free port; stop() removes everything. No PGlite, no mock.
import { execFile } from 'node:child_process'
import { chown, mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

const run = promisify(execFile)

export interface PostgresCluster {
  /** Superuser URL of database `database` (default `postgres`). */
  url(database?: string): string
  /** A new empty database; returns its URL. */
  createDatabase(name?: string): Promise<string>
  /** Stops the server (immediate mode) and removes its folder. */
  stop(): Promise<void>
}

/** The server binaries: PG_BINDIR, else the newest /usr/lib/postgresql/<version>/bin. */
async function findBinaries(): Promise<string> {
  const fromEnv = process.env['PG_BINDIR']
  if (fromEnv !== undefined) return fromEnv
  const root = '/usr/lib/postgresql'
  let versions: string[] = []
  try {
    versions = (await readdir(root)).filter((v) => /^[0-9]+$/.test(v)).sort((a, b) => Number(b) - Number(a))
  } catch {
    // Reported below.
  }
  for (const version of versions) {
    const bin = join(root, version, 'bin')
    try {
      await stat(join(bin, 'initdb'))
      return bin
    } catch {
      continue
    }
  }
  throw new Error(
    'PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin: install ' +
      "Debian's postgresql package (.ci/run does), or set PG_BINDIR",
  )
}

/** A TCP port that was free a moment ago (PostgreSQL cannot bind port 0 and report it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

/** Runs a server binary as the unprivileged user: `postgres` when this process is root. */
async function asServerUser(command: string, args: readonly string[]): Promise<void> {
  const root = process.getuid?.() === 0
  const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, [...args]]
  await run(file, argv, { timeout: 120_000 })
}

/** The uid and gid of the `postgres` user (for the folder the server owns when we are root). */
async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])])
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
}

/** Starts a new cluster. Throws with the server's log when it does not start. */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = await findBinaries()
  const dir = await mkdtemp(join(tmpdir(), 'ledger-pg-'))
  if (process.getuid?.() === 0) {
    const { uid, gid } = await postgresIds()
    await chown(dir, uid, gid)
  }
  const data = join(dir, 'data')
  await asServerUser(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'ledger',
    '--auth=trust',
    '--encoding=UTF8',
    '--locale=C',
    '--no-sync',
  ])
  let port = 0
  for (let attempt = 0; ; attempt++) {
    port = await freePort()
    const options = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c max_connections=200',
      '-c shared_buffers=64MB',
    ].join(' ')
    try {
      await asServerUser(join(bin, 'pg_ctl'), [
        '-D',
        data,
        '-l',
        join(dir, 'server.log'),
        '-o',
        options,
        '-w',
        'start',
      ])
      break
    } catch (err) {
      // Another process took the port between the probe and the start: try another one.
      if (attempt >= 4) {
        await rm(dir, { recursive: true, force: true })
        throw new Error(`PostgreSQL did not start: ${(err as Error).message}`, { cause: err })
      }
    }
  }
  const url = (database = 'postgres') => `postgres://ledger@127.0.0.1:${port}/${database}`
  let stopped = false
  let counter = 0
  return {
    url,
    async createDatabase(name = `t_${process.pid}_${Date.now().toString(36)}_${counter++}`) {
      const client = new pg.Client({ connectionString: url() })
      await client.connect()
      try {
        await client.query(`CREATE DATABASE ${name}`)
      } finally {
        await client.end()
      }
      return url(name)
    },
    async stop() {
      if (stopped) return
      stopped = true
      try {
        await asServerUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
  }
}
