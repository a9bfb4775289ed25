// The Go team's own code is the interop judge: a small program over golang.org/x/mod/sumdb/{note,tlog}
// (test/interop/main.go, unmodified Debian packages) opens our checkpoint, reads our tiles, recomputes the
// root from hash tiles and from entry bundles, and checks inclusion and consistency proofs built from
// tiles, at sizes that leave partial tiles on several levels.
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultConfig, startLogServer, type RunningLog } from '@ledger/log-server'
import { generateNoteKey } from '@ledger/tlog'
import { newRebuilder, signSubmissionsFast, submitAll } from './support/load.js'

const run = promisify(execFile)
const GOPATH = '/usr/share/gocode'
const haveGo = existsSync('/usr/bin/go') && existsSync(join(GOPATH, 'src/golang.org/x/mod/sumdb/tlog'))

interface GoReport {
  origin: string
  size: number
  tilesRead: number
  rootFromTiles: boolean
  rootFromEntries: boolean
  inclusionChecked: number[]
  consistencyFrom?: number
  consistencyPassed?: boolean
  error?: string
}

// CI installs Go (.ci/run); elsewhere the test says plainly that it did not run.
describe.skipIf(!haveGo && process.env.CI !== 'true')('interop with golang.org/x/mod/sumdb', () => {
  let dir: string
  let binary: string
  let log: RunningLog

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ledger-interop-'))
    binary = join(dir, 'interop')
    await run('go', ['build', '-o', binary, './test/interop'], {
      env: { ...process.env, GO111MODULE: 'off', GOPATH, GOFLAGS: '', GOCACHE: join(dir, 'gocache') },
    })
    log = await startLogServer({
      ...defaultConfig(),
      dataDir: join(dir, 'data'),
      host: '127.0.0.1',
      port: 0,
      origin: 'interop.example/log',
    })
  }, 180_000)

  afterAll(async () => {
    await log?.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function goCheck(args: string[]): Promise<{ code: number; report: GoReport }> {
    try {
      const { stdout } = await run(binary, ['-url', log.url, '-vkey', log.verifierKey, ...args], {
        maxBuffer: 1 << 20,
      })
      return { code: 0, report: JSON.parse(stdout) as GoReport }
    } catch (error) {
      const failed = error as { code: number; stdout: string }
      return { code: failed.code, report: JSON.parse(failed.stdout) as GoReport }
    }
  }

  async function checkpointText(): Promise<string> {
    return (await fetch(`${log.url}/checkpoint`)).text()
  }

  it('verifies the log at sizes 1, 255, 256, 257 and 65,793 with x/mod', async () => {
    const rebuilder = newRebuilder('ed25519')
    let size = 0
    let previous: string | undefined
    for (const target of [1, 255, 256, 257, 65_793]) {
      const bodies = signSubmissionsFast(rebuilder, 'interop', size, target)
      const results = await submitAll(log.url, bodies, 64)
      expect(results.filter((r) => r.status !== 201)).toEqual([])
      size = target

      const args: string[] = []
      if (previous !== undefined) {
        const oldFile = join(dir, `checkpoint-${size}`)
        await writeFile(oldFile, previous)
        args.push('-old', oldFile)
      }
      const indexes = [0, 1, 254, 255, 256, size - 2, size - 1, Math.floor(size / 2)].filter(
        (i) => i >= 0 && i < size,
      )
      const { code, report } = await goCheck([...args, '-indexes', indexes.join(',')])
      expect(report.error).toBeUndefined()
      expect(code).toBe(0)
      expect(report).toMatchObject({
        origin: 'interop.example/log',
        size,
        rootFromTiles: true,
        rootFromEntries: true,
      })
      expect(new Set(report.inclusionChecked)).toEqual(new Set(indexes))
      if (previous !== undefined) expect(report.consistencyPassed).toBe(true)
      previous = await checkpointText()
    }
  }, 300_000)

  it('fails on a checkpoint signed by another key of the same name', async () => {
    const { verifierKey } = generateNoteKey('interop.example/log')
    const { code, report } = await goCheck(['-vkey', verifierKey])
    expect(code).toBe(1)
    expect(report.error).toMatch(/note\.Open/)
  })

  it('fails when one hash tile is corrupted in transit', async () => {
    // A proxy that flips one bit of the level-1 tile: x/mod must notice that it does not hash to the root.
    const proxy = createServer((req, res) => {
      void (async () => {
        const upstream = await fetch(`${log.url}${req.url ?? '/'}`)
        const body = new Uint8Array(await upstream.arrayBuffer())
        if (req.url?.startsWith('/tile/1/')) body[5] = body[5]! ^ 0x01
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? '' })
        res.end(body)
      })()
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const { port } = proxy.address() as AddressInfo
    try {
      const { stdout } = await run(binary, [
        '-url',
        `http://127.0.0.1:${port}`,
        '-vkey',
        log.verifierKey,
        '-indexes',
        '0,300,65792',
      ]).catch((e: { stdout: string }) => e)
      expect((JSON.parse(stdout) as GoReport).error).toBeDefined()
    } finally {
      proxy.close()
    }
  })
})
