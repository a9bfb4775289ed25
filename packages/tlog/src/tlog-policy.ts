// C2SP tlog-policy (https://c2sp.org/tlog-policy, the format Sigsum and Tessera share): known logs, known
// witnesses, witness groups and the quorum a checkpoint's cosignatures must meet.
import { bytesEqual } from './bytes.js'
import { openCheckpoint, type OpenedCheckpoint } from './checkpoint.js'
import { parseCosignatureVerifierKey, type CosignatureVerifier } from './cosignature.js'
import { TlogError, type TlogErrorCode } from './errors.js'
import {
  decodeEd25519VerifierKey,
  openNote,
  parseVerifierKey,
  SIGNATURE_TYPE_ED25519,
  type NoteVerifier,
} from './signed-note.js'

/** Error code of a policy file that breaks the tlog-policy grammar or rules. */
export const MALFORMED_POLICY: TlogErrorCode = 'MALFORMED_POLICY'

/** The predefined name of the empty quorum (`quorum none`); never a group member. */
export const POLICY_NONE = 'none'

/** A `log <vkey> [<url>]` line. The key name is the log's origin. */
export interface PolicyLog {
  vkey: string
  url: string | undefined
  verifier: NoteVerifier
}

/** A `witness <name> <vkey> [<url>]` line (a cosignature/v1 key, type 0x04). */
export interface PolicyWitness {
  name: string
  vkey: string
  url: string | undefined
  verifier: CosignatureVerifier
}

/** A `group <name> all|any|<k> <member>...` line, with `all` and `any` resolved to k = n and k = 1. */
export interface PolicyGroup {
  name: string
  threshold: number
  members: string[]
}

/** A parsed tlog-policy file. `quorum` names a witness, a group, or `none`. */
export interface TlogPolicy {
  logs: PolicyLog[]
  witnesses: PolicyWitness[]
  groups: PolicyGroup[]
  quorum: string
}

/** Options of parseTlogPolicy. */
export interface ParseTlogPolicyOptions {
  /**
   * Accept a file without a quorum line (then `quorum` is `none`). The spec makes the quorum mandatory;
   * a witness reading only the `log` lines of its configuration uses this. Default false.
   */
  quorumOptional?: boolean
}

// Allowed octets: tab, newline, 0x20-0x7E and everything from 0x80 ("Character set").
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN_CHAR_RE = /[\u0000-\u0008\u000b-\u001f\u007f]/
const WHITESPACE_RE = /[ \t]+/
const THRESHOLD_RE = /^[1-9][0-9]{0,5}$/

function policyError(line: number, message: string, cause?: unknown): TlogError {
  const where = line > 0 ? `line ${line}: ` : ''
  return new TlogError(MALFORMED_POLICY, `${where}${message}`, cause === undefined ? undefined : { cause })
}

/**
 * Parses a tlog-policy file (untrusted) strictly:
 * - octets 0x09, 0x0A, 0x20-0x7E, 0x80-0xFF only, every line ending in a newline (a final line without
 *   one is refused: the spec says each line is terminated); non-ASCII must be UTF-8 (the spec treats it
 *   as opaque octets but only recommends UTF-8: a non-UTF-8 file is refused here, a documented limit);
 * - fields separated by runs of spaces and tabs, leading and trailing whitespace allowed, blank lines and
 *   lines whose first non-blank character is `#` ignored;
 * - `log <vkey> [<url>]`: an Ed25519 note verifier key (type 0x01), no two logs with one public key;
 * - `witness <name> <vkey> [<url>]`: a cosignature/v1 verifier key (type 0x04), no two witnesses with one
 *   public key;
 * - `group <name> all|any|<k> <member>...`: at least one member, k canonical decimal in 1..n, members
 *   defined on earlier lines, none listed twice, `none` never a member;
 * - `quorum <name>`: exactly one, naming `none` or a witness or group defined earlier;
 * - witness and group names share one namespace, `none` is reserved.
 * Throws TlogError MALFORMED_POLICY (the message names the line; the cause holds a key's error).
 */
export function parseTlogPolicy(
  input: string | Uint8Array,
  options: ParseTlogPolicyOptions = {},
): TlogPolicy {
  let text: string
  if (typeof input === 'string') {
    text = input
    if (/\p{Cs}/u.test(text)) throw policyError(0, 'text is not valid Unicode')
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input)
    } catch (cause) {
      throw policyError(0, 'the file is not UTF-8', cause)
    }
  }
  if (FORBIDDEN_CHAR_RE.test(text)) {
    const line = text.slice(0, text.search(FORBIDDEN_CHAR_RE)).split('\n').length
    throw policyError(line, 'a control character other than tab and newline')
  }
  if (text.length > 0 && !text.endsWith('\n')) {
    throw policyError(text.split('\n').length, 'the last line does not end with a newline')
  }
  const policy: TlogPolicy = { logs: [], witnesses: [], groups: [], quorum: POLICY_NONE }
  const logKeys: Uint8Array[] = []
  const names = new Set<string>()
  let quorumLine = 0
  const lines = text.length === 0 ? [] : text.slice(0, -1).split('\n')
  lines.forEach((raw, i) => {
    const lineNo = i + 1
    // Only ASCII space and tab are whitespace here (JS trim() would also strip Unicode spaces).
    const fields = /^[ \t]*$/.test(raw) ? [] : raw.replace(/^[ \t]+|[ \t]+$/g, '').split(WHITESPACE_RE)
    if (fields.length === 0 || fields[0]!.startsWith('#')) return
    const [keyword, ...args] = fields as [string, ...string[]]
    const defineName = (name: string) => {
      if (name === POLICY_NONE) throw policyError(lineNo, `the name "${POLICY_NONE}" is reserved`)
      if (names.has(name)) throw policyError(lineNo, `the name ${JSON.stringify(name)} is defined twice`)
      names.add(name)
    }
    switch (keyword) {
      case 'log': {
        if (args.length < 1 || args.length > 2) throw policyError(lineNo, 'expected `log <vkey> [<url>]`')
        const vkey = args[0]!
        let verifier: NoteVerifier
        let publicKey: Uint8Array
        try {
          verifier = parseVerifierKey(vkey)
          publicKey = decodeEd25519VerifierKey(vkey, SIGNATURE_TYPE_ED25519).publicKey
        } catch (cause) {
          throw policyError(lineNo, 'the log key is not an Ed25519 note verifier key', cause)
        }
        if (logKeys.some((key) => bytesEqual(key, publicKey))) {
          throw policyError(lineNo, 'a log with this public key is already listed')
        }
        logKeys.push(publicKey)
        policy.logs.push({ vkey, url: args[1], verifier })
        return
      }
      case 'witness': {
        if (args.length < 2 || args.length > 3) {
          throw policyError(lineNo, 'expected `witness <name> <vkey> [<url>]`')
        }
        const [name, vkey] = args as [string, string]
        let verifier: CosignatureVerifier
        try {
          verifier = parseCosignatureVerifierKey(vkey)
        } catch (cause) {
          throw policyError(lineNo, 'the witness key is not a cosignature/v1 verifier key', cause)
        }
        if (policy.witnesses.some((w) => bytesEqual(w.verifier.publicKey, verifier.publicKey))) {
          throw policyError(lineNo, 'a witness with this public key is already listed')
        }
        defineName(name)
        policy.witnesses.push({ name, vkey, url: args[2], verifier })
        return
      }
      case 'group': {
        if (args.length < 3) throw policyError(lineNo, 'expected `group <name> all|any|<k> <member>...`')
        const [name, rule, ...members] = args as [string, string, ...string[]]
        const seen = new Set<string>()
        for (const member of members) {
          if (member === POLICY_NONE) throw policyError(lineNo, `"${POLICY_NONE}" cannot be a group member`)
          if (!names.has(member)) {
            throw policyError(lineNo, `member ${JSON.stringify(member)} is not defined on an earlier line`)
          }
          if (seen.has(member)) throw policyError(lineNo, `member ${JSON.stringify(member)} is listed twice`)
          seen.add(member)
        }
        let threshold: number
        if (rule === 'all') threshold = members.length
        else if (rule === 'any') threshold = 1
        else if (THRESHOLD_RE.test(rule) && Number(rule) <= members.length) threshold = Number(rule)
        else
          throw policyError(
            lineNo,
            `threshold ${JSON.stringify(rule)} is not all, any or 1..${members.length}`,
          )
        defineName(name)
        policy.groups.push({ name, threshold, members })
        return
      }
      case 'quorum': {
        if (args.length !== 1) throw policyError(lineNo, 'expected `quorum <name>`')
        if (quorumLine > 0)
          throw policyError(lineNo, `a second quorum line (the first is line ${quorumLine})`)
        const name = args[0]!
        if (name !== POLICY_NONE && !names.has(name)) {
          throw policyError(lineNo, `quorum ${JSON.stringify(name)} is not defined on an earlier line`)
        }
        quorumLine = lineNo
        policy.quorum = name
        return
      }
      default:
        throw policyError(lineNo, `unknown keyword ${JSON.stringify(keyword)}`)
    }
  })
  if (quorumLine === 0 && options.quorumOptional !== true) throw policyError(0, 'no quorum line')
  return policy
}

/**
 * Whether the witnesses named in `witnessed` (policy names of the witnesses whose cosignatures verified)
 * satisfy the policy's quorum: `none` always; a witness when it is in `witnessed`; a group when at least
 * its threshold of members do. Names that the policy does not define are ignored.
 */
export function isQuorumMet(policy: TlogPolicy, witnessed: Iterable<string>): boolean {
  const have = new Set(witnessed)
  const groups = new Map(policy.groups.map((group) => [group.name, group]))
  const memo = new Map<string, boolean>()
  // Groups only reference earlier names, so the recursion terminates; memo keeps it linear.
  const satisfied = (name: string): boolean => {
    const known = memo.get(name)
    if (known !== undefined) return known
    const group = groups.get(name)
    let result: boolean
    if (group === undefined) result = have.has(name) && policy.witnesses.some((w) => w.name === name)
    else result = group.members.filter(satisfied).length >= group.threshold
    memo.set(name, result)
    return result
  }
  return policy.quorum === POLICY_NONE || satisfied(policy.quorum)
}

/** A checkpoint that passed verifyCheckpointWithPolicy. */
export interface PolicyVerifiedCheckpoint extends OpenedCheckpoint {
  /** The policy log whose key signed it (its key name is the checkpoint's origin). */
  log: PolicyLog
  /** Policy names of the witnesses whose cosignatures verified, in policy order. */
  witnessed: string[]
}

/**
 * Verifies a signed checkpoint (untrusted) under a policy: it must carry a valid signature by one of the
 * policy's logs whose key name is the checkpoint's origin, every signature by a known key must verify
 * (C2SP signed-note), and the witnesses with valid cosignatures must meet the quorum. Cosignature
 * timestamps are returned, not judged. Throws TlogError MALFORMED_NOTE, MALFORMED_CHECKPOINT,
 * BAD_SIGNATURE, NO_VERIFIED_SIGNATURE (no policy log signed it), ORIGIN_MISMATCH, QUORUM_NOT_MET.
 */
export function verifyCheckpointWithPolicy(
  policy: TlogPolicy,
  signedCheckpoint: string | Uint8Array,
): PolicyVerifiedCheckpoint {
  if (policy.logs.length === 0) throw new TlogError('NO_VERIFIED_SIGNATURE', 'the policy lists no log')
  const witnessVerifiers = policy.witnesses.map((w) => w.verifier)
  // openNote checks every known signature (logs and witnesses) once, before the origin picks the log.
  const note = openNote(signedCheckpoint, [...policy.logs.map((l) => l.verifier), ...witnessVerifiers])
  const signedBy = policy.logs.filter((l) =>
    note.signatures.some((s) => s.name === l.verifier.name && s.keyId === l.verifier.keyId),
  )
  if (signedBy.length === 0) throw new TlogError('NO_VERIFIED_SIGNATURE', 'no signature by a policy log')
  const origin = note.text.slice(0, note.text.indexOf('\n'))
  const log = signedBy.find((l) => l.verifier.name === origin)
  if (log === undefined) throw new TlogError('ORIGIN_MISMATCH', 'no policy log key is named after the origin')
  const opened = openCheckpoint(signedCheckpoint, log.verifier, { witnesses: witnessVerifiers, quorum: 0 })
  const witnessed = policy.witnesses
    .filter((w) =>
      opened.witnessSignatures.some((s) => s.name === w.verifier.name && s.keyId === w.verifier.keyId),
    )
    .map((w) => w.name)
  if (!isQuorumMet(policy, witnessed)) {
    throw new TlogError(
      'QUORUM_NOT_MET',
      `witnesses ${witnessed.join(', ') || '(none)'} do not meet the quorum`,
    )
  }
  return { ...opened, log, witnessed }
}
