import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createRecordedFile, placeRecordedFile, readFileIfExists, writeFileDurably } from '../src/index.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'durable-file-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('writeFileDurably', () => {
  it('writes the text with the mode asked, creating the directory, and leaves no temporary file', async () => {
    const path = join(dir, 'keys', 'log.key')
    await writeFileDurably(path, 'secret\n', 0o600, { dirMode: 0o700 })
    expect(await readFile(path, 'utf8')).toBe('secret\n')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(join(dir, 'keys'))).mode & 0o777).toBe(0o700)
    expect(await readdir(join(dir, 'keys'))).toEqual(['log.key'])
  })

  it('replaces an existing file whole, and concurrent writers leave one of their texts', async () => {
    const path = join(dir, 'state.json')
    await writeFile(path, 'old')
    await Promise.all(['a', 'b', 'c', 'd'].map((t) => writeFileDurably(path, t.repeat(1000), 0o600)))
    expect(['a', 'b', 'c', 'd'].map((t) => t.repeat(1000))).toContain(await readFile(path, 'utf8'))
    expect(await readdir(dir)).toEqual(['state.json'])
  })

  it('writes byte parts in order', async () => {
    const path = join(dir, 'parts.bin')
    await writeFileDurably(path, [new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3])], 0o600)
    expect([...(await readFile(path))]).toEqual([1, 2, 3])
  })

  it('rethrows a failure and removes its temporary file', async () => {
    // The target is a directory: the rename fails after the temporary file was written.
    const path = join(dir, 'taken')
    await writeFile(join(dir, 'other'), '')
    await import('node:fs/promises').then((fs) => fs.mkdir(path))
    await expect(writeFileDurably(path, 'x', 0o600)).rejects.toThrow()
    expect((await readdir(dir)).sort()).toEqual(['other', 'taken'])
  })
})

describe('createRecordedFile and placeRecordedFile', () => {
  it('the file appears only after its record is written, with the mode asked', async () => {
    const path = join(dir, 'log.key')
    const seen: string[][] = []
    await createRecordedFile(path, 'key-1\n', 0o600, async () => {
      seen.push(await readdir(dir))
      expect(await readFile(join(dir, 'log.key.new'), 'utf8')).toBe('key-1\n')
    })
    expect(seen).toEqual([['log.key.new']])
    expect(await readdir(dir)).toEqual(['log.key'])
    expect(await readFile(path, 'utf8')).toBe('key-1\n')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it('a record that fails leaves the file pending, never in place; a later call replaces the pending text', async () => {
    const path = join(dir, 'log.key')
    await expect(
      createRecordedFile(path, 'key-1\n', 0o600, () => Promise.reject(new Error('store gone'))),
    ).rejects.toThrow('store gone')
    expect(await readdir(dir)).toEqual(['log.key.new'])
    await createRecordedFile(path, 'key-2\n', 0o600, async () => undefined)
    expect(await readdir(dir)).toEqual(['log.key'])
    expect(await readFile(path, 'utf8')).toBe('key-2\n')
  })

  it('placeRecordedFile puts a pending file in place only when its record names it', async () => {
    const path = join(dir, 'log.key')
    expect(await placeRecordedFile(path, () => true)).toBeUndefined()
    await writeFile(join(dir, 'log.key.new'), 'key-1\n')
    expect(await placeRecordedFile(path, (text) => text === 'key-2\n')).toBeUndefined()
    expect(await readdir(dir)).toEqual(['log.key.new'])
    expect(await placeRecordedFile(path, (text) => text === 'key-1\n')).toBe('key-1\n')
    expect(await readdir(dir)).toEqual(['log.key'])
  })

  it('readFileIfExists: the text, undefined when missing, other failures thrown', async () => {
    await writeFile(join(dir, 'a'), 'text')
    expect(await readFileIfExists(join(dir, 'a'))).toBe('text')
    expect(await readFileIfExists(join(dir, 'missing'))).toBeUndefined()
    await expect(readFileIfExists(dir)).rejects.toMatchObject({ code: 'EISDIR' })
  })
})
