// The client's default way onto the network: node:http and node:https, not the global fetch. Node 20's
// fetch is undici, which a process loads on its first call (a large module and a WebAssembly HTTP parser
// that V8 then recompiles in the background, and a process cannot exit before that compilation is done:
// a few hundred milliseconds at the end of every `attest verify`). node:http parses with the llhttp built
// into Node and costs a fraction of that to load.
import type { Agent, IncomingMessage, request as httpRequest, RequestOptions } from 'node:http'

/** Header lookup of a response, case-insensitive; `Headers` of the fetch API fits it. */
export interface ResponseHeaders {
  get(name: string): string | null
}

/** One attempt's answer: status, headers and the whole body. */
export interface RawResponse {
  status: number
  headers: ResponseHeaders
  body: Uint8Array
}

/** What one attempt is asked to do. */
export interface RawRequest {
  method: 'GET' | 'POST'
  url: string
  headers: Record<string, string>
  body?: string
  /** Headers and body within this many ms, else the attempt fails with a TimeoutError. */
  timeoutMs: number
  /**
   * Called with the size the response declares (content-length) before its body is read, and with the
   * size received as the body arrives: a throw ends the attempt with that error, nothing more is read.
   */
  checkSize: (bytes: number) => void
}

/** Redirects followed, as fetch follows them (its limit). */
const MAX_REDIRECTS = 20
const REDIRECTS = new Set([301, 302, 303, 307, 308])

interface Transport {
  request: typeof httpRequest
  agent: Agent
}
let plain: Promise<Transport> | undefined
let secure: Promise<Transport> | undefined

// Loaded on first use: node:https brings TLS, which a log on http:// does not need. Idle keep-alive
// sockets are unref'd by the agent, so they never keep a finished process alive.
function transportFor(protocol: string): Promise<Transport> {
  if (protocol === 'https:') {
    secure ??= import('node:https').then((m) => ({
      request: m.request,
      agent: new m.Agent({ keepAlive: true }),
    }))
    return secure
  }
  plain ??= import('node:http').then((m) => ({ request: m.request, agent: new m.Agent({ keepAlive: true }) }))
  return plain
}

/**
 * Sends one request with node:http(s) and reads the whole answer, following redirects as fetch does
 * (303, and 301/302 after a POST, become a GET without a body). Rejects with the socket's error (its
 * `code`: ECONNREFUSED, ECONNRESET...), an Error named TimeoutError, or what `checkSize` throws.
 */
export async function nodeRequest(req: RawRequest): Promise<RawResponse> {
  const deadline = Date.now() + req.timeoutMs
  let { method, body } = req
  let url = new URL(req.url)
  for (let redirects = 0; ; redirects++) {
    const answer = await attempt(url, method, req.headers, body, deadline - Date.now(), req.timeoutMs, req)
    const location = answer.headers.get('location')
    if (!REDIRECTS.has(answer.status) || location === null) return answer
    if (redirects === MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`)
    url = new URL(location, url)
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new Error(`redirect to a URL that is not http(s): ${url.protocol}`)
    if (answer.status === 303 || (method === 'POST' && (answer.status === 301 || answer.status === 302))) {
      method = 'GET'
      body = undefined
    }
  }
}

function timeoutError(ms: number): Error {
  const err = new Error(`no answer within ${ms} ms`)
  err.name = 'TimeoutError'
  return err
}

async function attempt(
  url: URL,
  method: 'GET' | 'POST',
  headers: Record<string, string>,
  body: string | undefined,
  remainingMs: number,
  timeoutMs: number,
  req: RawRequest,
): Promise<RawResponse> {
  if (remainingMs <= 0) throw timeoutError(timeoutMs)
  const { request, agent } = await transportFor(url.protocol)
  return new Promise<RawResponse>((resolve, reject) => {
    const options: RequestOptions = {
      method,
      agent,
      headers:
        body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    }
    let settled = false
    const finish = (err: Error | undefined, value?: RawResponse) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (err !== undefined) {
        outgoing.destroy()
        reject(err)
      } else resolve(value!)
    }
    const outgoing = request(url, options, (res: IncomingMessage) => {
      const chunks: Buffer[] = []
      let received = 0
      try {
        const declared = res.headers['content-length']
        if (declared !== undefined) req.checkSize(Number(declared))
      } catch (err) {
        res.destroy()
        return finish(err as Error)
      }
      res.on('data', (chunk: Buffer) => {
        received += chunk.length
        try {
          req.checkSize(received)
        } catch (err) {
          res.destroy()
          return finish(err as Error)
        }
        chunks.push(chunk)
      })
      res.on('end', () => {
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)
        finish(undefined, {
          status: res.statusCode ?? 0,
          headers: headersOf(res),
          body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
        })
      })
      res.on('error', (err) => finish(err))
      res.on('close', () => {
        if (!res.complete)
          finish(Object.assign(new Error('connection closed mid-answer'), { code: 'ECONNRESET' }))
      })
    })
    const timer = setTimeout(() => finish(timeoutError(timeoutMs)), remainingMs)
    outgoing.on('error', (err) => finish(err))
    outgoing.end(body)
  })
}

function headersOf(res: IncomingMessage): ResponseHeaders {
  return {
    get(name: string): string | null {
      const value = res.headers[name.toLowerCase()]
      if (value === undefined) return null
      return Array.isArray(value) ? value.join(', ') : value
    },
  }
}
