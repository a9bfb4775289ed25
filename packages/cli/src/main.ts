// The `attest` command line: commander wiring over the commands, and the one place errors become exit codes.
import { Command, CommanderError, Option } from 'commander'
import { createRequire } from 'node:module'
import { ClientError } from '@ledger/client'
import { CliError } from './context.js'
import { EXIT, EXIT_CODES_HELP, exitCodeFor, type ExitCode } from './exit-codes.js'
import type { Io } from './io.js'

const collect = (value: string, previous: string[] = []) => [...previous, value]

/** The version of @ledger/cli (its package.json, next to dist/). */
export const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version

const TRUST_HELP = `Which log key is trusted: --policy FILE or --log-key KEY pin it. With neither, the key the log
announces at GET /api/v1/log is trusted on first use and pinned in the state directory (with the
first checkpoint); later runs refuse a log that presents another key (exit 3).`

const STATE_HELP = `State: the last verified checkpoint of each log is kept in --state DIR (default
$XDG_STATE_HOME/attest, else ~/.local/state/attest); every new checkpoint must be consistent with it.`

/**
 * Builds the program; `run` receives each command's exit code. Each command's module is imported when it
 * runs, so `attest verify --digest` loads neither the signer (@sigstore/sign) nor the monitor.
 */
function buildProgram(io: Io, run: (code: Promise<ExitCode>) => Promise<void>): Command {
  const program = new Command('attest')
  program
    .description('Record and check reproducible-build attestations in a transparency log.')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .version(VERSION, '--version', 'print the version of attest')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n\n${TRUST_HELP}\n\n${STATE_HELP}\n`)

  const json = () => new Option('--json', 'print a JSON document for scripts')
  const timeout = () => new Option('--timeout <seconds>', 'time limit of each HTTP request (default 10)')
  const stateDir = () => new Option('--state <dir>', 'state directory (default $XDG_STATE_HOME/attest)')

  program
    .command('keygen')
    .description('Make a signing key pair: PREFIX.key (PKCS#8 PEM, mode 0600) and PREFIX.pub (SPKI PEM).')
    .addOption(
      new Option('--type <type>', 'key type').choices(['ecdsa-p256', 'ed25519']).default('ecdsa-p256'),
    )
    .requiredOption('--out <prefix>', 'path prefix of the two files (never overwritten)')
    .addOption(json())
    .action((opts) => run(import('./commands/keygen.js').then((m) => m.keygenCommand(io, opts))))

  program
    .command('submit')
    .description(
      'Sign "commit C was rebuilt into these artifacts" and log it; verify and save the receipt; print the index.',
    )
    .requiredOption('--log <url>', 'log base URL')
    .requiredOption('--key <file>', 'private key (PKCS#8 PEM)')
    .option('--artifact <file>', 'a rebuilt file, hashed with each of --digest-algs (repeatable)', collect)
    .option(
      '--digest-algs <list>',
      'digests --artifact records, comma-separated: sha256, sha384, sha512, blake2b (default sha256,sha512,blake2b)',
    )
    .option(
      '--subject <name=digest>',
      'a rebuilt artifact by name and digest: NAME=ALG:HEX or NAME=<SRI string> such as sha512-<base64> (repeatable; one name may take several)',
      collect,
    )
    .requiredOption('--repo <uri>', 'source repository, e.g. git+https://github.com/o/r')
    .requiredOption('--commit <hex>', 'source commit (40 or 64 lowercase hex)')
    .option('--builder-id <uri>', 'the rebuilder (default urn:attest:key:<key id>)')
    .option('--receipt <file>', 'where to save the receipt (default attest-receipt-<index>.json)')
    .option('--tlog-proof <file>', 'also save a C2SP tlog-proof receipt')
    .option('--log-key <key>', 'pin the log verifier key (the key string or a file holding it)')
    .option('--policy <file>', 'pin the log key (and witnesses) from a trust policy')
    .option('--tlog-policy <file>', 'the log key and witness quorum from a C2SP tlog-policy file')
    .addOption(stateDir())
    .addOption(timeout())
    .addOption(json())
    .addHelpText('after', `\n${TRUST_HELP}\n`)
    .action((opts) => run(import('./commands/submit.js').then((m) => m.submitCommand(io, opts))))

  program
    .command('verify')
    .description(
      'How many parties of the policy reproduced this artifact? Exit 0 when the threshold is met with no conflict, 1 when not.',
    )
    .requiredOption('--log <url>', 'log base URL')
    .requiredOption('--policy <file>', 'trust policy (log key, witnesses, parties, threshold)')
    .option('--tlog-policy <file>', 'the log key and witness quorum from a C2SP tlog-policy file')
    .option('--artifact <file>', 'the artifact to check (hashed with SHA-256)')
    .option(
      '--digest <digest>',
      'the digest to check: ALG:HEX (sha256, sha384, sha512, blake2b), 64 hex (sha256) or an SRI string (sha512-<base64>)',
    )
    .option(
      '--lockfile <file>',
      'check every package of a lockfile in one batch, against one checkpoint: npm package-lock.json (v2/v3), Cargo.lock, or a sha256sum/sha512sum/b2sum list (repeatable)',
      collect,
    )
    .option('--commit <hex>', 'count only rebuilds from this source commit')
    .option('--threshold <n>', "parties required (default: the policy's threshold)")
    .addOption(stateDir())
    .addOption(timeout())
    .addOption(json())
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n`)
    .action((opts) => run(import('./commands/verify.js').then((m) => m.verifyCommand(io, opts))))

  program
    .command('lookup')
    .description('List the verified entries naming a digest or a commit.')
    .requiredOption('--log <url>', 'log base URL')
    .option('--digest <digest>', 'subject digest: ALG:HEX, 64 hex (sha256) or an SRI string')
    .option('--commit <hex>', 'source commit')
    .option('--keyid <hex>', 'only entries by this key id (repeatable)', collect)
    .option('--log-key <key>', 'pin the log verifier key')
    .option('--policy <file>', 'pin the log key and name the parties of the keys')
    .option('--tlog-policy <file>', 'the log key and witness quorum from a C2SP tlog-policy file')
    .addOption(stateDir())
    .addOption(timeout())
    .addOption(json())
    .addHelpText('after', `\n${TRUST_HELP}\n`)
    .action((opts) => run(import('./commands/lookup.js').then((m) => m.lookupCommand(io, opts))))

  const receipt = program.command('receipt').description('Work with receipts.')
  receipt
    .command('verify')
    .description('Verify a receipt offline (Sigstore bundle or C2SP tlog-proof). Exit 0 valid, 1 invalid.')
    .argument('<file>', 'the receipt')
    .option('--log-key <key>', 'the log verifier key (the key string or a file holding it)')
    .option('--policy <file>', 'take the log key and witness quorum from a trust policy')
    .option('--tlog-policy <file>', 'the log key and witness quorum from a C2SP tlog-policy file')
    .option('--public-key <pem-file|keyid>', 'the entry must be signed by this key')
    .option('--leaf <file>', 'the log entry, for a tlog-proof that does not carry it')
    .addOption(json())
    .action((file: string, opts) =>
      run(import('./commands/receipt-verify.js').then((m) => m.receiptVerifyCommand(io, file, opts))),
    )

  const log = program.command('log').description('Work with a log.')
  log
    .command('info')
    .description("Show a log's origin, key and verified checkpoint (consistent with the stored one).")
    .requiredOption('--log <url>', 'log base URL')
    .option('--log-key <key>', 'pin the log verifier key')
    .option('--policy <file>', 'pin the log key from a trust policy')
    .option('--tlog-policy <file>', 'the log key and witness quorum from a C2SP tlog-policy file')
    .addOption(stateDir())
    .addOption(timeout())
    .addOption(json())
    .addHelpText('after', `\n${TRUST_HELP}\n`)
    .action((opts) => run(import('./commands/log-info.js').then((m) => m.logInfoCommand(io, opts))))

  program
    .command('monitor')
    .description(
      'Follow a log: prove it append-only, re-verify every entry, audit its lookups, print alerts as JSON lines (attest monitor --help).',
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[options...]', "the monitor's options (see attest monitor --help)")
    .action((args: string[]) => run(import('./commands/monitor.js').then((m) => m.monitorCommand(io, args))))

  return program
}

/**
 * Runs `attest` with `argv` (the arguments after the program name) and returns the exit code. Never
 * throws: errors are reported on io.stderr (or as JSON on io.stdout with --json) and mapped by exitCodeFor.
 */
export async function main(argv: readonly string[], io: Io): Promise<ExitCode> {
  let pending: Promise<ExitCode> | undefined
  // Actions return their promise so that parseAsync awaits it and a rejection flows into the catch below.
  const program = buildProgram(io, async (code) => {
    pending = code
    await code
  })
  const wantsJSON = argv.includes('--json')
  try {
    await program.parseAsync([...argv], { from: 'user' })
    if (pending === undefined) {
      // A group without a subcommand (`attest`, `attest receipt`): commander printed help.
      return EXIT.USAGE
    }
    return await pending
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.OK
      // `attest` alone: help goes to stderr with code 'commander.help'.
      return EXIT.USAGE
    }
    const code = err instanceof CliError ? err.exitCode : exitCodeFor(err)
    if (wantsJSON) {
      io.stdout.write(
        `${JSON.stringify(
          {
            error: {
              code: err instanceof ClientError ? err.code : ((err as { code?: unknown }).code ?? 'ERROR'),
              message: (err as Error).message,
              ...(err instanceof ClientError && err.evidence !== undefined && { evidence: err.evidence }),
            },
            exitCode: code,
          },
          null,
          2,
        )}\n`,
      )
    }
    io.stderr.write(`attest: ${describeError(err)}\n`)
    return code
  }
}

function describeError(err: unknown): string {
  if (err instanceof ClientError && err.code === 'LOG_MISBEHAVING') {
    const kind = err.evidence?.kind
    return `the log misbehaved${kind !== undefined ? ` (${kind})` : ''}: ${err.message}`
  }
  if (err instanceof CliError) return err.message
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message
  }
  return String(err)
}
