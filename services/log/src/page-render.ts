// The log's pages for people, as pure functions from what the log knows to HTML and SVG. Everything that
// came from a statement (names, URIs, builder ids, times) is attacker-controlled: it is only ever written
// through `escape`, never as a link or an attribute other than text. No scripts, no external assets.

/** Escapes text for HTML and XML text and double-quoted attribute values. */
export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** One entry of the log, as shown: from its leaf and statement. */
export interface ShownEntry {
  index: number
  keyId: string
  builderId: string
  repository: string
  commit: string
  /** The statement's own claim (runDetails.metadata finishedOn, else startedOn); the log keeps no time. */
  time: string | undefined
  /** Each subject with its digests (algorithm to lowercase hex). */
  subjects: { name: string; digest: Partial<Record<string, string>> }[]
}

export interface WitnessShown {
  name: string
  /** The newest cosignature on the served checkpoint, POSIX seconds; undefined when it carries none. */
  cosignedAt: number | undefined
}

export interface StatusView {
  origin: string
  verifierKey: string
  treeSize: number
  /** When this process first saw the served checkpoint (ms since the epoch). */
  checkpointSeenAt: number
  now: number
  witnesses: WitnessShown[]
  quorum: number
  latest: ShownEntry[]
}

export interface DigestView {
  origin: string
  verifierKey: string
  /** The log's URL as the reader reached it (checked), for the command; undefined: a placeholder. */
  logUrl: string | undefined
  digest: string
  treeSize: number
  /** Entries naming the digest (the first `entries.length` of `total`). */
  entries: ShownEntry[]
  total: number
  /** Entries for the same commit and subject name with another digest. */
  conflicts: { entry: ShownEntry; name: string; otherDigest: string }[]
}

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:64rem;padding:0 1rem;color:#111}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}code,pre{font:13px ui-monospace,monospace;word-break:break-all}
pre{background:#f4f4f4;padding:.75rem;white-space:pre-wrap}table{border-collapse:collapse;width:100%}
th,td{text-align:left;border-bottom:1px solid #ddd;padding:.3rem .4rem;vertical-align:top}
.conflict{background:#fde8e8;border:2px solid #c00;padding:.5rem 1rem}.muted{color:#666}
input[type=text]{width:36rem;max-width:100%}code.key{display:block;width:16ch}`

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title><style>${STYLE}</style></head>
<body>
${body}
</body></html>
`
}

function ago(seconds: number): string {
  if (seconds < 0) return 'in the future'
  if (seconds < 120) return `${Math.floor(seconds)} s ago`
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min ago`
  if (seconds < 172800) return `${Math.floor(seconds / 3600)} h ago`
  return `${Math.floor(seconds / 86400)} days ago`
}

function searchForm(value = ''): string {
  return `<form method="get" action="/ui/digest" role="search">
<label for="digest">Artifact digest</label>
<input type="text" id="digest" name="digest" placeholder="sha256:&lt;hex&gt; (or sha384, sha512, blake2b)" value="${escape(value)}" required>
<button type="submit">Look up</button>
</form>`
}

function entryRows(entries: readonly ShownEntry[], highlight?: string): string {
  if (entries.length === 0) return '<p class="muted">None.</p>'
  const rows = entries.map((e) => {
    const subjects = e.subjects
      .flatMap((s) =>
        Object.entries(s.digest).map(([algorithm, hex]) => {
          const digest = `${algorithm}:${hex}`
          const text = `${escape(s.name)} <code>${escape(digest)}</code>`
          return digest === highlight
            ? `<strong>${text}</strong>`
            : `<a href="/ui/digest/${escape(digest)}">${text}</a>`
        }),
      )
      .join('<br>')
    return `<tr><td>${e.index}</td><td><code class="key">${escape(e.keyId)}</code></td><td>${escape(e.builderId)}</td>
<td>${escape(e.repository)}<br><code>${escape(e.commit)}</code></td><td>${subjects}</td><td>${e.time === undefined ? '<span class="muted">not stated</span>' : escape(e.time)}</td></tr>`
  })
  return `<table><thead><tr><th>index</th><th>key id</th><th>builder</th><th>source</th><th>artifacts</th><th>time (claimed)</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>`
}

/** GET /: what the log is, its key, its size, its witnesses, its latest entries, and a search box. */
export function renderStatus(view: StatusView): string {
  const witnesses =
    view.witnesses.length === 0
      ? '<p>No witnesses are configured: readers get the checkpoint the log alone signed.</p>'
      : `<p>Checkpoints are served once ${view.quorum} of ${view.witnesses.length} witness(es) cosigned them.</p>
<table><thead><tr><th>witness</th><th>latest cosignature on the served checkpoint</th></tr></thead><tbody>
${view.witnesses
  .map(
    (w) =>
      `<tr><td>${escape(w.name)}</td><td>${
        w.cosignedAt === undefined
          ? '<span class="muted">none</span>'
          : `${escape(new Date(w.cosignedAt * 1000).toISOString())} (${ago(view.now / 1000 - w.cosignedAt)})`
      }</td></tr>`,
  )
  .join('\n')}
</tbody></table>`
  return page(
    `${view.origin}: rebuild attestation log`,
    `<h1>${escape(view.origin)}</h1>
<p>A transparency log of reproducible-build attestations: rebuilders sign statements that a source commit
rebuilt to an artifact digest, and this log keeps them, append-only, with proofs anyone can check.
Do not trust this page: check with <code>attest verify</code>.</p>
${searchForm()}
<h2>Log</h2>
<table><tbody>
<tr><th>origin</th><td><code>${escape(view.origin)}</code></td></tr>
<tr><th>verifier key</th><td><code id="verifier-key">${escape(view.verifierKey)}</code></td></tr>
<tr><th>tree size</th><td id="tree-size">${view.treeSize}</td></tr>
<tr><th>latest checkpoint</th><td>first seen by this server ${ago((view.now - view.checkpointSeenAt) / 1000)} (${escape(new Date(view.checkpointSeenAt).toISOString())})</td></tr>
</tbody></table>
<h2>Witnesses</h2>
${witnesses}
<h2>Latest entries</h2>
${entryRows(view.latest)}`,
  )
}

/** The `attest verify` command that checks a digest without trusting this page. */
export function verifyCommand(view: Pick<DigestView, 'logUrl' | 'digest'>, commit?: string): string {
  return `attest verify --log ${view.logUrl ?? '<log URL>'} --policy policy.json --digest ${view.digest}${
    commit === undefined ? '' : ` --commit ${commit}`
  }`
}

/** GET /ui/digest/<alg>:<hex>: conflicts first, then every entry naming the digest, then how to check. */
export function renderDigest(view: DigestView): string {
  const keys = new Set(view.entries.map((e) => e.keyId)).size
  const conflicts =
    view.conflicts.length === 0
      ? ''
      : `<section class="conflict" id="conflicts"><h2>Conflicts</h2>
<p>${view.conflicts.length} entr${view.conflicts.length === 1 ? 'y names' : 'ies name'} another digest for the same source commit and artifact name:</p>
<table><thead><tr><th>index</th><th>key id</th><th>artifact</th><th>other digest</th><th>source commit</th></tr></thead><tbody>
${view.conflicts
  .map(
    (c) =>
      `<tr><td>${c.entry.index}</td><td><code>${escape(c.entry.keyId)}</code></td><td>${escape(c.name)}</td><td><code>${escape(c.otherDigest)}</code></td><td><code>${escape(c.entry.commit)}</code></td></tr>`,
  )
  .join('\n')}
</tbody></table></section>`
  const commits = [...new Set(view.entries.map((e) => e.commit))]
  const policy = JSON.stringify(
    {
      log: { origin: view.origin, verifierKey: view.verifierKey },
      parties: [{ name: '<a rebuilder you trust>', keys: ['<its key id>'] }],
      threshold: 1,
    },
    null,
    2,
  )
  return page(
    `${view.digest} in ${view.origin}`,
    `<p><a href="/">${escape(view.origin)}</a></p>
<h1>Artifact <code>${escape(view.digest)}</code></h1>
${searchForm(view.digest)}
${conflicts}
<h2>Entries</h2>
<p id="summary">${view.total} entr${view.total === 1 ? 'y' : 'ies'} in the tree of size ${view.treeSize} name this digest, by ${keys} distinct key${keys === 1 ? '' : 's'}${
      view.total > view.entries.length ? ` (the first ${view.entries.length} are shown)` : ''
    }. Keys are not parties: anyone can make a key, and this page knows no trust policy.</p>
${entryRows(view.entries, view.digest)}
<h2>Check it yourself</h2>
<p>This page is a convenience. Write a trust policy naming the rebuilders you trust, then ask the log
with a client that verifies every proof:</p>
<pre id="policy">${escape(policy)}</pre>
<pre id="verify-command">${escape(verifyCommand(view))}</pre>
${commits.length === 1 ? `<p>For this source commit only:</p><pre>${escape(verifyCommand(view, commits[0]))}</pre>` : ''}`,
  )
}

/** The page for a digest that is not one (bad form or algorithm). */
export function renderBadDigest(message: string): string {
  return page(
    'Not a digest',
    `<p><a href="/">back</a></p><h1>Not a digest</h1><p>${escape(message)}</p>${searchForm()}`,
  )
}

/** GET /badge/<digest>.svg: how many distinct keys logged a rebuild of the digest, and any conflict. */
export function renderBadge(keys: number, conflicts: number): string {
  const label = 'rebuilt by'
  const message =
    conflicts > 0
      ? `${keys} key${keys === 1 ? '' : 's'}, ${conflicts} conflict${conflicts === 1 ? '' : 's'}`
      : `${keys} distinct key${keys === 1 ? '' : 's'}`
  const color = conflicts > 0 ? '#c00' : keys === 0 ? '#9f9f9f' : '#2a7d2e'
  // Width from the character count: a badge needs no font metrics to be readable.
  const lw = 10 + label.length * 7
  const mw = 10 + message.length * 7
  const title = `${label} ${message} (keys, not parties: the log knows no trust policy)`
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${lw + mw}" height="20" role="img" aria-label="${escape(title)}">
<title>${escape(title)}</title>
<rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${mw}" height="20" fill="${color}"/>
<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">
<text x="5" y="14">${escape(label)}</text><text x="${lw + 5}" y="14">${escape(message)}</text>
</g></svg>
`
}
