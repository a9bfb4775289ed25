// A small node:http client for load tests and benchmarks: keep-alive connections through an http.Agent
// (fetch's pool is not tunable and costs more per request), raw bytes in and out, transport failures
// (connection refused or reset by a killed server) as rejections the caller can count.
import { Agent, request as httpRequest } from 'node:http'
import { isConnectionReset } from '@ledger/client'

export interface RawResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** A keep-alive agent holding at most `maxSockets` connections per host. */
export function keepAliveAgent(maxSockets = 64): Agent {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets })
}

/**
 * Sends one request and reads the whole answer. Rejects on any transport failure (refused, reset, a
 * socket closed before the answer was complete); an HTTP error status is an answer, not a failure.
 * A GET whose reused keep-alive connection was reset (the server closed it as it was reused) is sent
 * again once, as packages/client does: it never reached the server.
 */
export async function rawRequest(
  agent: Agent,
  method: 'GET' | 'POST',
  url: string,
  body?: string | Uint8Array,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  try {
    return await requestOnce(agent, method, url, body, headers)
  } catch (err) {
    if (method !== 'GET' || !isConnectionReset(err) || !(err as { reused?: boolean }).reused) throw err
    return requestOnce(agent, method, url, body, headers)
  }
}

function requestOnce(
  agent: Agent,
  method: 'GET' | 'POST',
  url: string,
  body?: string | Uint8Array,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url)
    const req = httpRequest(
      {
        agent,
        method,
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          if (!res.complete) reject(new Error(`${method} ${url}: the answer was cut short`))
          else resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
        })
        res.on('error', reject)
        res.on('aborted', () => reject(new Error(`${method} ${url}: the answer was aborted`)))
      },
    )
    req.on('error', (err: Error & { reused?: boolean }) => {
      err.reused = req.reusedSocket
      reject(err)
    })
    req.end(body)
  })
}

/** POSTs a JSON body to `<baseUrl>/api/v1/entries`. */
export function postEntry(agent: Agent, baseUrl: string, body: string): Promise<RawResponse> {
  return rawRequest(agent, 'POST', `${baseUrl}/api/v1/entries`, body, { 'content-type': 'application/json' })
}

/**
 * fetch(url) for an idempotent GET, sent again once when the connection is reset under it (a keep-alive
 * connection the server closed as it was reused), as packages/client does. The body is read here, so a
 * reset while reading it is retried too.
 */
export async function fetchGet(url: string): Promise<{ status: number; headers: Headers; body: Uint8Array }> {
  const once = async () => {
    const res = await fetch(url)
    return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) }
  }
  try {
    return await once()
  } catch (err) {
    if (!isConnectionReset(err)) throw err
    return once()
  }
}

/** fetchGet, parsed as JSON. */
export async function fetchJSON(url: string): Promise<unknown> {
  return JSON.parse(Buffer.from((await fetchGet(url)).body).toString('utf8')) as unknown
}
