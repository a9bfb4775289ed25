// The sequencer's ceiling on PostgreSQL, in a process of its own (as the sequencer runs in the log's own
// process): the real Sequencer over PostgresStore, fed pre-verified real leaves with 4,000 appends in flight
// at all times, as the queue of a busy log holds them. Run by postgres.bench.ts as
//   node --import tsx test/bench/sequencer-ceiling.ts <database url> <commits in flight> <warm-up> <entries>
// it prints one JSON line: the rate of the first <warm-up> entries, appended untimed before (cold: they also
// pay once for compiling the code paths and for each new database connection's first touch of the shared
// buffers), the ceiling over the next <entries>, and this process's CPU per entry over the ceiling. In a
// process of its own, the ceiling is not charged for the heap and the code the benchmark's earlier phases
// left in theirs. Run only as a script: importing it runs it.
import { PostgresStore, Sequencer, TileCache } from '@ledger/log-server'
import { generateNoteKey, hashLeaf, parseSignerKey } from '@ledger/tlog'
import { newRebuilder } from '../support/load.js'
import { realLeafTemplate } from './log-load.js'

const REBUILDERS = 16
const IN_FLIGHT_APPENDS = 4000
const ORIGIN = 'bench.example/ceiling'

export interface CeilingResult {
  cold: number
  ceiling: number
  /** This process's CPU (user and system) per entry over the ceiling, in µs. */
  cpuMicrosPerEntry: number
}

async function main(
  url: string,
  commitsInFlight: number,
  warmUp: number,
  timed: number,
): Promise<CeilingResult> {
  const rebuilders = Array.from({ length: REBUILDERS }, () => newRebuilder('ecdsa-p256'))
  const store = await PostgresStore.open(url)
  try {
    const signer = parseSignerKey(generateNoteKey(ORIGIN).signerKey)
    const sequencer = await Sequencer.open(store, new TileCache(store, 64 << 20), signer, ORIGIN, {
      batchSize: 1000,
      batchWaitMs: 1,
      commitsInFlight,
    })
    const template = realLeafTemplate(rebuilders[0]!, 'ceiling')
    const leafAt = (i: number) => {
      const leaf = Buffer.from(template)
      leaf.writeUInt32BE(i, 20)
      const hex = i.toString(16).padStart(64, '0')
      return {
        leaf,
        leafHash: hashLeaf(leaf),
        keyId: rebuilders[i % REBUILDERS]!.keyId,
        payloadHash: hex,
        digests: [`sha256:${hex}`],
        commits: [hex.slice(24)],
      }
    }
    // The entries are made before the clock starts: verifying and hashing them is the front ends' work.
    const appendAll = async (first: number, count: number) => {
      const entries = Array.from({ length: count }, (_, i) => leafAt(first + i))
      const cpu = process.cpuUsage()
      const begin = performance.now()
      let next = 0
      const feed = async (): Promise<void> => {
        while (next < entries.length) await sequencer.append(entries[next++]!)
      }
      await Promise.all(Array.from({ length: IN_FLIGHT_APPENDS }, feed))
      const seconds = (performance.now() - begin) / 1000
      const used = process.cpuUsage(cpu)
      return { rate: count / seconds, cpuMicrosPerEntry: (used.user + used.system) / count }
    }
    const cold = await appendAll(0, warmUp)
    const ceiling = await appendAll(warmUp, timed)
    await sequencer.drain()
    return { cold: cold.rate, ceiling: ceiling.rate, cpuMicrosPerEntry: ceiling.cpuMicrosPerEntry }
  } finally {
    await store.close()
  }
}

const [url, inFlight, warmUp, timed] = process.argv.slice(2)
if (url === undefined || timed === undefined) {
  console.error('usage: sequencer-ceiling.ts <database url> <commits in flight> <warm-up> <entries>')
  process.exit(2)
}
console.log(JSON.stringify(await main(url, Number(inFlight), Number(warmUp), Number(timed))))
