import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url))

// Tests import workspace packages from their TypeScript sources, so a test run needs no build;
// tests that start a server or the CLI as a child process use the built dist/ (npm test builds first).
export default defineConfig({
  resolve: {
    alias: [
      // One module of a package (`@ledger/tlog/merkle.js`, as the CLI's verify path imports them).
      {
        find: /^@ledger\/(tlog|attestation|client)\/([a-z0-9-]+)\.js$/,
        replacement: `${src('./packages/')}$1/src/$2.ts`,
      },
      ...Object.entries({
        '@ledger/durable-file': src('./packages/durable-file/src/index.ts'),
        '@ledger/service': src('./packages/service/src/index.ts'),
        '@ledger/tlog': src('./packages/tlog/src/index.ts'),
        '@ledger/vindex': src('./packages/vindex/src/index.ts'),
        '@ledger/attestation': src('./packages/attestation/src/index.ts'),
        '@ledger/client': src('./packages/client/src/index.ts'),
        '@ledger/cli': src('./packages/cli/src/index.ts'),
        '@ledger/log-server': src('./services/log/src/index.ts'),
        '@ledger/witness': src('./services/witness/src/index.ts'),
        '@ledger/monitor': src('./packages/monitor/src/index.ts'),
      }).map(([find, replacement]) => ({ find, replacement })),
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // One throwaway PostgreSQL cluster for the run, from the machine's server binaries.
    globalSetup: ['test/support/postgres-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
