// The `attest` command line: commander wiring over the commands. main.ts loads it for every command line
// but the shapes it runs itself (`attest --version`, `attest verify` with known options).
import { Command, CommanderError, Option } from 'commander'
import { toJSON, type CliErrorCode } from './cli-error.js'
import { withEnvDefaults, withPolicyDefault } from './env-defaults.js'
import { EXIT, EXIT_CODES_HELP, type ExitCode } from './exit-codes.js'
import type { Io } from './io.js'
import { VERSION } from './main.js'
import { reportError } from './report.js'

const collect = (value: string, previous: string[] = []) => [...previous, value]

const TRUST_HELP = `Which log key is trusted: --policy FILE or --log-key KEY pin it. With neither, the key the log
announces at GET /api/v1/log is trusted on first use and pinned in the state directory (with the
first checkpoint); later runs refuse a log that presents another key (exit 3).`

const STATE_HELP = `State: the last verified checkpoint of each log is kept in --state DIR (default
$ATTEST_STATE, else $XDG_STATE_HOME/attest, else ~/.local/state/attest); every new checkpoint must be
consistent with it. \`attest state forget ORIGIN\` forgets a log that you know started over (the file is
kept, renamed).`

const ENV_HELP = `Environment: ATTEST_LOG is the default of --log, ATTEST_POLICY of --policy (when neither
--log-key nor --tlog-policy is given), ATTEST_STATE of --state.`

/**
 * Builds the program; `run` receives each command's exit code. Each command's module is imported when it
 * runs, so `attest verify --digest` loads neither the signer (@sigstore/sign) nor the monitor.
 */
export function buildProgram(io: Io, run: (code: Promise<ExitCode>) => Promise<void>): Command {
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
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n\n${TRUST_HELP}\n\n${STATE_HELP}\n\n${ENV_HELP}\n`)

  const json = () => new Option('--json', 'print a JSON document for scripts')
  const timeout = () => new Option('--timeout <seconds>', 'time limit of each HTTP request (default 10)')
  const stateDir = () =>
    new Option('--state <dir>', 'state directory (default $ATTEST_STATE, else $XDG_STATE_HOME/attest)')

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
    .option('--log <url>', 'log base URL (default $ATTEST_LOG)')
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
    .option(
      '--input <name=digest>',
      'a build input (the compiler, base image or toolchain the rebuild used), recorded in resolvedDependencies: NAME=ALG:HEX, NAME=<64 hex> or NAME=<SRI string> (repeatable, at most 256 names of at most 256 characters; one name may take several digests)',
      collect,
    )
    .requiredOption('--repo <uri>', 'source repository, e.g. git+https://github.com/o/r')
    .requiredOption('--commit <hex>', 'source commit (40 or 64 lowercase hex)')
    .option('--builder-id <uri>', 'the rebuilder (default urn:attest:key:<key id>)')
    .option('--receipt <file>', 'where to save the receipt (default attest-receipt-<index>.json)')
    .option('--tlog-proof <file>', 'also save a C2SP tlog-proof receipt')
    .option('--log-key <key>', 'pin the log verifier key (the key string or a file holding it)')
    .option('--policy <file>', 'pin the log key (and witnesses) from a trust policy (default $ATTEST_POLICY)')
    .option('--tlog-policy <file>', 'the log key and witness quorum from a C2SP tlog-policy file')
    .addOption(stateDir())
    .addOption(timeout())
    .addOption(json())
    .addHelpText('after', `\n${TRUST_HELP}\n`)
    .action((opts) =>
      run(import('./commands/submit.js').then((m) => m.submitCommand(io, withEnvDefaults(io, opts, false)))),
    )

  program
    .command('verify')
    .description(
      'How many parties of the policy reproduced this artifact (and, with --chain, the tools that built it)? Exit 0 when the threshold is met with no conflict, 1 when not.',
    )
    .option('--log <url>', 'log base URL (default $ATTEST_LOG)')
    .option(
      '--policy <file>',
      "trust policy: log key, witnesses, the log's index key (answers then proven complete), parties, threshold; for --chain, roots and minDistinctToolchains (default $ATTEST_POLICY)",
    )
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
    .option(
      '--chain',
      "also check the build inputs the counted attestations name (compiler, base image, toolchain), recursively: each must be one of the policy's roots or be reproduced itself; exit 0 only when every path ends in a root or a reproduced artifact within --depth; reports toolchain diversity (minDistinctToolchains)",
    )
    .option('--depth <n>', 'with --chain: levels of build inputs to follow, 0 to 64 (default 8)')
    .option('--dot', 'with --chain: print the chain as a Graphviz graph')
    .addOption(stateDir())
    .addOption(timeout())
    .addOption(json())
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n`)
    .action((opts) =>
      run(import('./commands/verify.js').then((m) => m.verifyCommand(io, withEnvDefaults(io, opts, true)))),
    )

  program
    .command('lookup')
    .description('List the verified entries naming a digest or a commit.')
    .option('--log <url>', 'log base URL (default $ATTEST_LOG)')
    .option('--digest <digest>', 'subject digest: ALG:HEX, 64 hex (sha256) or an SRI string')
    .option('--commit <hex>', 'source commit')
    .option('--keyid <hex>', 'only entries by this key id (repeatable)', collect)
    .option('--log-key <key>', 'pin the log verifier key')
    .option('--policy <file>', 'pin the log key and name the parties of the keys (default $ATTEST_POLICY)')
    .option('--tlog-policy <file>', 'the log key and witness quorum from a C2SP tlog-policy file')
    .addOption(stateDir())
    .addOption(timeout())
    .addOption(json())
    .addHelpText('after', `\n${TRUST_HELP}\n`)
    .action((opts) =>
      run(import('./commands/lookup.js').then((m) => m.lookupCommand(io, withEnvDefaults(io, opts, false)))),
    )

  const receipt = program.command('receipt').description('Work with receipts.')
  receipt
    .command('verify')
    .description('Verify a receipt offline (Sigstore bundle or C2SP tlog-proof). Exit 0 valid, 1 invalid.')
    .argument('<file>', 'the receipt')
    .option('--log-key <key>', 'the log verifier key (the key string or a file holding it)')
    .option(
      '--policy <file>',
      'take the log key and witness quorum from a trust policy (default $ATTEST_POLICY)',
    )
    .option('--tlog-policy <file>', 'the log key and witness quorum from a C2SP tlog-policy file')
    .option('--public-key <pem-file|keyid>', 'the entry must be signed by this key')
    .option('--leaf <file>', 'the log entry, for a tlog-proof that does not carry it')
    .addOption(json())
    .action((file: string, opts) =>
      run(
        import('./commands/receipt-verify.js').then((m) =>
          m.receiptVerifyCommand(io, file, withPolicyDefault(io, opts)),
        ),
      ),
    )

  const log = program.command('log').description('Work with a log.')
  log
    .command('info')
    .description("Show a log's origin, key and verified checkpoint (consistent with the stored one).")
    .option('--log <url>', 'log base URL (default $ATTEST_LOG)')
    .option('--log-key <key>', 'pin the log verifier key')
    .option('--policy <file>', 'pin the log key from a trust policy (default $ATTEST_POLICY)')
    .option('--tlog-policy <file>', 'the log key and witness quorum from a C2SP tlog-policy file')
    .addOption(stateDir())
    .addOption(timeout())
    .addOption(json())
    .addHelpText('after', `\n${TRUST_HELP}\n`)
    .action((opts) =>
      run(
        import('./commands/log-info.js').then((m) => m.logInfoCommand(io, withEnvDefaults(io, opts, false))),
      ),
    )

  const stateGroup = program.command('state').description('Work with what this machine remembers of logs.')
  stateGroup
    .command('forget')
    .description(
      'Forget the checkpoint kept for a log (origin), on purpose: for a log you know started over. The file is kept, renamed.',
    )
    .argument('<origin>', "the log's origin, as the error message names it")
    .addOption(stateDir())
    .addOption(json())
    .action((origin: string, opts) =>
      run(import('./commands/state-forget.js').then((m) => m.stateForgetCommand(io, origin, opts))),
    )

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

/** Commander's parse errors, as the codes of CliErrorCode. */
const COMMANDER_CODES: Readonly<Record<string, CliErrorCode>> = {
  'commander.missingMandatoryOptionValue': 'MISSING_OPTION',
  'commander.optionMissingArgument': 'MISSING_OPTION',
  'commander.missingArgument': 'MISSING_OPTION',
  'commander.unknownOption': 'UNKNOWN_OPTION',
  'commander.unknownCommand': 'UNKNOWN_COMMAND',
  'commander.excessArguments': 'INVALID_ARGUMENT',
  'commander.invalidArgument': 'INVALID_ARGUMENT',
  'commander.conflictingOption': 'INVALID_ARGUMENT',
}

/** `main` for every command line: commander parses it. Never throws. */
export async function runProgram(argv: readonly string[], io: Io): Promise<ExitCode> {
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
      // Commander printed its message on stderr; under --json the error object goes to stdout too.
      // (`attest` alone: help goes to stderr with code 'commander.help'.)
      if (wantsJSON) {
        const message = err.message.replace(/^error: /, '')
        io.stdout.write(
          toJSON({ error: { code: COMMANDER_CODES[err.code] ?? 'USAGE', message }, exitCode: EXIT.USAGE }),
        )
      }
      return EXIT.USAGE
    }
    return reportError(err, io, wantsJSON)
  }
}
