// Offline receipt verification (DESIGN §6): a receipt proves that a statement signed by a key is in a
// log, with nothing but the log's key. Two shapes: the Sigstore bundle the log answers a submission with,
// and the C2SP tlog-proof file.
import { createRequire } from 'node:module'
import type * as ProtobufSpecs from '@sigstore/protobuf-specs'
import type * as SigstoreVerify from '@sigstore/verify'
import {
  buildLogTrustedRoot,
  logKeyIds,
  publicKeyFromDER,
  publicKeyFromPEM,
  verifyBundle,
} from '@ledger/attestation'
import {
  bytesEqual,
  encodeTlogProof,
  hashLeaf,
  parseTlogProof,
  TLOG_PROOF_HEADER,
  verifyInclusion,
  verifyTlogProof,
  type Checkpoint,
  type Hash,
  type NoteVerifier,
  type TlogPolicy,
} from '@ledger/tlog'
import type { VerifiedCheckpoint } from './checkpoint-tracker.js'
import { verifyEntryLeaf, IN_TOTO_PAYLOAD_TYPE, type VerifiedLeaf } from './entry.js'
import { ClientError, describe } from './errors.js'
import type { VerifiedEntry } from './log-client.js'
import { openTrustedCheckpoint, parseLogTrust, parseWitnessKey, type WitnessTrust } from './policy.js'

const require = createRequire(import.meta.url)

/** The shape of a Sigstore bundle v0.3 receipt, as far as the client reads it (all fields untrusted). */
export interface SigstoreBundleJSON {
  mediaType: string
  verificationMaterial: { publicKey?: { hint?: string }; tlogEntries?: unknown[]; [field: string]: unknown }
  dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string; keyid?: string }[] }
  [field: string]: unknown
}

/** How to verify a receipt offline. */
export interface ReceiptVerifyOptions {
  /** The log's C2SP note verifier key (pinned: from a policy or a flag, never from the receipt). */
  logVerifierKey: string
  /** Witness verifier keys, and how many of them must have cosigned the checkpoint (default: all listed). */
  witnesses?: readonly string[]
  quorum?: number
  /** Witnesses and their quorum from a C2SP tlog-policy instead (its group rule); `witnesses`/`quorum` ignored. */
  tlogPolicy?: TlogPolicy
  /** The signer's SPKI PEM or key id (64 hex): when given, the entry must be signed by this key. */
  publicKey?: string
  /** The leaf, for a tlog-proof without `extra` (if both are present they must be equal). */
  leaf?: Uint8Array
}

/** A receipt that verified. The checkpoint's signatures verified; its consistency with any stored state was NOT checked (offline). */
export interface VerifiedReceipt {
  format: 'sigstore-bundle' | 'tlog-proof'
  index: bigint
  entry: VerifiedEntry
  checkpoint: VerifiedCheckpoint
  /** The inclusion proof of the entry in the checkpoint's tree. */
  proof: Hash[]
}

const BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json'

const invalid = (message: string, cause?: unknown) =>
  new ClientError('RECEIPT_INVALID', message, cause === undefined ? undefined : { cause })

/**
 * Verifies a receipt (untrusted) with no network: a Sigstore bundle (JSON text, bytes or parsed object)
 * or a C2SP `c2sp.org/tlog-proof@v1` file (text or bytes). See verifyBundleReceipt and
 * verifyTlogProofReceipt for what is checked. Throws ClientError RECEIPT_INVALID (the cause says why),
 * or POLICY_INVALID for a bad log or witness key in `opts`.
 */
export function verifyReceipt(
  receipt: string | Uint8Array | object,
  opts: ReceiptVerifyOptions,
): VerifiedReceipt {
  if (typeof receipt === 'string' || receipt instanceof Uint8Array) {
    const text = typeof receipt === 'string' ? receipt : new TextDecoder().decode(receipt)
    if (text.startsWith(`${TLOG_PROOF_HEADER}\n`)) return verifyTlogProofReceipt(receipt, opts)
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (cause) {
      throw invalid('receipt is neither a tlog-proof nor JSON', cause)
    }
    return verifyBundleReceipt(json, opts)
  }
  return verifyBundleReceipt(receipt, opts)
}

interface Keys {
  log: NoteVerifier
  origin: string
  witnesses: WitnessTrust
  publicKeyId: string | undefined
}

function resolveKeys(opts: ReceiptVerifyOptions): Keys {
  const log = parseLogTrust(opts.logVerifierKey)
  const witnesses: WitnessTrust =
    opts.tlogPolicy !== undefined
      ? {
          keys: opts.tlogPolicy.witnesses.map((w) => w.vkey),
          verifiers: opts.tlogPolicy.witnesses.map((w) => w.verifier),
          quorum: 0,
          tlogPolicy: opts.tlogPolicy,
        }
      : {
          keys: [...(opts.witnesses ?? [])],
          verifiers: (opts.witnesses ?? []).map(parseWitnessKey),
          quorum: opts.quorum ?? (opts.witnesses ?? []).length,
        }
  let publicKeyId: string | undefined
  if (opts.publicKey !== undefined) {
    if (/^[0-9a-f]{64}$/.test(opts.publicKey)) publicKeyId = opts.publicKey
    else {
      try {
        publicKeyId = publicKeyFromPEM(opts.publicKey).keyId
      } catch (cause) {
        throw new ClientError('INVALID_ARGUMENT', `public key: ${describe(cause)}`, { cause })
      }
    }
  }
  return {
    log: log.verifier,
    origin: log.origin,
    witnesses,
    publicKeyId,
  }
}

function openReceiptCheckpoint(note: string, keys: Keys): Checkpoint {
  try {
    return openTrustedCheckpoint(note, { verifier: keys.log, origin: keys.origin }, keys.witnesses)
  } catch (cause) {
    throw invalid(`checkpoint: ${describe(cause)}`, cause)
  }
}

function verifyLeafFor(
  leaf: Uint8Array,
  index: bigint,
  keys: Keys,
): { entry: VerifiedEntry; decoded: VerifiedLeaf } {
  let decoded: VerifiedLeaf
  try {
    decoded = verifyEntryLeaf(leaf)
  } catch (cause) {
    throw invalid(`log entry: ${describe(cause)}`, cause)
  }
  if (keys.publicKeyId !== undefined && decoded.keyId !== keys.publicKeyId) {
    throw invalid(`the entry is signed by key ${decoded.keyId}, not by ${keys.publicKeyId}`)
  }
  return {
    entry: { index, leaf, keyId: decoded.keyId, statement: decoded.statement, keys: decoded.keys },
    decoded,
  }
}

// Readers of the bundle JSON: any surprise is an invalid receipt.
function obj(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(`${what} is not an object`)
  return value as Record<string, unknown>
}
function str(value: unknown, what: string): string {
  if (typeof value !== 'string') throw invalid(`${what} is not a string`)
  return value
}
function b64(value: unknown, what: string, length?: number): Uint8Array {
  const text = str(value, what)
  const bytes = new Uint8Array(Buffer.from(text, 'base64'))
  if (bytes.length === 0 || Buffer.from(bytes).toString('base64') !== text)
    throw invalid(`${what} is not canonical base64`)
  if (length !== undefined && bytes.length !== length) throw invalid(`${what} is not ${length} bytes`)
  return bytes
}
function index(value: unknown, what: string): bigint {
  const text = str(value, what)
  if (!/^(?:0|[1-9][0-9]{0,18})$/.test(text)) throw invalid(`${what} is not a canonical decimal`)
  return BigInt(text)
}

/**
 * Verifies a Sigstore bundle v0.3 receipt (untrusted) offline:
 * - it holds exactly one tlog entry, of kind dsse 0.0.2, whose logId is this log's key (SHA-256 of its SPKI);
 * - the checkpoint in its inclusion proof is signed by the log key (and the witness quorum), its size and
 *   root are the proof's treeSize and rootHash, and the proof puts the leaf (canonicalizedBody) at logIndex;
 * - the leaf decodes (DESIGN §4), its payload hash matches, its DSSE signature verifies with the key in it,
 *   the statement passes the schema; the key is `opts.publicKey` when given, and the bundle's hint;
 * - the leaf is this bundle's envelope: same payload, same signature, in-toto payload type;
 * - and stock @sigstore/verify accepts the bundle with the trusted root the log publishes (built here from
 *   the log key alone), the signer's key, tlog threshold 1, no timestamps and no CT logs.
 * `expectedEnvelope`, when given, is the envelope that was submitted: the receipt must carry the same payload.
 * Throws ClientError RECEIPT_INVALID.
 */
export function verifyBundleReceipt(
  receipt: unknown,
  opts: ReceiptVerifyOptions & { expectedEnvelope?: Record<string, unknown> },
): VerifiedReceipt {
  const keys = resolveKeys(opts)
  const bundle = obj(receipt, 'receipt')
  if (bundle['mediaType'] !== BUNDLE_V03) throw invalid('receipt is not a Sigstore bundle v0.3')
  const material = obj(bundle['verificationMaterial'], 'verificationMaterial')
  const hint = str(obj(material['publicKey'], 'verificationMaterial.publicKey')['hint'], 'publicKey.hint')
  const entries = material['tlogEntries']
  if (!Array.isArray(entries) || entries.length !== 1)
    throw invalid('receipt must hold exactly one tlog entry')
  const tlogEntry = obj(entries[0], 'tlogEntries[0]')
  const logIndex = index(tlogEntry['logIndex'], 'tlogEntries[0].logIndex')
  const logId = b64(obj(tlogEntry['logId'], 'logId')['keyId'], 'logId.keyId', 32)
  if (!bytesEqual(logId, logKeyIds(opts.logVerifierKey).logId))
    throw invalid('the receipt names another log (logId)')
  const kindVersion = obj(tlogEntry['kindVersion'], 'kindVersion')
  if (kindVersion['kind'] !== 'dsse' || kindVersion['version'] !== '0.0.2') {
    throw invalid('the tlog entry is not of kind dsse 0.0.2')
  }
  // Nothing signs an integrated time: our log sets none (0), and a receipt that claims one claims too much.
  const integratedTime = tlogEntry['integratedTime']
  if (integratedTime !== undefined && integratedTime !== '0')
    throw invalid('the receipt claims an unsigned integratedTime')
  if (tlogEntry['inclusionPromise'] !== undefined) throw invalid('the log makes no inclusion promises (SETs)')
  const leaf = b64(tlogEntry['canonicalizedBody'], 'canonicalizedBody')
  const inclusion = obj(tlogEntry['inclusionProof'], 'inclusionProof')
  if (index(inclusion['logIndex'], 'inclusionProof.logIndex') !== logIndex) {
    throw invalid('inclusionProof.logIndex is not the entry logIndex')
  }
  const treeSize = index(inclusion['treeSize'], 'inclusionProof.treeSize')
  const rootHash = b64(inclusion['rootHash'], 'inclusionProof.rootHash', 32)
  const hashesRaw = inclusion['hashes']
  if (!Array.isArray(hashesRaw) || hashesRaw.length > 63)
    throw invalid('inclusionProof.hashes is not a list of hashes')
  const proof = hashesRaw.map((h, i) => b64(h, `inclusionProof.hashes[${i}]`, 32))
  const note = str(
    obj(inclusion['checkpoint'], 'inclusionProof.checkpoint')['envelope'],
    'checkpoint.envelope',
  )

  const checkpoint = openReceiptCheckpoint(note, keys)
  if (checkpoint.size !== treeSize) throw invalid('checkpoint size is not inclusionProof.treeSize')
  if (!bytesEqual(checkpoint.root, rootHash)) throw invalid('checkpoint root is not inclusionProof.rootHash')
  try {
    verifyInclusion(hashLeaf(leaf), logIndex, treeSize, proof, rootHash)
  } catch (cause) {
    throw invalid(`inclusion proof: ${describe(cause)}`, cause)
  }
  const { entry, decoded } = verifyLeafFor(leaf, logIndex, keys)
  if (hint !== entry.keyId) throw invalid(`publicKey.hint ${hint} is not the entry's key ${entry.keyId}`)

  const envelope = obj(bundle['dsseEnvelope'], 'dsseEnvelope')
  if (envelope['payloadType'] !== IN_TOTO_PAYLOAD_TYPE)
    throw invalid('dsseEnvelope.payloadType is not in-toto')
  const payload = b64(envelope['payload'], 'dsseEnvelope.payload')
  const sigs = envelope['signatures']
  if (!Array.isArray(sigs) || sigs.length !== 1) throw invalid('dsseEnvelope must hold exactly one signature')
  const signature = b64(obj(sigs[0], 'signatures[0]')['sig'], 'signatures[0].sig')
  if (!bytesEqual(decoded.payload, payload)) throw invalid('the logged entry is not this envelope (payload)')
  if (!bytesEqual(decoded.signature, signature))
    throw invalid('the logged entry is not this envelope (signature)')
  if (opts.expectedEnvelope !== undefined && opts.expectedEnvelope['payload'] !== envelope['payload']) {
    throw invalid('the receipt is for another statement than the one submitted')
  }

  // Stock Sigstore verification (@sigstore/verify, through the attestation package) with the trust
  // material the log publishes: what any Sigstore client does with this receipt.
  try {
    // Loaded on first use (CommonJS): only receipts need them, not the installer's gate.
    const { TrustedRoot } = require('@sigstore/protobuf-specs') as typeof ProtobufSpecs
    const { toTrustMaterial } = require('@sigstore/verify') as typeof SigstoreVerify
    const { tlogs } = toTrustMaterial(TrustedRoot.fromJSON(buildLogTrustedRoot(opts.logVerifierKey)))
    verifyBundle(bundle, publicKeyFromDER(decoded.spkiDer), { tlogs, tlogThreshold: 1 })
  } catch (cause) {
    throw invalid(`Sigstore verification: ${describe(cause)}`, cause)
  }
  return { format: 'sigstore-bundle', index: logIndex, entry, checkpoint: { checkpoint, note }, proof }
}

/**
 * Verifies a C2SP tlog-proof receipt (untrusted) offline: the proof parses strictly; the leaf is its
 * `extra` or `opts.leaf` (equal when both are there); the checkpoint is signed by the log key with the
 * witness quorum; the inclusion proof puts the leaf at `index`; the leaf decodes and its signature
 * verifies (by `opts.publicKey` when given). Throws ClientError RECEIPT_INVALID.
 */
export function verifyTlogProofReceipt(
  text: string | Uint8Array,
  opts: ReceiptVerifyOptions,
): VerifiedReceipt {
  const keys = resolveKeys(opts)
  let parsed
  try {
    parsed = parseTlogProof(text)
  } catch (cause) {
    throw invalid(`tlog-proof: ${describe(cause)}`, cause)
  }
  if (parsed.extra !== undefined && opts.leaf !== undefined && !bytesEqual(parsed.extra, opts.leaf)) {
    throw invalid('the leaf given is not the one in the proof')
  }
  const leaf = parsed.extra ?? opts.leaf
  if (leaf === undefined) throw invalid('the tlog-proof carries no entry (extra); pass the leaf separately')
  let checkpoint: Checkpoint
  try {
    // The log's signature and the inclusion proof; then the witness quorum, by the policy's rule.
    checkpoint = verifyTlogProof(parsed, hashLeaf(leaf), keys.log, { origin: keys.origin })
    openTrustedCheckpoint(parsed.checkpoint, { verifier: keys.log, origin: keys.origin }, keys.witnesses)
  } catch (cause) {
    throw invalid(`tlog-proof: ${describe(cause)}`, cause)
  }
  const { entry } = verifyLeafFor(leaf, parsed.index, keys)
  return {
    format: 'tlog-proof',
    index: parsed.index,
    entry,
    checkpoint: { checkpoint, note: parsed.checkpoint },
    proof: parsed.proof,
  }
}

/** Writes a verified receipt as a C2SP tlog-proof, the leaf in `extra` so the file verifies on its own. */
export function toTlogProof(receipt: VerifiedReceipt): string {
  return encodeTlogProof({
    extra: receipt.entry.leaf,
    index: receipt.index,
    proof: receipt.proof,
    checkpoint: receipt.checkpoint.note,
  })
}
