// `attest verify`'s command line, parsed without commander: the installer's gate runs once per install,
// and loading and wiring commander for every command was a tenth of its run (docs/design/fast-cli.md).
// main.ts runs a verify this parser accepts; anything else (help, an unknown or malformed option, an
// argument, `--`) goes to commander, which prints its usual help and errors.

/** How one long option of `attest verify` takes its value. */
export interface VerifyFlagSpec {
  /** `--name VALUE` or `--name=VALUE`; else a boolean flag (`--name`). */
  readonly takesValue: boolean
  /** Every value is kept, in order (commander's `collect`); else the last one given wins. */
  readonly repeatable?: boolean
}

const VALUE: VerifyFlagSpec = { takesValue: true }
const FLAG: VerifyFlagSpec = { takesValue: false }

/**
 * The options of `attest verify`, by long name. program.ts declares the same options to commander, with
 * their help; packages/cli/test/verify-flags.test.ts fails when the two differ.
 */
export const VERIFY_FLAGS: Readonly<Record<string, VerifyFlagSpec>> = {
  '--log': VALUE,
  '--policy': VALUE,
  '--tlog-policy': VALUE,
  '--artifact': VALUE,
  '--digest': VALUE,
  '--lockfile': { takesValue: true, repeatable: true },
  '--commit': VALUE,
  '--threshold': VALUE,
  '--chain': FLAG,
  '--depth': VALUE,
  '--dot': FLAG,
  '--state': VALUE,
  '--timeout': VALUE,
  '--json': FLAG,
}

/** What commander's `opts()` holds for these options: camelCase names, only the options given. */
export type VerifyFlags = Record<string, string | string[] | true>

/**
 * The options of `attest verify ...` exactly as commander would parse them, or undefined when `argv` is
 * not `verify` followed only by options of VERIFY_FLAGS (each value present): then commander must parse
 * it (help, errors). As in commander, an option's value is the next argument whatever it looks like, or
 * follows `=`; a repeated option keeps its last value unless it is repeatable. Pure.
 */
export function parseVerifyFlags(argv: readonly string[]): VerifyFlags | undefined {
  // The program's own `--version` is seen anywhere on the line, even where verify expects a value.
  if (argv[0] !== 'verify' || argv.includes('--version')) return undefined
  const opts: VerifyFlags = {}
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!
    // Commander's `--name=value`: `--`, at least one character that is not `=`, then `=`.
    const eq = arg.startsWith('--') ? arg.indexOf('=', 3) : -1
    const name = eq === -1 ? arg : arg.slice(0, eq)
    const spec = Object.hasOwn(VERIFY_FLAGS, name) ? VERIFY_FLAGS[name] : undefined
    if (spec === undefined) return undefined
    let value: string | true
    if (!spec.takesValue) {
      if (eq !== -1) return undefined
      value = true
    } else if (eq !== -1) {
      value = arg.slice(eq + 1)
    } else {
      if (i + 1 >= argv.length) return undefined
      value = argv[++i]!
    }
    const key = name.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
    const previous = opts[key]
    opts[key] =
      spec.repeatable === true ? [...((previous as string[] | undefined) ?? []), value as string] : value
  }
  return opts
}
