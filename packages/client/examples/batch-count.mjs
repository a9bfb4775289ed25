// Counts, for several digests at once, the parties of a trust policy that reproduced each, every answer
// proven against one checkpoint of the log. Usage:
//   node batch-count.mjs LOG_URL POLICY_FILE STATE_DIR DIGEST...
// DIGEST is <alg>:<lowercase hex> (sha256, sha384, sha512, blake2b). Exit 0 when every digest meets the
// policy's threshold with no conflict, 1 when one does not, 3 when the log misbehaved.
import { readFile } from 'node:fs/promises'
import {
  ClientError,
  countReproductionsBatch,
  FileStateStore,
  LedgerClient,
  loadTrustPolicy,
} from '@ledger/client'

const [url, policyFile, stateDir, ...digests] = process.argv.slice(2)
const policy = loadTrustPolicy(await readFile(policyFile, 'utf8'))
// The state store remembers the last checkpoint: the next run must see a consistent log.
const client = LedgerClient.fromPolicy(url, policy, { state: new FileStateStore(stateDir) })
try {
  const { checkpoint, answers } = await countReproductionsBatch({
    client,
    policy,
    queries: digests.map((digest) => ({ digest })),
  })
  for (const answer of answers) {
    const verdict = answer.ok ? 'ok' : answer.conflicts.length > 0 ? 'conflict' : 'too few'
    console.log(`${verdict}\t${answer.count}/${answer.threshold}\t${answer.digest}`)
  }
  console.log(`proven against: ${checkpoint.split('\n')[0]} at size ${checkpoint.split('\n')[1]}`)
  process.exitCode = answers.every((a) => a.ok) ? 0 : 1
} catch (err) {
  if (err instanceof ClientError && err.code === 'LOG_MISBEHAVING') {
    console.error(`the log misbehaved: ${err.message}`)
    console.error(JSON.stringify(err.evidence))
    process.exitCode = 3
  } else throw err
}
