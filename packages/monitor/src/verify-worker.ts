// A signature-verification thread of the monitor: answers each batch of packed leaves with their outcomes.
import { parentPort } from 'node:worker_threads'
import type { PublicKeyInfo } from '@ledger/attestation'
import { unpackLeaves, verifyLeaf, type PackedLeaves } from './verify-core.js'

const keyCache = new Map<string, PublicKeyInfo>()

parentPort!.on('message', (message: { id: number } & PackedLeaves) => {
  const outcomes = unpackLeaves(message).map((leaf) => verifyLeaf(leaf, keyCache))
  parentPort!.postMessage({ id: message.id, outcomes })
})
