// A strict parser of the Prometheus text exposition format (version 0.0.4), for tests that scrape
// /metrics: every line must be a HELP, a TYPE, or a sample of a family declared before it, with a valid
// name, well-formed labels and a number. It throws on anything else, so a malformed exposition fails the
// test instead of being read around.

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface MetricFamily {
  name: string
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'
  help: string
  samples: Sample[]
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
const SUFFIXES: Record<string, readonly string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
}

function fail(line: number, message: string): never {
  throw new Error(`metrics line ${line}: ${message}`)
}

/**
 * A sample value as Prometheus reads it (Go's strconv.ParseFloat): decimal floats, and NaN and Inf in any
 * case (prom-client writes NaN as `Nan`, which Prometheus accepts).
 */
function parseValue(text: string, line: number): number {
  const lower = text.toLowerCase()
  if (lower === '+inf' || lower === 'inf') return Infinity
  if (lower === '-inf') return -Infinity
  if (lower === 'nan') return NaN
  if (!/^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/.test(text))
    fail(line, `bad value ${text}`)
  return Number(text)
}

/** Parses `{a="x",b="y"}` starting at `text[0] === '{'`; returns the labels and the rest after `}`. */
function parseLabels(text: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {}
  let i = 1
  while (true) {
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) }
    const eq = text.indexOf('=', i)
    if (eq < 0) fail(line, 'label without =')
    const name = text.slice(i, eq)
    if (!LABEL_NAME.test(name)) fail(line, `bad label name ${JSON.stringify(name)}`)
    if (name in labels) fail(line, `label ${name} twice`)
    if (text[eq + 1] !== '"') fail(line, 'label value not quoted')
    let value = ''
    let j = eq + 2
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j]
        if (next === 'n') value += '\n'
        else if (next === '\\' || next === '"') value += next
        else fail(line, `bad escape \\${next}`)
      } else value += text[j]
    }
    if (j >= text.length) fail(line, 'unterminated label value')
    labels[name] = value
    i = j + 1
    if (text[i] === ',') i++
    else if (text[i] !== '}') fail(line, 'expected , or } after a label')
  }
}

/** Parses a whole exposition; families by name. Throws on any line that breaks the format. */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>()
  const lines = text.split('\n')
  if (lines.at(-1) !== '') throw new Error('metrics: the exposition does not end with a newline')
  lines.pop()
  lines.forEach((raw, n) => {
    const line = n + 1
    if (raw === '') return
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw)
      if (m === null) {
        if (raw.startsWith('# HELP') || raw.startsWith('# TYPE')) fail(line, 'malformed comment')
        return
      }
      const [, kind, name, rest] = m as unknown as [string, string, string, string]
      if (!NAME.test(name)) fail(line, `bad metric name ${name}`)
      let family = families.get(name)
      if (family === undefined) {
        family = { name, type: 'untyped', help: '', samples: [] }
        families.set(name, family)
      } else if (family.samples.length > 0) fail(line, `${kind} for ${name} after its samples`)
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) fail(line, `bad type ${rest}`)
        family.type = rest as MetricFamily['type']
      } else family.help = rest
      return
    }
    const nameEnd = raw.search(/[{ ]/)
    if (nameEnd <= 0) fail(line, 'sample without a value')
    const name = raw.slice(0, nameEnd)
    if (!NAME.test(name)) fail(line, `bad metric name ${name}`)
    let rest = raw.slice(nameEnd)
    let labels: Record<string, string> = {}
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line))
    const parts = rest.trim().split(' ')
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2)
      fail(line, 'expected value [timestamp]')
    const value = parseValue(parts[0]!, line)
    if (parts[1] !== undefined && !/^-?[0-9]+$/.test(parts[1])) fail(line, 'bad timestamp')
    // The sample belongs to the declared family whose name, plus a suffix its type allows, is this name.
    const family = [...families.values()].find((f) =>
      SUFFIXES[f.type]!.some((suffix) => f.name + suffix === name),
    )
    if (family === undefined) fail(line, `sample ${name} of no declared family`)
    if (family.type === 'histogram' && name.endsWith('_bucket') && labels.le === undefined)
      fail(line, 'histogram bucket without le')
    family.samples.push({ name, labels, value })
  })
  return families
}

/** The value of the one sample `name` whose labels include `labels`; throws when there is not exactly one. */
export function sampleValue(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const matches = [...families.values()]
    .flatMap((f) => f.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (matches.length !== 1) throw new Error(`${matches.length} samples ${name} ${JSON.stringify(labels)}`)
  return matches[0]!.value
}
