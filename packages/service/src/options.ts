// Options from flags and environment variables, the same way for every service: a table of options, a flag
// wins over its variable, and every value is checked. Pure but for path.resolve (the working directory).
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'

export type OptionKind = 'string' | 'int' | 'path' | 'url' | 'bool' | 'list'

export interface OptionSpec {
  /** `--flag`. */
  flag: string
  /** The environment variable read when the flag is absent. */
  env: string
  /** The configuration field it sets (the service assigns it). */
  key: string
  kind: OptionKind
  help: string
  /** int: the allowed range. */
  min?: number
  max?: number
  /** list: what every item must match. */
  item?: RegExp
  /** list: how the variable separates items: commas (items trimmed, the default) or whitespace. */
  separator?: 'comma' | 'whitespace'
  /** The placeholder after the flag in the help text, when not the kind's. */
  arg?: string
}

/** A flag or variable that is unknown or has a bad value; each service raises it as its own error. */
export class OptionError extends Error {
  override name = 'OptionError'
}

/** A value given, and where: `--flag` or `$ENV` (for messages). */
export interface GivenOption {
  value: string | number | boolean | string[]
  source: string
}

export type ParsedOptions = { help: true } | { help: false; given: Map<string, GivenOption> }

const WHOLE_NUMBER = /^(?:0|[1-9][0-9]{0,9})$/

/**
 * Reads `args` and `env` against `specs`. Returns the options given (by key), or that `--help` was asked.
 * An empty variable counts as absent; an empty flag value is refused. A list given by flag (repeated) wins
 * over its variable; a bool flag is true, a bool variable 1, true, 0 or false. Throws `invalid(message)`:
 * each service raises its own typed error (OptionError by default).
 */
export function parseOptions(
  specs: readonly OptionSpec[],
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  invalid: (message: string) => Error = (message) => new OptionError(message),
): ParsedOptions {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>
  try {
    ;({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(
          specs.map((o) => [
            o.flag,
            o.kind === 'bool'
              ? { type: 'boolean' as const }
              : { type: 'string' as const, multiple: o.kind === 'list' },
          ]),
        ),
      },
    }))
  } catch (err) {
    throw invalid((err as Error).message)
  }
  if (values.help === true) return { help: true }
  const given = new Map<string, GivenOption>()
  for (const o of specs) {
    const fromFlag = values[o.flag]
    if (o.kind === 'bool') {
      const raw = env[o.env]
      if (fromFlag === true) given.set(o.key, { value: true, source: `--${o.flag}` })
      else if (raw !== undefined && raw !== '') {
        if (raw !== '1' && raw !== 'true' && raw !== '0' && raw !== 'false') {
          throw invalid(`$${o.env}: expected 1, true, 0 or false`)
        }
        given.set(o.key, { value: raw === '1' || raw === 'true', source: `$${o.env}` })
      }
      continue
    }
    if (o.kind === 'list') {
      const raw = env[o.env]
      const items = Array.isArray(fromFlag)
        ? (fromFlag as string[])
        : !raw
          ? []
          : o.separator === 'whitespace'
            ? raw.split(/\s+/).filter((item) => item !== '')
            : raw.split(',').map((item) => item.trim())
      for (const item of items) {
        if (o.item !== undefined && !o.item.test(item)) {
          throw invalid(`--${o.flag}: ${JSON.stringify(item)} is not ${o.item.source}`)
        }
      }
      given.set(o.key, { value: items, source: Array.isArray(fromFlag) ? `--${o.flag}` : `$${o.env}` })
      continue
    }
    const raw = typeof fromFlag === 'string' ? fromFlag : env[o.env]
    if (raw === undefined || (fromFlag === undefined && raw === '')) continue
    const source = typeof fromFlag === 'string' ? `--${o.flag}` : `$${o.env}`
    if (raw === '') throw invalid(`${source}: empty value`)
    if (o.kind === 'int') {
      if (!WHOLE_NUMBER.test(raw)) throw invalid(`${source}: not a whole number: ${raw}`)
      const n = Number(raw)
      if ((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
        throw invalid(`${source}: ${raw} is outside ${o.min}..${o.max}`)
      }
      given.set(o.key, { value: n, source })
    } else if (o.kind === 'url') {
      let url: URL
      try {
        url = new URL(raw)
      } catch {
        throw invalid(`${source}: not a URL: ${raw}`)
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw invalid(`${source}: not an http(s) URL`)
      }
      given.set(o.key, { value: raw.replace(/\/+$/, ''), source })
    } else {
      given.set(o.key, { value: o.kind === 'path' ? resolve(raw) : raw, source })
    }
  }
  return { help: false, given }
}

const PLACEHOLDER: Readonly<Record<OptionKind, string>> = {
  int: ' N',
  path: ' PATH',
  url: ' URL',
  list: ' VALUE',
  string: ' VALUE',
  bool: '',
}

/** The `--help` text: `header` lines, then each option (flag and placeholder padded to `width`). */
export function optionsHelp(header: readonly string[], specs: readonly OptionSpec[], width: number): string {
  const lines = [...header, '', 'Options:']
  for (const o of specs) {
    lines.push(`  --${(o.flag + (o.arg ?? PLACEHOLDER[o.kind])).padEnd(width)} ${o.help}  [$${o.env}]`)
  }
  lines.push(`  ${'--help'.padEnd(width + 2)} print this text`)
  return lines.join('\n') + '\n'
}
