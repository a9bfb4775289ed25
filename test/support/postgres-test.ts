// For tests: a fresh database in the run's PostgreSQL cluster (started by postgres-global-setup.ts).
import pg from 'pg'
import { inject } from 'vitest'

let counter = 0

/** Creates an empty database and returns its URL; drop() removes it (closing its connections first). */
export async function postgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = inject('postgresUrl')
  const name = `t_${process.pid}_${Date.now().toString(36)}_${counter++}`
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${name}`)
  } finally {
    await client.end()
  }
  const url = new URL(admin)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: admin })
      await c.connect()
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await c.end()
      }
    },
  }
}
