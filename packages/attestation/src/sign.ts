// Signing a statement as a DSSE envelope in a Sigstore bundle v0.3 with @sigstore/sign, over a local key:
// no Fulcio certificate, no Rekor entry, no timestamp (an empty list of witnesses), publicKey.hint = key id.
import type { Signer } from '@sigstore/sign'
import { canonicalJSON } from './canonical-json.js'
import { encodeUTF8 } from './bytes.js'
import { IN_TOTO_PAYLOAD_TYPE } from './constants.js'
import { signPAE } from './dsse.js'
import { privateKeyFromPEM } from './keys.js'
import type { PrivateKeyInfo } from './keys.js'
import { assertRebuildStatement } from './statement.js'
import type { DSSEBundleJSON, RebuildStatement } from './types.js'

/** A @sigstore/sign Signer over a local private key; its key material names the key id as the hint. */
export function localKeySigner(privateKey: PrivateKeyInfo): Signer {
  const { publicKey } = privateKey
  return {
    sign: async (data: Buffer) => ({
      signature: signPAE(data, privateKey.keyObject, publicKey.keyDetails),
      key: { $case: 'publicKey', publicKey: publicKey.pem, hint: publicKey.keyId },
    }),
  }
}

/**
 * Signs arbitrary payload bytes as a DSSE envelope of `payloadType` in a Sigstore bundle v0.3 (JSON). For
 * statements use `signStatement`; this is the lower layer (and lets tests craft envelopes the log refuses).
 * Throws AttestationError KEY_MALFORMED / KEY_UNSUPPORTED for a bad PEM key.
 */
export async function signPayload(
  payload: Uint8Array,
  privateKey: string | PrivateKeyInfo,
  payloadType: string = IN_TOTO_PAYLOAD_TYPE,
): Promise<DSSEBundleJSON> {
  const key = typeof privateKey === 'string' ? privateKeyFromPEM(privateKey) : privateKey
  // Loaded on first use: commands that only verify never pay for @sigstore/sign.
  const [{ DSSEBundleBuilder }, { bundleToJSON }] = await Promise.all([
    import('@sigstore/sign'),
    import('@sigstore/bundle'),
  ])
  const builder = new DSSEBundleBuilder({ signer: localKeySigner(key), witnesses: [] })
  const bundle = await builder.create({ data: Buffer.from(payload), type: payloadType })
  return bundleToJSON(bundle) as unknown as DSSEBundleJSON
}

/**
 * Signs a rebuild statement (DESIGN §3) with a local key (PKCS#8 PEM or a loaded key): the payload is the
 * statement's RFC 8785 canonical JSON, so one statement always has one payload (and one payload hash).
 * Returns the Sigstore bundle v0.3 JSON (@sigstore/bundle's SerializedBundle) that POST /api/v1/entries takes.
 * Throws AttestationError DIGEST_INVALID / STATEMENT_INVALID before signing anything invalid, or a key error.
 */
export async function signStatement(
  statement: RebuildStatement,
  privateKey: string | PrivateKeyInfo,
): Promise<DSSEBundleJSON> {
  const payload = encodeUTF8(canonicalJSON(assertRebuildStatement(statement)))
  return signPayload(payload, privateKey)
}
