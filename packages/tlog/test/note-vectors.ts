// Loads the signed-note and checkpoint vectors of test/vectors/ (produced with Go's x/mod; see its README).
import { readFileSync } from 'node:fs'

const vectorsDir = new URL('../../../test/vectors/', import.meta.url)

function load<T>(file: string): T[] {
  return JSON.parse(readFileSync(new URL(file, vectorsDir), 'utf8')) as T[]
}

export function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'))
}

export interface KeyVector {
  kind: 'key'
  valid: true
  comment: string
  role: string
  name: string
  seed_hex: string
  public_key_hex: string
  key_id: string
  verifier_key: string
  signer_key: string
}

export interface BadKeyVector {
  kind: 'verifier_key' | 'signer_key'
  valid: false
  reason: string
  verifier_key?: string
  signer_key?: string
}

export interface VectorSignature {
  name: string
  key_id: string
  signature_base64: string
}

export interface NoteVector {
  kind: 'note'
  valid: boolean
  comment: string
  reason?: string
  error_kind?: 'malformed' | 'invalid_signature' | 'no_verified_signature'
  verifier_keys: string[]
  message?: string
  message_hex: string
  text?: string
  signatures?: VectorSignature[]
  unverified_signatures?: VectorSignature[]
  checkpoint?: { origin: string; tree_size: string; root: string; extensions: string[] }
}

export type SignedNoteVector = KeyVector | BadKeyVector | NoteVector

export interface CheckpointVector {
  kind: 'checkpoint'
  valid: boolean
  comment: string
  reason?: string
  parser_error?: string
  body?: string
  body_hex: string
  origin?: string
  tree_size?: string
  root?: string
  root_base64?: string
  extensions?: string[]
}

export const signedNoteVectors = load<SignedNoteVector>('signed-notes.json')
export const checkpointVectors = load<CheckpointVector>('checkpoints.json')

export const keyVectors = signedNoteVectors.filter((v): v is KeyVector => v.kind === 'key')
export const badKeyVectors = signedNoteVectors.filter(
  (v): v is BadKeyVector => v.kind === 'verifier_key' || v.kind === 'signer_key',
)
export const noteVectors = signedNoteVectors.filter((v): v is NoteVector => v.kind === 'note')

/** The key vector with this role (log, witness1, witness2, ...). */
export function keyByRole(role: string): KeyVector {
  const key = keyVectors.find((k) => k.role === role)
  if (key === undefined) throw new Error(`no key vector with role ${role}`)
  return key
}

export interface InclusionVector {
  kind: 'inclusion'
  valid: boolean
  tree_size: string
  index: string
  leaf_hex?: string
  leaf_hash: string
  proof: string[]
  root: string
}

/** The valid inclusion proofs of inclusion-proofs.json (the tlog-proof tests wrap them in proof files). */
export const inclusionVectors = load<InclusionVector>('inclusion-proofs.json').filter((v) => v.valid)
