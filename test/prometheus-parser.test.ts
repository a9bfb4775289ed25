// The test-side Prometheus text parser is strict: what it accepts, and what it refuses.
import { describe, expect, it } from 'vitest'
import { parsePrometheusText, sampleValue } from './support/prometheus.js'

const GOOD = `# HELP a_total Things.
# TYPE a_total counter
a_total{code="X",path="a\\"b\\\\c\\nd"} 3
a_total{code="Y"} 4 1700000000000
# TYPE h histogram
h_bucket{le="1"} 1
h_bucket{le="+Inf"} 2
h_sum 1.5e0
h_count 2
# TYPE g gauge
g Nan
`

describe('parsePrometheusText', () => {
  it('reads families, labels with escapes, histograms and NaN', () => {
    const m = parsePrometheusText(GOOD)
    expect(sampleValue(m, 'a_total', { code: 'Y' })).toBe(4)
    expect(m.get('a_total')!.samples[0]!.labels.path).toBe('a"b\\c\nd')
    expect(sampleValue(m, 'h_bucket', { le: '+Inf' })).toBe(2)
    expect(sampleValue(m, 'h_sum')).toBe(1.5)
    expect(Number.isNaN(sampleValue(m, 'g'))).toBe(true)
    expect(m.get('a_total')!.help).toBe('Things.')
  })

  it.each([
    ['no final newline', '# TYPE g gauge\ng 1'],
    ['an undeclared family', 'g 1\n'],
    ['a bad value', '# TYPE g gauge\ng one\n'],
    ['an unquoted label', '# TYPE g gauge\ng{a=b} 1\n'],
    ['a label twice', '# TYPE g gauge\ng{a="1",a="2"} 1\n'],
    ['a bad escape', '# TYPE g gauge\ng{a="\\x"} 1\n'],
    ['a bucket without le', '# TYPE h histogram\nh_bucket 1\n'],
    ['a suffix the type does not have', '# TYPE g gauge\ng_sum 1\n'],
    ['a bad type', '# TYPE g gaug\n'],
    ['TYPE after samples', '# TYPE g gauge\ng 1\n# TYPE g gauge\n'],
  ])('refuses %s', (_what, text) => {
    expect(() => parsePrometheusText(text)).toThrow()
  })
})
