import { readFileSync, readdirSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keepAliveAgent, postEntry } from './http.js'
import { spawnLog } from './log-process.js'
import { newRebuilder, signSubmissionsFast } from './load.js'

function threads(pid: number) {
  const out: Record<string, number> = {}
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const t = (Number(f[11]) + Number(f[12])) * 10
    out[`${comm}-${tid}`] = t
  }
  return out
}
const dir = await mkdtemp(join(tmpdir(), 'h7prof-'))
const prof = process.env.PROF
const server = spawnLog(['--data', dir, '--port', '0', '--origin', 'p.example/log', ...(process.argv.slice(2))], prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [])
const url = await server.listening
const rebuilders = Array.from({ length: 16 }, () => newRebuilder())
const bodies = rebuilders.flatMap((r) => signSubmissionsFast(r, 'p', 0, 2500))
const agent = keepAliveAgent(Number(process.env.C ?? 64))
const warm = bodies.splice(0, 4000)
let next = 0
async function runAll(list: string[]) { next = 0; await Promise.all(Array.from({ length: Number(process.env.C ?? 64) }, async () => { while (next < list.length) { const b = list[next++]!; const r = await postEntry(agent, url, b); if (r.status !== 201) throw new Error(String(r.status)) } })) }
await runAll(warm)
const t0 = threads(server.child.pid!)
const c0 = process.cpuUsage()
const s = performance.now()
await runAll(bodies)
const secs = (performance.now() - s) / 1000
const c1 = process.cpuUsage(c0)
const t1 = threads(server.child.pid!)
console.log(`${bodies.length} in ${secs.toFixed(1)} s = ${(bodies.length / secs).toFixed(0)}/s`)
console.log(`client cpu ${((c1.user + c1.system) / 1e3 / secs / 10).toFixed(0)}% of a core`)
for (const k of Object.keys(t1)) console.log(`server thread ${k}: ${((t1[k]! - (t0[k] ?? 0)) / secs / 10).toFixed(0)}% of a core`)
await server.stop()
