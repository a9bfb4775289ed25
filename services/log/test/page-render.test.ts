import { describe, expect, it } from 'vitest'
import { escape, renderBadge, renderDigest, verifyCommand } from '../src/page-render.js'

describe('page rendering', () => {
  it('escapes every character that could open markup or leave an attribute', () => {
    expect(escape(`<a href="x" onclick='y'>&</a>`)).toBe(
      '&#60;a href=&#34;x&#34; onclick=&#39;y&#39;&#62;&#38;&#60;/a&#62;',
    )
  })

  it('words the badge as keys, never parties, and flags conflicts', () => {
    expect(renderBadge(1, 0)).toContain('>1 distinct key<')
    expect(renderBadge(2, 1)).toContain('>2 keys, 1 conflict<')
    expect(renderBadge(0, 0)).toContain('keys, not parties')
  })

  it('gives the verify command with a placeholder when the host is unknown', () => {
    expect(verifyCommand({ logUrl: undefined, digest: 'sha256:' + 'a'.repeat(64) })).toBe(
      `attest verify --log <log URL> --policy policy.json --digest sha256:${'a'.repeat(64)}`,
    )
  })

  it('escapes the command and every statement string on the digest page', () => {
    const html = renderDigest({
      origin: 'o<',
      verifierKey: 'k',
      logUrl: undefined,
      digest: 'sha256:' + 'a'.repeat(64),
      treeSize: 1,
      total: 1,
      conflicts: [],
      entries: [
        {
          index: 0,
          keyId: 'b'.repeat(64),
          builderId: '"><script>',
          repository: '<i>',
          commit: 'c'.repeat(40),
          time: '<t>',
          subjects: [{ name: '<s>', digest: { sha256: 'a'.repeat(64) } }],
        },
      ],
    })
    expect(html).not.toMatch(/<script|<i>|<t>|<s>|o</)
    expect(html).toContain('&#60;log URL&#62;')
  })
})
