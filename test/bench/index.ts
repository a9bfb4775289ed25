// Runs the benchmarks under test/bench/ in one process, one after another, so that every figure and ratio
// in a run comes from the same machine state. `npm run bench` runs all; `npm run bench -- tlog log` a subset.
import { readdir } from 'node:fs/promises'

interface BenchModule {
  run(): Promise<void>
}

const here = new URL('./', import.meta.url)
const wanted = process.argv.slice(2)
const names = (await readdir(here))
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => file.slice(0, -'.bench.ts'.length))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort()

if (names.length === 0) {
  console.error(`no benchmark matches ${wanted.join(' ')}`)
  process.exit(2)
}
for (const name of names) {
  console.log(`\n## ${name}`)
  const bench = (await import(new URL(`${name}.bench.ts`, here).href)) as BenchModule
  await bench.run()
}
