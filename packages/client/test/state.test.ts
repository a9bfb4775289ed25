import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ClientError, defaultStateDir, FileStateStore, stateFileName } from '../src/index.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'attest-state-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const state = (origin: string, checkpoint = 'note') => ({
  origin,
  verifierKey: `${origin}+00000000+AQ==`,
  checkpoint,
})

describe('FileStateStore', () => {
  it('returns undefined before any save, then exactly what was saved', async () => {
    const store = new FileStateStore(join(dir, 'nested', 'state'))
    expect(await store.load('log.example/a')).toBeUndefined()
    await store.save(state('log.example/a', 'first'))
    await store.save(state('log.example/a', 'second'))
    expect(await store.load('log.example/a')).toEqual(state('log.example/a', 'second'))
    // A second store on the same directory (another process) sees it too.
    expect(await new FileStateStore(join(dir, 'nested', 'state')).load('log.example/a')).toEqual(
      state('log.example/a', 'second'),
    )
  })

  it('leaves no temporary files and keeps files private', async () => {
    const store = new FileStateStore(dir)
    await store.save(state('log.example/a'))
    const files = await readdir(dir)
    expect(files).toEqual([stateFileName('log.example/a')])
    expect((await stat(join(dir, files[0]!))).mode & 0o077).toBe(0)
  })

  it('keeps origins apart, whatever characters they hold', async () => {
    const store = new FileStateStore(dir)
    const origins = ['log.example/a', 'log.example/b', '../../etc/passwd', '..', 'a'.repeat(300)]
    for (const origin of origins) await store.save(state(origin, origin))
    for (const origin of origins) expect((await store.load(origin))?.checkpoint).toBe(origin)
    for (const file of await readdir(dir)) {
      expect(file.startsWith('checkpoint-')).toBe(true)
      expect(file).not.toContain('/')
      expect(file.length).toBeLessThan(256)
    }
  })

  it('refuses a corrupted state file instead of forgetting it', async () => {
    const store = new FileStateStore(dir)
    await writeFile(store.path('log.example/a'), '{"origin": "log.example/a"')
    await expect(store.load('log.example/a')).rejects.toMatchObject({ code: 'STATE_IO' })
    await writeFile(store.path('log.example/a'), JSON.stringify(state('log.example/other')))
    await expect(store.load('log.example/a')).rejects.toMatchObject({ code: 'STATE_IO' })
  })

  it('reports an unwritable directory as STATE_IO', async () => {
    const file = join(dir, 'a-file')
    await writeFile(file, '')
    const store = new FileStateStore(join(file, 'sub'))
    const err = await store.save(state('log.example/a')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ClientError)
    expect((err as ClientError).code).toBe('STATE_IO')
    expect(await readFile(file, 'utf8')).toBe('')
  })
})

describe('defaultStateDir', () => {
  it('follows the XDG Base Directory spec', () => {
    expect(defaultStateDir({ XDG_STATE_HOME: '/x/state' }, '/home/u')).toBe('/x/state/attest')
    // Relative values are invalid per the spec and ignored.
    expect(defaultStateDir({ XDG_STATE_HOME: 'rel' }, '/home/u')).toBe('/home/u/.local/state/attest')
    expect(defaultStateDir({}, '/home/u')).toBe('/home/u/.local/state/attest')
  })
})
