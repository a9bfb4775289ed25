// The pages for people, in a real browser: Debian's Chromium, headless, driven by playwright-core, on a
// real log with a witness, an honest agreement, a conflict, and a statement whose strings try to inject
// markup and script. Checks what is shown, that nothing injected exists, and keeps screenshots in
// test-artifacts/ (gitignored).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildStatement,
  generateKeyPair,
  signStatement,
  type BuildStatementInput,
  type GeneratedKeyPair,
} from '@ledger/attestation'
import { defaultConfig as logDefaults, startLogServer, type RunningLog } from '@ledger/log-server'
import { defaultConfig as witnessDefaults, startWitness, type RunningWitness } from '@ledger/witness'

const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts')
const ORIGIN = 'status.example/log'
const COMMIT = '5e'.repeat(20)
const DIGEST_HEX = 'd1'.repeat(32)
const DIGEST = `sha256:${DIGEST_HEX}`
const OTHER_HEX = '0b'.repeat(32)
const REPO = 'git+https://github.com/example/app'
// Strings that would become elements, or run, if the page wrote them as markup.
const HOSTILE_NAME = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><b id="injected-name">x</b>`
const HOSTILE_BUILDER = `https://evil.example/"><b/id="injected-builder">x</b><script>window.__pwned=3</script>`
const HOSTILE_REPO = `git+https://evil.example/'><i/id="injected-repo">x</i>`

let dir: string
let log: RunningLog
let witness: RunningWitness
let browser: Browser
const keys: Record<'alice' | 'bob' | 'mallory' | 'hostile', GeneratedKeyPair> = {
  alice: generateKeyPair('ecdsa-p256'),
  bob: generateKeyPair('ed25519'),
  mallory: generateKeyPair('ecdsa-p256'),
  hostile: generateKeyPair('ecdsa-p256'),
}
const keyIds: Record<string, string> = {}

async function submit(who: keyof typeof keys, input: BuildStatementInput): Promise<void> {
  const bundle = await signStatement(buildStatement(input), keys[who].privateKeyPem)
  const res = await fetch(`${log.url}/api/v1/entries`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ bundle, publicKey: keys[who].publicKeyPem }),
  })
  expect(res.status).toBe(201)
  const receipt = (await res.json()) as { verificationMaterial: { publicKey: { hint: string } } }
  keyIds[who] = receipt.verificationMaterial.publicKey.hint
}

/** Nothing a statement carried became an element or ran. */
async function expectNothingInjected(page: Page): Promise<void> {
  // Run in the page (a string: this project's TypeScript has no DOM types).
  const found: unknown = await page.evaluate(`({
    scripts: document.scripts.length,
    images: document.images.length,
    injected: ['injected-name', 'injected-builder', 'injected-repo'].filter((id) => document.getElementById(id)),
    pwned: window.__pwned ?? null,
  })`)
  expect(found).toEqual({ scripts: 0, images: 0, injected: [], pwned: null })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'status-page-'))
  await mkdir(ARTIFACTS, { recursive: true })
  const logConfig = { ...logDefaults(), dataDir: join(dir, 'log'), port: 0, origin: ORIGIN, verifyWorkers: 0 }
  const first = await startLogServer(logConfig)
  await first.close()
  await writeFile(join(dir, 'logs.policy'), `log ${first.verifierKey}\n`)
  witness = await startWitness({
    ...witnessDefaults(),
    dataDir: join(dir, 'witness'),
    port: 0,
    logsFile: join(dir, 'logs.policy'),
  })
  log = await startLogServer({
    ...logConfig,
    witnesses: [{ url: witness.url, verifierKey: witness.verifierKey }],
    witnessTimeoutMs: 60_000,
    receiptWitnessWaitMs: 60_000,
  })
  const source = { uri: REPO, commit: COMMIT }
  const app = [{ name: 'app-1.0.tar.gz', sha256: DIGEST_HEX }]
  await submit('alice', {
    artifacts: app,
    source,
    builderId: 'https://alice.example/rebuilder',
    metadata: { finishedOn: '2026-12-01T10:00:00Z' },
  })
  await submit('bob', { artifacts: app, source, builderId: 'https://bob.example/rebuilder' })
  // Same commit, same artifact name, another digest: a conflict.
  await submit('mallory', {
    artifacts: [{ name: 'app-1.0.tar.gz', sha256: OTHER_HEX }],
    source,
    builderId: 'https://mallory.example/rebuilder',
  })
  await submit('hostile', {
    artifacts: [{ name: HOSTILE_NAME, sha256: DIGEST_HEX }],
    source: { uri: HOSTILE_REPO, commit: 'ee'.repeat(20) },
    builderId: HOSTILE_BUILDER,
  })
  // receiptWitnessWaitMs: each receipt waited for its cosigned checkpoint, so all four are served now.
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
})

afterAll(async () => {
  await browser?.close()
  await log?.close()
  await witness?.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('the status pages in a browser', () => {
  it('GET / shows the log, its key, size, witness and latest entries, with hostile strings as text', async () => {
    const page = await browser.newPage()
    const res = await page.goto(`${log.url}/`)
    expect(res!.status()).toBe(200)
    expect(res!.headers()['content-security-policy']).toContain("default-src 'none'")
    expect(await page.locator('h1').textContent()).toBe(ORIGIN)
    expect(await page.locator('#verifier-key').textContent()).toBe(log.verifierKey)
    expect(await page.locator('#tree-size').textContent()).toBe('4')
    const text = (await page.locator('body').textContent())!
    expect(text).toContain(witness.name)
    expect(text).toContain('Checkpoints are served once 1 of 1 witness(es) cosigned them.')
    // The latest entries, newest first, the hostile one's strings shown exactly as they were signed.
    const rows = page.locator('tbody tr td:first-child')
    expect(await rows.allTextContents()).toContain('3')
    expect(text).toContain(HOSTILE_NAME)
    expect(text).toContain(HOSTILE_BUILDER)
    expect(text).toContain(HOSTILE_REPO)
    await expectNothingInjected(page)
    await page.screenshot({ path: join(ARTIFACTS, 'status-home.png'), fullPage: true })

    // The search box leads to the digest's page.
    await page.fill('#digest', DIGEST)
    await Promise.all([page.waitForURL(`${log.url}/ui/digest/${DIGEST}`), page.click('button[type=submit]')])
    expect(await page.locator('h1').textContent()).toBe(`Artifact ${DIGEST}`)
    await page.close()
  })

  it('GET /ui/digest/... shows the conflict first, every entry, and the exact attest verify command', async () => {
    const page = await browser.newPage()
    const res = await page.goto(`${log.url}/ui/digest/${DIGEST}`)
    expect(res!.status()).toBe(200)
    const conflicts = page.locator('#conflicts')
    expect(await conflicts.count()).toBe(1)
    const conflictText = (await conflicts.textContent())!
    expect(conflictText).toContain(keyIds.mallory)
    expect(conflictText).toContain(`sha256:${OTHER_HEX}`)
    expect(conflictText).toContain('app-1.0.tar.gz')
    // Conflicts come before the entries.
    const order: unknown = await page.evaluate(
      `document.getElementById('conflicts').compareDocumentPosition(document.getElementById('summary')) & Node.DOCUMENT_POSITION_FOLLOWING`,
    )
    expect(order).not.toBe(0)
    expect(await page.locator('#summary').textContent()).toMatch(
      /^3 entries in the tree of size 4 name this digest, by 3 distinct keys\. Keys are not parties/,
    )
    const body = (await page.locator('body').textContent())!
    for (const who of ['alice', 'bob', 'hostile'] as const) expect(body).toContain(keyIds[who])
    expect(body).toContain('https://alice.example/rebuilder')
    expect(body).toContain('2026-12-01T10:00:00Z')
    expect(body).toContain(REPO)
    expect(body).toContain(HOSTILE_NAME)
    expect(await page.locator('#verify-command').textContent()).toBe(
      `attest verify --log ${log.url} --policy policy.json --digest ${DIGEST}`,
    )
    const policy = JSON.parse((await page.locator('#policy').textContent())!) as { log: unknown }
    expect(policy.log).toEqual({ origin: ORIGIN, verifierKey: log.verifierKey })
    await expectNothingInjected(page)
    await page.screenshot({ path: join(ARTIFACTS, 'status-digest.png'), fullPage: true })
    await page.close()
  })

  it('refuses what is not a digest of an accepted algorithm, with a page and a 400', async () => {
    const page = await browser.newPage()
    const res = await page.goto(`${log.url}/ui/digest/sha1:${'ab'.repeat(20)}`)
    expect(res!.status()).toBe(400)
    expect(await page.locator('body').textContent()).toContain('one of sha256, sha384, sha512, blake2b')
    const hostile = await page.goto(`${log.url}/ui/digest/%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E`)
    expect(hostile!.status()).toBe(400)
    await expectNothingInjected(page)
    await page.close()
    // Clients other than browsers get the API's JSON error; unknown query parameters are refused too.
    for (const path of [
      `/ui/digest/md5:${'ab'.repeat(16)}`,
      '/ui/digest?digest=nope',
      `/ui/digest?digest=${DIGEST}&digest=${DIGEST}`,
      '/?debug=1',
      `/ui/digest/${DIGEST}?x=1`,
      `/badge/${DIGEST}.svg?style=flat`,
    ]) {
      const res = await fetch(`${log.url}${path}`)
      expect(res.status, path).toBe(400)
      expect(await res.json(), path).toMatchObject({ error: { code: 'MALFORMED_REQUEST' } })
    }
    const search = await fetch(`${log.url}/ui/digest?digest=${DIGEST.toUpperCase()}`, { redirect: 'manual' })
    expect(search.status).toBe(303)
    expect(search.headers.get('location')).toBe(`/ui/digest/${DIGEST}`)
  })

  it('GET /badge/....svg counts distinct keys, not parties, and says there is a conflict', async () => {
    const res = await fetch(`${log.url}/badge/${DIGEST}.svg`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('public, max-age=300')
    const svg = await res.text()
    expect(svg).toContain('>3 keys, 1 conflict<')
    expect(svg).toContain('keys, not parties')
    const none = await (await fetch(`${log.url}/badge/sha256:${'00'.repeat(32)}.svg`)).text()
    expect(none).toContain('>0 distinct keys<')
    const bad = await fetch(`${log.url}/badge/sha256:xyz.svg`)
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ error: { code: 'MALFORMED_REQUEST' } })
    // The badge renders as an image in the browser.
    const page = await browser.newPage()
    await page.goto(`${log.url}/badge/${DIGEST}.svg`)
    expect(await page.locator('svg title').textContent()).toContain('rebuilt by 3 keys, 1 conflict')
    await page.close()
  })
})
