// The client's only door to the network: node:http(s) (or a given fetch) with a timeout per attempt, bounded
// retries with backoff, and one table from HTTP outcomes to ClientError codes. Nothing here trusts a
// response body.
import { isAscii } from 'node:buffer'
import { ClientError, misbehaving } from './errors.js'
import { nodeRequest, type RawResponse, type ResponseHeaders } from './node-http.js'

export type { ResponseHeaders } from './node-http.js'

/** The subset of the global `fetch` the client uses; tests and the CLI may pass their own. */
export type FetchFunction = (input: string, init?: RequestInit) => Promise<Response>

/** How the client talks HTTP. Every field has a default. */
export interface HttpOptions {
  /**
   * Default: node:http and node:https with keep-alive (nodeRequest), which follow redirects as fetch does;
   * the global fetch, or a test's, when given.
   */
  fetch?: FetchFunction
  /** Time limit of one attempt, headers and body, in ms. Default 10,000. */
  timeoutMs?: number
  /** Retries after the first attempt, for 429, 502, 503, 504 and network errors. Default 3. */
  retries?: number
  /** First backoff delay, doubled each retry (with jitter). Default 250 ms. */
  backoffMs?: number
  /**
   * Longest wait before a retry, in ms, whatever Retry-After asks. A Retry-After beyond it ends the
   * retries at once (NETWORK): a client that must answer an installer does not sleep for minutes. Default 10,000.
   */
  maxRetryDelayMs?: number
  /** Largest response body accepted, in bytes. Default 64 MiB. */
  maxResponseBytes?: number
  /** Waits `ms`; tests replace it to run retries without real time. */
  sleep?: (ms: number) => Promise<void>
}

/** A successful (2xx) response, body read in full. */
export interface HttpResponse {
  status: number
  headers: ResponseHeaders
  body: Uint8Array
}

const RETRY_STATUSES = new Set([429, 502, 503, 504])

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Parses a Retry-After header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) into milliseconds from
 * `now`; undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined
  const text = value.trim()
  if (/^[0-9]{1,9}$/.test(text)) return Number(text) * 1000
  // HTTP-dates (IMF-fixdate and the two obsolete forms) start with a day name; Date.parse alone takes "-1".
  if (!/^[A-Z][a-z]{2}/.test(text)) return undefined
  const date = Date.parse(text)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}

/** One log's HTTP endpoint. */
export class HttpTransport {
  readonly baseUrl: string
  private readonly fetchFn: FetchFunction | undefined
  private readonly timeoutMs: number
  private readonly retries: number
  private readonly backoffMs: number
  private readonly maxRetryDelayMs: number
  private readonly maxResponseBytes: number
  private readonly sleep: (ms: number) => Promise<void>

  /** Throws ClientError INVALID_ARGUMENT when `baseUrl` is not an http(s) URL. */
  constructor(baseUrl: string, opts: HttpOptions = {}) {
    let url: URL
    try {
      url = new URL(baseUrl)
    } catch (cause) {
      throw new ClientError('INVALID_ARGUMENT', `not a URL: ${baseUrl}`, { cause })
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ClientError('INVALID_ARGUMENT', `not an http(s) URL: ${baseUrl}`)
    }
    this.baseUrl = url.href.replace(/\/+$/, '')
    this.fetchFn = opts.fetch
    this.timeoutMs = opts.timeoutMs ?? 10_000
    this.retries = opts.retries ?? 3
    this.backoffMs = opts.backoffMs ?? 250
    this.maxRetryDelayMs = opts.maxRetryDelayMs ?? 10_000
    this.maxResponseBytes = opts.maxResponseBytes ?? 64 * 1024 * 1024
    this.sleep = opts.sleep ?? defaultSleep
  }

  /**
   * Sends one request (retrying as HttpOptions says) and returns a 2xx response. POSTs are retried too:
   * the log's only POST, a submission, is idempotent (the same key and statement get the same entry). Throws ClientError
   * NETWORK (unreachable, timeout, 5xx, retries exhausted), NOT_FOUND (404), REJECTED (other 4xx, with
   * the log's error code), LOG_MISBEHAVING (a body over the size limit).
   */
  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<HttpResponse> {
    const url = this.baseUrl + path
    const headers: Record<string, string> = { accept: 'application/json, text/plain, */*' }
    const text = body === undefined ? undefined : JSON.stringify(body)
    if (text !== undefined) headers['content-type'] = 'application/json'
    let resetRetried = false
    for (let attempt = 0; ; attempt++) {
      let response: RawResponse
      try {
        response = await this.send(method, url, headers, text)
      } catch (err) {
        if (err instanceof ClientError) throw err
        // A keep-alive connection the server closed just as it was reused: a GET is idempotent, so it is
        // sent again at once on a new connection, once, outside the retry budget (which may be 0).
        if (method === 'GET' && !resetRetried && isConnectionReset(err)) {
          resetRetried = true
          attempt--
          continue
        }
        const problem = networkProblem(err, this.timeoutMs)
        if (attempt < this.retries) {
          await this.sleep(this.backoff(attempt))
          continue
        }
        throw new ClientError('NETWORK', `${method} ${url}: ${problem}`, { cause: err })
      }
      const bytes = response.body
      if (response.status >= 200 && response.status < 300) return response
      if (RETRY_STATUSES.has(response.status)) {
        const problem = `HTTP ${response.status}${errorSuffix(bytes)}`
        if (attempt < this.retries) {
          const asked = parseRetryAfter(response.headers.get('retry-after'))
          if (asked !== undefined && asked > this.maxRetryDelayMs) {
            throw new ClientError(
              'NETWORK',
              `${method} ${url}: ${problem}, retry after ${asked} ms: too long`,
            )
          }
          await this.sleep(asked ?? this.backoff(attempt))
          continue
        }
        throw new ClientError('NETWORK', `${method} ${url}: ${problem} after ${attempt + 1} attempts`)
      }
      const logError = parseErrorBody(bytes)
      if (response.status === 404) {
        throw new ClientError('NOT_FOUND', `${method} ${url}: not found${errorSuffix(bytes)}`, {
          status: 404,
          ...(logError?.code !== undefined && { logCode: logError.code }),
        })
      }
      if (response.status >= 400 && response.status < 500) {
        throw new ClientError('REJECTED', `${method} ${url}: HTTP ${response.status}${errorSuffix(bytes)}`, {
          status: response.status,
          ...(logError?.code !== undefined && { logCode: logError.code }),
        })
      }
      throw new ClientError('NETWORK', `${method} ${url}: HTTP ${response.status}${errorSuffix(bytes)}`)
    }
  }

  /** GET and parse JSON; a 2xx body that is not JSON is LOG_MISBEHAVING (malformed). */
  async getJSON(path: string): Promise<unknown> {
    return parseJSONBody((await this.request('GET', path)).body, path)
  }

  /** GET a text resource (UTF-8, fatal on invalid bytes: a malformed answer). */
  async getText(path: string): Promise<string> {
    const { body } = await this.request('GET', path)
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(body)
    } catch (cause) {
      throw misbehaving('malformed', `${path}: answer is not UTF-8`, {}, cause)
    }
  }

  /** GET raw bytes. */
  async getBytes(path: string): Promise<Uint8Array> {
    return (await this.request('GET', path)).body
  }

  /** POST a JSON body; returns the status and the parsed JSON answer. */
  async postJSON(path: string, body: unknown): Promise<{ status: number; json: unknown }> {
    const response = await this.request('POST', path, body)
    return { status: response.status, json: parseJSONBody(response.body, path) }
  }

  private backoff(attempt: number): number {
    const ceiling = Math.min(this.maxRetryDelayMs, this.backoffMs * 2 ** attempt)
    // Half fixed, half jitter: clients that failed together do not retry together.
    return ceiling / 2 + Math.random() * (ceiling / 2)
  }

  /** One attempt: the whole answer, its size checked against maxResponseBytes as it arrives. */
  private async send(
    method: 'GET' | 'POST',
    url: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<RawResponse> {
    const checkSize = (bytes: number) => {
      if (bytes > this.maxResponseBytes)
        throw misbehaving(
          'malformed',
          `answer of ${bytes} bytes is over the ${this.maxResponseBytes} byte limit`,
        )
    }
    if (this.fetchFn === undefined)
      return nodeRequest({
        method,
        url,
        headers,
        ...(body !== undefined && { body }),
        timeoutMs: this.timeoutMs,
        checkSize,
      })
    const response = await this.fetchFn(url, {
      method,
      headers,
      ...(body !== undefined && { body }),
      signal: AbortSignal.timeout(this.timeoutMs),
    })
    try {
      checkSize(Number(response.headers.get('content-length') ?? '0'))
    } catch (err) {
      await response.body?.cancel()
      throw err
    }
    const bytes = new Uint8Array(await response.arrayBuffer())
    checkSize(bytes.length)
    return { status: response.status, headers: response.headers, body: bytes }
  }
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])

/**
 * True when `err` (or a cause of it) is a connection closed or reset under the request: what a reused
 * keep-alive connection gives when the server closed it at the same moment. A timeout is not one.
 */
export function isConnectionReset(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && RESET_CODES.has(code)) return true
    e = (e as { cause?: unknown }).cause
  }
  return false
}

function networkProblem(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`
  }
  // node:http's errors carry the code themselves; fetch's wrap the socket's error as their cause.
  const own = (err as { code?: unknown } | undefined)?.code
  if (err instanceof Error && typeof own === 'string') return `${own} (${err.message})`
  const cause =
    err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined
  if (cause && typeof cause.code === 'string')
    return `${cause.code}${cause.message ? ` (${String(cause.message)})` : ''}`
  return err instanceof Error ? err.message : String(err)
}

function parseJSONBody(body: Uint8Array, path: string): unknown {
  try {
    // Pure ASCII (what our log sends: it escapes the rest) is copied into a one-byte string as is, several
    // times faster than decoding megabytes as UTF-8; anything else is decoded strictly.
    const text = isAscii(body)
      ? Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1')
      : new TextDecoder('utf-8', { fatal: true }).decode(body)
    return JSON.parse(text) as unknown
  } catch (cause) {
    throw misbehaving('malformed', `${path}: answer is not JSON`, {}, cause)
  }
}

/** The `{"error":{"code","message"}}` body of DESIGN §6, when the answer is one. */
function parseErrorBody(body: Uint8Array): { code?: string; message?: string } | undefined {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(body)) as unknown
    if (typeof parsed !== 'object' || parsed === null) return undefined
    const error = (parsed as { error?: unknown }).error
    if (typeof error !== 'object' || error === null) return undefined
    const { code, message } = error as { code?: unknown; message?: unknown }
    return {
      ...(typeof code === 'string' && { code }),
      ...(typeof message === 'string' && { message }),
    }
  } catch {
    return undefined
  }
}

function errorSuffix(body: Uint8Array): string {
  const error = parseErrorBody(body)
  if (error === undefined) return ''
  // The log's text is untrusted: keep it on one short line so it cannot forge output.
  const text = `${error.code ?? ''}${error.message ? `: ${error.message}` : ''}`.replace(CONTROL_RE, ' ')
  return ` (${text.slice(0, 300)})`
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_RE = /[\u0000-\u001f\u007f]/g
