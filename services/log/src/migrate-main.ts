// `npm run migrate -- --data DIR --to postgres://...`: copies a LevelDB log into PostgreSQL (migrate.ts) and
// proves the copy. Exit codes: 0 copied and proven, 1 failed (nothing is lost: rerun to resume), 2 usage.
import { join } from 'node:path'
import { configOrExit, optionsHelp, parseOptions, type OptionSpec } from '@ledger/service'
import { redactUrl } from './config.js'
import { LevelStore } from './level-store.js'
import { readLogKey } from './log-key.js'
import { migrateLog } from './migrate.js'
import { PostgresStore } from './postgres-store.js'

interface MigrateConfig {
  dataDir: string
  to: string
  batchSize: number
}

const OPTIONS: readonly (OptionSpec & { key: keyof MigrateConfig })[] = [
  {
    flag: 'data',
    env: 'LEDGER_DATA',
    key: 'dataDir',
    kind: 'path',
    help: 'the LevelDB log to copy: its data directory, with log.key (default ./data)',
  },
  {
    flag: 'to',
    env: 'LEDGER_STORE',
    key: 'to',
    kind: 'string',
    arg: ' postgres://...',
    help: 'the PostgreSQL database to copy it into (required; empty, or holding a copy to resume)',
  },
  {
    flag: 'batch-size',
    env: 'LEDGER_MIGRATE_BATCH',
    key: 'batchSize',
    kind: 'int',
    min: 1,
    max: 100_000,
    help: 'entries per commit into PostgreSQL (default 5000)',
  },
]

function load(): { kind: 'run'; config: MigrateConfig } | { kind: 'help'; text: string } {
  const parsed = parseOptions(OPTIONS, process.argv.slice(2), process.env)
  if (parsed.help) {
    return {
      kind: 'help',
      text: optionsHelp(
        [
          'Usage: npm run migrate -- --data DIR --to postgres://...',
          '',
          'Copies a LevelDB log into PostgreSQL and proves that the copy holds the same checkpoint.',
        ],
        OPTIONS,
        29,
      ),
    }
  }
  const config: MigrateConfig = { dataDir: join(process.cwd(), 'data'), to: '', batchSize: 5000 }
  const target = config as unknown as Record<string, unknown>
  for (const [key, { value }] of parsed.given) target[key] = value
  if (!/^postgres(?:ql)?:\/\//.test(config.to)) throw new Error('--to postgres://... is required')
  return { kind: 'run', config }
}

async function main(): Promise<void> {
  const config = configOrExit(load)
  if (config === undefined) return
  const source = await LevelStore.open(join(config.dataDir, 'db'))
  let target: PostgresStore | undefined
  try {
    const key = await readLogKey(config.dataDir)
    target = await PostgresStore.open(config.to)
    const interactive = process.stderr.isTTY
    let reported = 0n
    const result = await migrateLog({
      source,
      target,
      signer: key.signer,
      origin: key.origin,
      batchSize: config.batchSize,
      onProgress: (copied, total) => {
        if (interactive) process.stderr.write(`\rcopied ${copied} of ${total} entries`)
        else if (copied - reported >= 100_000n || copied === total) {
          process.stderr.write(`copied ${copied} of ${total} entries\n`)
          reported = copied
        }
      },
    })
    if (interactive) process.stderr.write('\n')
    console.log(`copied ${result.copied} entries of ${key.origin} into ${redactUrl(config.to)}`)
    console.log(
      `proven: the database's checkpoint is the log's (size ${result.size}, root ${result.root}), ` +
        'and its leaves and tiles recompute that root',
    )
  } catch (err) {
    console.error(`error: ${(err as Error).message}`)
    process.exitCode = 1
  } finally {
    await target?.close()
    await source.close()
  }
}

void main()
