// Load generation shared by the interop test, the reliability tests and the log benchmark: many distinct,
// validly signed submissions, made quickly, and a bounded-concurrency submitter over loopback.
import { createHash, sign } from 'node:crypto'
import { keepAliveAgent, rawRequest } from './http.js'
import {
  IN_TOTO_PAYLOAD_TYPE,
  SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
  buildStatement,
  canonicalJSON,
  dssePAE,
  generateKeyPair,
  privateKeyFromPEM,
  signStatement,
} from '@ledger/attestation'

export interface Rebuilder {
  privateKeyPem: string
  publicKeyPem: string
  keyId: string
}

export function newRebuilder(type: 'ecdsa-p256' | 'ed25519' = 'ecdsa-p256'): Rebuilder {
  const { privateKeyPem, publicKeyPem, keyId } = generateKeyPair(type)
  return { privateKeyPem, publicKeyPem, keyId }
}

function hex(label: string): string {
  return createHash('sha256').update(label).digest('hex')
}

/** The statement of rebuild number `n` of a series: a distinct artifact digest and commit for each n. */
export function rebuildStatement(series: string, n: number) {
  return buildStatement({
    artifacts: [{ name: `pkg-${n}.tar.gz`, sha256: hex(`${series}/artifact/${n}`) }],
    source: {
      uri: 'git+https://github.com/example/project',
      commit: hex(`${series}/commit/${n}`).slice(0, 40),
    },
    builderId: `https://rebuilders.example/${series}`,
  })
}

/** JSON bodies for POST /api/v1/entries, one per n in [from, to). */
export async function makeSubmissions(
  rebuilder: Rebuilder,
  series: string,
  from: number,
  to: number,
): Promise<string[]> {
  const bodies: string[] = []
  for (let n = from; n < to; n++) {
    const bundle = await signStatement(rebuildStatement(series, n), rebuilder.privateKeyPem)
    bodies.push(JSON.stringify({ bundle, publicKey: rebuilder.publicKeyPem }))
  }
  return bodies
}

/**
 * The same bodies as makeSubmissions (the same statements, the same bundle JSON shape that @sigstore/sign
 * produces), signed with node:crypto directly and synchronously: several times faster, for benchmarks that
 * pre-sign tens of thousands of submissions.
 */
export function signSubmissionsFast(
  rebuilder: Rebuilder,
  series: string,
  from: number,
  to: number,
): string[] {
  const { keyObject, publicKey } = privateKeyFromPEM(rebuilder.privateKeyPem)
  const ed25519 = publicKey.keyDetails === 'PKIX_ED25519'
  const bodies: string[] = []
  for (let n = from; n < to; n++) {
    const payload = Buffer.from(canonicalJSON(rebuildStatement(series, n)), 'utf8')
    const pae = dssePAE(IN_TOTO_PAYLOAD_TYPE, payload)
    const sig = ed25519
      ? sign(null, pae, keyObject)
      : sign('sha256', pae, { key: keyObject, dsaEncoding: 'der' })
    const bundle = {
      mediaType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
      verificationMaterial: { publicKey: { hint: rebuilder.keyId }, timestampVerificationData: {} },
      dsseEnvelope: {
        payload: payload.toString('base64'),
        payloadType: IN_TOTO_PAYLOAD_TYPE,
        signatures: [{ sig: sig.toString('base64'), keyid: rebuilder.keyId }],
      },
    }
    bodies.push(JSON.stringify({ bundle, publicKey: rebuilder.publicKeyPem }))
  }
  return bodies
}

export interface SubmitResult {
  status: number
  body: unknown
  ms: number
}

/**
 * POSTs every body with at most `concurrency` requests in flight; answers come back in body order. Each call
 * uses its own keep-alive agent, closed at the end: a pooled socket left idle across calls (while the caller
 * signs the next batch, the event loop busy) can be closed by the server just as it is reused.
 */
export async function submitAll(
  baseUrl: string,
  bodies: readonly string[],
  concurrency = 32,
): Promise<SubmitResult[]> {
  const results = new Array<SubmitResult>(bodies.length)
  const agent = keepAliveAgent(concurrency)
  const url = `${baseUrl}/api/v1/entries`
  let next = 0
  async function lane(): Promise<void> {
    while (next < bodies.length) {
      const i = next++
      const start = performance.now()
      const response = await rawRequest(agent, 'POST', url, bodies[i], { 'content-type': 'application/json' })
      const body = JSON.parse(response.body.toString('utf8')) as unknown
      results[i] = { status: response.status, body, ms: performance.now() - start }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, bodies.length) }, lane))
  } finally {
    agent.destroy()
  }
  return results
}
