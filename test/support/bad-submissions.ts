// A corpus of POST /api/v1/entries bodies the log must refuse, each with the status and error code the
// server documents for it (services/log/src/errors.ts, DESIGN §3 and §6). Generated fresh (real keys, real
// signatures) from one valid submission, so each case breaks exactly one thing. Shared by the bad-input
// test and anything else that wants hostile traffic.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import {
  IN_TOTO_PAYLOAD_TYPE,
  SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
  buildStatement,
  dssePAE,
  generateKeyPair,
  signPayload,
  signStatement,
  type DSSEBundleJSON,
  type GeneratedKeyPair,
} from '@ledger/attestation'
import { rebuildStatement } from './load.js'

export interface BadSubmission {
  /** What is wrong with it. */
  name: string
  body: string | Uint8Array
  /** The Content-Type sent; undefined sends none. */
  contentType: string | undefined
  /** Send the body with chunked transfer encoding (no Content-Length). */
  chunked?: boolean
  status: number
  code: string
}

const JSON_TYPE = 'application/json'

/** A statement being broken on purpose: any field may be written with anything. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any

function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
}

/** A DSSE bundle v0.3 assembled by hand: for keys and signature encodings @sigstore/sign will not produce. */
function handBundle(payload: Uint8Array, signature: Uint8Array, keyId: string): DSSEBundleJSON {
  return {
    mediaType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: keyId } },
    dsseEnvelope: {
      payload: Buffer.from(payload).toString('base64'),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: Buffer.from(signature).toString('base64'), keyid: keyId }],
    },
  } as DSSEBundleJSON
}

function encode(value: unknown): string {
  return JSON.stringify(value)
}

/**
 * Builds the corpus. `valid` is the submitting key; the cases use fresh statements of `series` (so none of
 * them would collide with entries a test made), and `bodyLimit` is the server's configured body limit.
 */
export async function badSubmissions(series: string, bodyLimit: number): Promise<BadSubmission[]> {
  const key: GeneratedKeyPair = generateKeyPair('ecdsa-p256')
  const other = generateKeyPair('ecdsa-p256')
  const ed = generateKeyPair('ed25519')
  const statement = rebuildStatement(series, 0)
  const bundle = await signStatement(statement, key.privateKeyPem)
  const good = { bundle, publicKey: key.publicKeyPem }
  const goodBody = encode(good)
  const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64')
  const cases: BadSubmission[] = []
  const add = (
    name: string,
    status: number,
    code: string,
    body: string | Uint8Array,
    contentType = JSON_TYPE,
  ) => cases.push({ name, body, contentType, status, code })
  const submission = (b: unknown, publicKey: unknown = key.publicKeyPem) => encode({ bundle: b, publicKey })
  const clone = () => structuredClone(bundle)
  /** The bundle of `value` (any JSON, or raw bytes) signed by `key` as an in-toto payload. */
  const signedPayload = (value: unknown) =>
    signPayload(value instanceof Uint8Array ? value : Buffer.from(encode(value)), key.privateKeyPem)
  const statementWith = (mutate: (s: Loose) => void) => {
    const s = structuredClone(statement) as Loose
    mutate(s)
    return s
  }

  // Not JSON at all, or not a submission object. 400 for bytes that are not UTF-8 JSON, 422 for JSON that
  // breaks the submission schema.
  add('not JSON', 400, 'MALFORMED_REQUEST', 'bundle=yes&publicKey=no')
  add('empty body', 400, 'MALFORMED_REQUEST', '')
  add(
    'truncated body (the bundle cut in half)',
    400,
    'MALFORMED_REQUEST',
    goodBody.slice(0, goodBody.length >> 1),
  )
  add('not UTF-8', 400, 'MALFORMED_REQUEST', new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]))
  add('JSON array', 422, 'INVALID_SUBMISSION', encode([good]))
  add('JSON string', 422, 'INVALID_SUBMISSION', encode(goodBody))
  add('JSON null', 422, 'INVALID_SUBMISSION', 'null')
  add('JSON number', 422, 'INVALID_SUBMISSION', '201')
  add('missing publicKey', 422, 'INVALID_SUBMISSION', encode({ bundle }))
  add('missing bundle', 422, 'INVALID_SUBMISSION', encode({ publicKey: key.publicKeyPem }))
  add('extra top-level field', 422, 'INVALID_SUBMISSION', encode({ ...good, comment: 'hi' }))
  add('extra field in the bundle', 422, 'INVALID_SUBMISSION', submission({ ...bundle, extra: 1 }))
  add(
    'extra field in the DSSE envelope',
    422,
    'INVALID_SUBMISSION',
    submission({ ...bundle, dsseEnvelope: { ...bundle.dsseEnvelope, extra: 1 } }),
  )
  add('publicKey is a number', 422, 'INVALID_SUBMISSION', submission(bundle, 42))
  add('bundle is a JSON string of the bundle', 422, 'INVALID_SUBMISSION', submission(encode(bundle)))
  add('bundle is an array', 422, 'INVALID_SUBMISSION', submission([bundle]))
  {
    const { dsseEnvelope: _envelope, ...rest } = clone()
    add('truncated bundle: no dsseEnvelope', 422, 'INVALID_SUBMISSION', submission(rest))
  }
  {
    const { verificationMaterial: _material, ...rest } = clone()
    add('truncated bundle: no verificationMaterial', 422, 'INVALID_SUBMISSION', submission(rest))
  }
  add(
    'bundle v0.2 media type',
    422,
    'INVALID_SUBMISSION',
    submission({ ...bundle, mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2' }),
  )
  add(
    'certificate instead of a public key hint',
    422,
    'INVALID_SUBMISSION',
    submission({
      ...bundle,
      verificationMaterial: { certificate: { rawBytes: Buffer.from('not a cert').toString('base64') } },
    }),
  )
  {
    const { dsseEnvelope: _envelope, ...rest } = clone()
    const messageSignature = {
      messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') },
      signature: bundle.dsseEnvelope.signatures[0]!.sig,
    }
    add(
      'a message signature, not a DSSE envelope',
      422,
      'INVALID_SUBMISSION',
      submission({ ...rest, messageSignature }),
    )
  }
  {
    const b = clone()
    b.verificationMaterial.tlogEntries = Array.from({ length: 5 }, () => ({}))
    add('five tlog entries', 422, 'INVALID_SUBMISSION', submission(b))
  }

  // Content type and size.
  add('text/plain', 415, 'UNSUPPORTED_MEDIA_TYPE', goodBody, 'text/plain')
  add('form encoded', 415, 'UNSUPPORTED_MEDIA_TYPE', goodBody, 'application/x-www-form-urlencoded')
  add('application/jsonp', 415, 'UNSUPPORTED_MEDIA_TYPE', goodBody, 'application/jsonp')
  cases.push({
    name: 'no Content-Type',
    body: goodBody,
    contentType: undefined,
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  })
  const oversized = encode({ ...good, padding: 'x'.repeat(bodyLimit) })
  add('body over the limit (Content-Length)', 413, 'PAYLOAD_TOO_LARGE', oversized)
  cases.push({
    name: 'body over the limit (chunked)',
    body: oversized,
    contentType: JSON_TYPE,
    chunked: true,
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  })

  // The DSSE envelope.
  {
    const b = clone()
    b.dsseEnvelope.payload = '!!not*base64!!'
    add('payload not base64', 422, 'INVALID_SUBMISSION', submission(b))
  }
  {
    const b = clone()
    // 'QR==' decodes to the byte 0x41 with nonzero padding bits: base64 that is not canonical.
    b.dsseEnvelope.payload = 'QR=='
    add('payload in non-canonical base64', 422, 'INVALID_SUBMISSION', submission(b))
  }
  {
    const b = clone()
    b.dsseEnvelope.payload = ''
    add('empty payload', 422, 'INVALID_SUBMISSION', submission(b))
  }
  {
    const b = clone()
    b.dsseEnvelope.signatures.push({ ...b.dsseEnvelope.signatures[0]! })
    add('two signatures', 422, 'INVALID_SUBMISSION', submission(b))
  }
  {
    const b = clone()
    b.dsseEnvelope.signatures = []
    add('zero signatures', 422, 'INVALID_SUBMISSION', submission(b))
  }
  {
    const b = clone()
    b.dsseEnvelope.signatures[0]!.sig = 'not base64!'
    add('signature not base64', 422, 'INVALID_SUBMISSION', submission(b))
  }
  add(
    'wrong payloadType (signed as such)',
    422,
    'INVALID_SUBMISSION',
    submission(await signPayload(payload, key.privateKeyPem, 'application/vnd.in-toto+json; charset=utf-8')),
  )
  {
    const b = clone()
    b.dsseEnvelope.payloadType = 'application/json'
    add('wrong payloadType (changed after signing)', 422, 'INVALID_SUBMISSION', submission(b))
  }

  // Signatures and keys.
  {
    const b = await signStatement(statement, other.privateKeyPem)
    b.verificationMaterial.publicKey.hint = key.keyId
    b.dsseEnvelope.signatures[0]!.keyid = key.keyId
    add('signature by another key', 422, 'BAD_SIGNATURE', submission(b))
  }
  {
    const b = clone()
    const sig = Buffer.from(b.dsseEnvelope.signatures[0]!.sig, 'base64')
    sig[sig.length - 1]! ^= 0x01
    b.dsseEnvelope.signatures[0]!.sig = sig.toString('base64')
    add('signature with a flipped bit', 422, 'BAD_SIGNATURE', submission(b))
  }
  {
    const b = clone()
    b.dsseEnvelope.payload = Buffer.from(encode(rebuildStatement(series, 1))).toString('base64')
    add('payload swapped after signing', 422, 'BAD_SIGNATURE', submission(b))
  }
  {
    // DESIGN §3: ECDSA signatures are DER; the IEEE P1363 (r || s) form of a valid signature is refused.
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const pae = dssePAE(IN_TOTO_PAYLOAD_TYPE, payload)
    const p1363 = sign('sha256', pae, { key: pair.privateKey, dsaEncoding: 'ieee-p1363' })
    add(
      'ECDSA signature in IEEE P1363 form, not DER',
      422,
      'BAD_SIGNATURE',
      submission(
        handBundle(payload, p1363, keyIdOf(pair.publicKey)),
        pair.publicKey.export({ type: 'spki', format: 'pem' }),
      ),
    )
  }
  {
    const b = await signStatement(statement, ed.privateKeyPem)
    const sig = Buffer.from(b.dsseEnvelope.signatures[0]!.sig, 'base64')
    b.dsseEnvelope.signatures[0]!.sig = sig.subarray(0, 60).toString('base64')
    add('Ed25519 signature truncated', 422, 'BAD_SIGNATURE', submission(b, ed.publicKeyPem))
  }
  {
    const b = await signStatement(statement, ed.privateKeyPem)
    add('Ed25519 bundle with a P-256 public key', 422, 'KEY_MISMATCH', submission(b, key.publicKeyPem))
  }
  {
    const b = clone()
    b.verificationMaterial.publicKey.hint = other.keyId
    add('hint not the key id', 422, 'KEY_MISMATCH', submission(b))
  }
  {
    const b = clone()
    b.dsseEnvelope.signatures[0]!.keyid = other.keyId
    add('signature keyid not the key id', 422, 'KEY_MISMATCH', submission(b))
  }
  {
    const b = clone()
    b.verificationMaterial.publicKey.hint = key.keyId.toUpperCase()
    add('hint in uppercase hex', 422, 'INVALID_SUBMISSION', submission(b))
  }
  for (const [name, pair, hash] of [
    ['ECDSA P-384 key', generateKeyPairSync('ec', { namedCurve: 'P-384' }), 'sha384'],
    ['ECDSA secp256k1 key', generateKeyPairSync('ec', { namedCurve: 'secp256k1' }), 'sha256'],
    ['Ed448 key', generateKeyPairSync('ed448'), null],
  ] as const) {
    // Validly signed by that key, with the right hint: refused for its type alone (DESIGN §3: 422).
    const signature = sign(hash, dssePAE(IN_TOTO_PAYLOAD_TYPE, payload), pair.privateKey)
    add(
      name,
      422,
      'UNSUPPORTED_KEY',
      submission(
        handBundle(payload, signature, keyIdOf(pair.publicKey)),
        pair.publicKey.export({ type: 'spki', format: 'pem' }),
      ),
    )
  }
  {
    // An RSA key whose "signature" fits the submission schema's cap on `sig` (256 base64 characters, which
    // a real RSA signature exceeds: see rsaSignedSubmission): the key type alone must refuse it.
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const short = sign(
      'sha256',
      Buffer.from('not the PAE'),
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    )
    add(
      'RSA 2048 key (signature under the schema cap)',
      422,
      'UNSUPPORTED_KEY',
      submission(
        handBundle(payload, short, keyIdOf(rsa.publicKey)),
        rsa.publicKey.export({ type: 'spki', format: 'pem' }),
      ),
    )
  }
  add(
    'garbage PEM',
    422,
    'INVALID_SUBMISSION',
    submission(
      bundle,
      `-----BEGIN PUBLIC KEY-----\n${'A'.repeat(64)}\n${'@'.repeat(20)}\n-----END PUBLIC KEY-----\n`,
    ),
  )
  add(
    'PEM of random bytes',
    422,
    'INVALID_SUBMISSION',
    submission(
      bundle,
      `-----BEGIN PUBLIC KEY-----\n${Buffer.alloc(91, 7).toString('base64')}\n-----END PUBLIC KEY-----\n`,
    ),
  )
  add('private key PEM as the public key', 422, 'INVALID_SUBMISSION', submission(bundle, key.privateKeyPem))
  add(
    'public key PEM cut short',
    422,
    'INVALID_SUBMISSION',
    submission(bundle, key.publicKeyPem.slice(0, 80)),
  )

  // Validly signed payloads that are not rebuild statements (DESIGN §3).
  add('payload not JSON', 422, 'INVALID_STATEMENT', submission(await signedPayload(Buffer.from('just text'))))
  add(
    'payload JSON but not a statement',
    422,
    'INVALID_STATEMENT',
    submission(await signedPayload({ any: 1 })),
  )
  add(
    'statement without subject',
    422,
    'INVALID_STATEMENT',
    submission(await signedPayload(statementWith((s) => delete s.subject))),
  )
  add(
    'statement with an empty subject list',
    422,
    'INVALID_STATEMENT',
    submission(await signedPayload(statementWith((s) => (s.subject = [])))),
  )
  add(
    'subject digest in uppercase hex',
    422,
    'INVALID_STATEMENT',
    submission(
      await signedPayload(
        statementWith((s) => (s.subject[0].digest.sha256 = String(s.subject[0].digest.sha256).toUpperCase())),
      ),
    ),
  )
  add(
    'subject digest too short',
    422,
    'INVALID_STATEMENT',
    submission(await signedPayload(statementWith((s) => (s.subject[0].digest.sha256 = 'ab'.repeat(31))))),
  )
  add(
    'subject with none of sha256, sha384, sha512, blake2b',
    422,
    'INVALID_STATEMENT',
    submission(await signedPayload(statementWith((s) => (s.subject[0].digest = { sha1: 'ab'.repeat(20) })))),
  )
  add(
    'subject sha512 digest in uppercase hex',
    422,
    'INVALID_STATEMENT',
    submission(
      await signedPayload(statementWith((s) => (s.subject[0].digest = { sha512: 'AB'.repeat(64) }))),
    ),
  )
  add(
    'subject blake2b digest of 32 bytes',
    422,
    'INVALID_STATEMENT',
    submission(
      await signedPayload(statementWith((s) => (s.subject[0].digest = { blake2b: 'ab'.repeat(32) }))),
    ),
  )
  add(
    'subject sha384 digest that is not a string',
    422,
    'INVALID_STATEMENT',
    submission(await signedPayload(statementWith((s) => (s.subject[0].digest = { sha384: 12 })))),
  )
  add(
    'no gitCommit dependency',
    422,
    'INVALID_STATEMENT',
    submission(
      await signedPayload(
        statementWith(
          (s) => (s.predicate.buildDefinition.resolvedDependencies[0].digest = { sha256: 'ab'.repeat(32) }),
        ),
      ),
    ),
  )
  add(
    'two gitCommit dependencies',
    422,
    'INVALID_STATEMENT',
    submission(
      await signedPayload(
        statementWith((s) =>
          s.predicate.buildDefinition.resolvedDependencies.push({
            uri: 'git+https://github.com/example/other',
            digest: { gitCommit: 'cd'.repeat(20) },
          }),
        ),
      ),
    ),
  )
  add(
    'gitCommit in uppercase hex',
    422,
    'INVALID_STATEMENT',
    submission(
      await signedPayload(
        statementWith(
          (s) => (s.predicate.buildDefinition.resolvedDependencies[0].digest.gitCommit = 'AB'.repeat(20)),
        ),
      ),
    ),
  )
  add(
    'wrong predicateType',
    422,
    'INVALID_STATEMENT',
    submission(
      await signedPayload(statementWith((s) => (s.predicateType = 'https://slsa.dev/provenance/v0.2'))),
    ),
  )
  add(
    'wrong statement _type',
    422,
    'INVALID_STATEMENT',
    submission(await signedPayload(statementWith((s) => (s._type = 'https://in-toto.io/Statement/v0.1')))),
  )
  add(
    'builder id not a URI',
    422,
    'INVALID_STATEMENT',
    submission(await signedPayload(statementWith((s) => (s.predicate.runDetails.builder.id = 'my laptop')))),
  )
  add(
    'predicate missing',
    422,
    'INVALID_STATEMENT',
    submission(await signedPayload(statementWith((s) => delete s.predicate))),
  )

  // Sizes of what would be logged: a leaf holds at most 65,535 bytes (DESIGN §4).
  const padded = (length: number) =>
    buildStatement({
      artifacts: [{ name: 'big.tgz', sha256: 'ab'.repeat(32) }],
      source: { uri: 'git+https://github.com/example/project', commit: 'cd'.repeat(20) },
      builderId: `https://rebuilders.example/${series}`,
      externalParameters: { padding: 'p'.repeat(length) },
    })
  add(
    'statement that makes a leaf over 65,535 bytes',
    413,
    'PAYLOAD_TOO_LARGE',
    submission(await signStatement(padded(50_000), key.privateKeyPem)),
  )
  add(
    'payload over 65,535 bytes',
    422,
    'INVALID_SUBMISSION',
    submission(await signStatement(padded(70_000), key.privateKeyPem)),
  )
  return cases
}

/**
 * A submission validly signed by an RSA 2048 key, with the right hint: what a user with an RSA key sends.
 * DESIGN §3 refuses the key type (422); errors.ts names the code UNSUPPORTED_KEY.
 */
export async function rsaSignedSubmission(series: string): Promise<BadSubmission> {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const payload = Buffer.from(encode(rebuildStatement(series, 0)))
  const signature = sign('sha256', dssePAE(IN_TOTO_PAYLOAD_TYPE, payload), pair.privateKey)
  return {
    name: 'RSA 2048 key, really signed',
    body: encode({
      bundle: handBundle(payload, signature, keyIdOf(pair.publicKey)),
      publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }),
    }),
    contentType: JSON_TYPE,
    status: 422,
    code: 'UNSUPPORTED_KEY',
  }
}
