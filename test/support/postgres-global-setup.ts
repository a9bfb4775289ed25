// Vitest global setup: one throwaway PostgreSQL cluster for the whole run (test/support/postgres.ts); each
// test that needs PostgreSQL creates its own database in it (postgresDatabase in postgres-test.ts).
import type { TestProject } from 'vitest/node'
import { startPostgresCluster, type PostgresCluster } from './postgres.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the run's cluster (database `postgres`). */
    postgresUrl: string
  }
}

let cluster: PostgresCluster | undefined

export async function setup(project: TestProject): Promise<void> {
  cluster = await startPostgresCluster()
  project.provide('postgresUrl', cluster.url())
}

export async function teardown(): Promise<void> {
  await cluster?.stop()
}
