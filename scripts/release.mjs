// `npm run release`: the packages people install, as npm tarballs in release/, and release/SHA256SUMS.
// Deterministic: npm pack writes entries in a fixed order with a fixed time (1985-10-26) and normalised
// modes and owners; tsc's output depends on the sources only. So a rebuild from the same commit, in
// another folder, at another time, with another umask or time zone, gives the same bytes (checked by
// test/release.test.ts), and anyone can compare their rebuild with the published sums.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** In dependency order; the CLI needs all the others. */
export const RELEASED = [
  'schemas',
  'packages/tlog',
  'packages/vindex',
  'packages/durable-file',
  'packages/service',
  'packages/attestation',
  'packages/client',
  'packages/monitor',
  'packages/cli',
]

const root = new URL('..', import.meta.url).pathname

/**
 * npm pack keeps each file's permission bits, which follow the umask of whoever checked out and built:
 * files become 0644 and folders 0755 (0755 for the package's bins), whatever the umask was.
 */
function normaliseModes(folder, bins) {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue
    const path = join(folder, entry.name)
    if (entry.isDirectory()) {
      chmodSync(path, 0o755)
      normaliseModes(path, bins)
    } else if (entry.isFile()) chmodSync(path, bins.has(path) ? 0o755 : 0o644)
  }
}
const out = join(root, 'release')
rmSync(out, { recursive: true, force: true })
mkdirSync(out)
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const files = []
for (const workspace of RELEASED) {
  const folder = join(root, workspace)
  const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'))
  const bins = new Set(Object.values(manifest.bin ?? {}).map((bin) => join(folder, bin)))
  chmodSync(folder, 0o755)
  normaliseModes(folder, bins)
  if (!statSync(folder).isDirectory()) throw new Error(`${workspace} is not a folder`)
  const packed = JSON.parse(
    execFileSync(npm, ['pack', '--json', '--workspace', workspace, '--pack-destination', out], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  )
  files.push(packed[0].filename)
}
const sums = files
  .sort()
  .map(
    (file) =>
      `${createHash('sha256')
        .update(readFileSync(join(out, file)))
        .digest('hex')}  ${file}\n`,
  )
  .join('')
writeFileSync(join(out, 'SHA256SUMS'), sums)
process.stdout.write(sums)
process.stderr.write(`release: ${files.length} packages and SHA256SUMS in ${out}\n`)
