import type { RequestListener } from 'node:http'
import { describe, expect, it } from 'vitest'
import { ClientError, HttpTransport, parseRetryAfter, type FetchFunction } from '../src/index.js'

/** A fetch answering from a script of responses (or thrown errors), recording each call. */
function scripted(script: (() => Response | Promise<Response>)[]) {
  const calls: string[] = []
  const fetch: FetchFunction = async (input) => {
    calls.push(input)
    const next = script.shift()
    if (next === undefined) throw new Error('no more answers scripted')
    return next()
  }
  return { fetch, calls }
}

const ok = () => new Response('{"fine":true}', { status: 200 })
const status =
  (code: number, headers: Record<string, string> = {}, body = '') =>
  () =>
    new Response(body, { status: code, headers })

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(ClientError)
    return (err as ClientError).code
  }
  throw new Error('expected a ClientError')
}

describe('HttpTransport retries', () => {
  it('retries 503 and 429, waiting what Retry-After asks', async () => {
    const { fetch, calls } = scripted([
      status(503, { 'retry-after': '2' }),
      status(429, { 'retry-after': '1' }),
      ok,
    ])
    const waits: number[] = []
    const http = new HttpTransport('http://log.test', { fetch, sleep: async (ms) => void waits.push(ms) })
    expect(await http.getJSON('/x')).toEqual({ fine: true })
    expect(calls).toHaveLength(3)
    expect(waits).toEqual([2000, 1000])
  })

  it('backs off exponentially (with jitter, within bounds) when no Retry-After is given', async () => {
    const { fetch } = scripted([status(503), status(502), status(504), ok])
    const waits: number[] = []
    const http = new HttpTransport('http://log.test', {
      fetch,
      backoffMs: 100,
      sleep: async (ms) => void waits.push(ms),
    })
    await http.getJSON('/x')
    expect(waits).toHaveLength(3)
    waits.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual((100 * 2 ** i) / 2)
      expect(ms).toBeLessThanOrEqual(100 * 2 ** i)
    })
  })

  it('gives up with NETWORK after the retry budget', async () => {
    const { fetch, calls } = scripted([status(503), status(503), status(503)])
    const http = new HttpTransport('http://log.test', { fetch, retries: 2, sleep: async () => {} })
    expect(await codeOf(http.getJSON('/x'))).toBe('NETWORK')
    expect(calls).toHaveLength(3)
  })

  it('does not wait for a Retry-After beyond the bound', async () => {
    const { fetch, calls } = scripted([status(503, { 'retry-after': '3600' }), ok])
    const waits: number[] = []
    const http = new HttpTransport('http://log.test', { fetch, sleep: async (ms) => void waits.push(ms) })
    expect(await codeOf(http.getJSON('/x'))).toBe('NETWORK')
    expect(calls).toHaveLength(1)
    expect(waits).toEqual([])
  })

  it('retries network errors, then reports NETWORK', async () => {
    const refuse = () => {
      throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })
    }
    const { fetch, calls } = scripted([refuse, refuse])
    const http = new HttpTransport('http://log.test', { fetch, retries: 1, sleep: async () => {} })
    expect(await codeOf(http.getJSON('/x'))).toBe('NETWORK')
    expect(calls).toHaveLength(2)
  })

  it('times out a log that never answers', async () => {
    const fetch: FetchFunction = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal!.reason))
      })
    const http = new HttpTransport('http://log.test', { fetch, timeoutMs: 50, retries: 0 })
    expect(await codeOf(http.getJSON('/x'))).toBe('NETWORK')
  })
})

describe('HttpTransport error mapping', () => {
  it('maps 404 to NOT_FOUND and other 4xx to REJECTED with the log code', async () => {
    const body = JSON.stringify({ error: { code: 'KEY_NOT_ALLOWED', message: 'no' } })
    const { fetch } = scripted([status(404), status(403, {}, body)])
    const http = new HttpTransport('http://log.test', { fetch })
    expect(await codeOf(http.getJSON('/x'))).toBe('NOT_FOUND')
    try {
      await http.postJSON('/y', {})
      throw new Error('expected REJECTED')
    } catch (err) {
      expect((err as ClientError).code).toBe('REJECTED')
      expect((err as ClientError).logCode).toBe('KEY_NOT_ALLOWED')
      expect((err as ClientError).status).toBe(403)
    }
  })

  it('does not retry a 500, and reports it as NETWORK', async () => {
    const { fetch, calls } = scripted([status(500), ok])
    const http = new HttpTransport('http://log.test', { fetch, sleep: async () => {} })
    expect(await codeOf(http.getJSON('/x'))).toBe('NETWORK')
    expect(calls).toHaveLength(1)
  })

  it('treats a 2xx answer that is not JSON as LOG_MISBEHAVING', async () => {
    const { fetch } = scripted([() => new Response('<html>', { status: 200 })])
    expect(await codeOf(new HttpTransport('http://log.test', { fetch }).getJSON('/x'))).toBe(
      'LOG_MISBEHAVING',
    )
  })

  it('reads JSON answers in UTF-8, pure ASCII or not, and refuses bytes that are not UTF-8', async () => {
    const text = '{"note":"origin\\n\u2014 key caf\u00e9","escaped":"\\u2014"}'
    const { fetch } = scripted([
      () => new Response(text, { status: 200 }),
      () => new Response('{"note":"\\u2014 caf\\u00e9"}', { status: 200 }),
      () =>
        new Response(new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), { status: 200 }),
    ])
    const http = new HttpTransport('http://log.test', { fetch })
    expect(await http.getJSON('/x')).toEqual({ note: 'origin\n\u2014 key caf\u00e9', escaped: '\u2014' })
    expect(await http.getJSON('/x')).toEqual({ note: '\u2014 caf\u00e9' })
    expect(await codeOf(http.getJSON('/x'))).toBe('LOG_MISBEHAVING')
  })

  it('refuses an answer over the size limit', async () => {
    const { fetch } = scripted([() => new Response('x'.repeat(2000), { status: 200 })])
    const http = new HttpTransport('http://log.test', { fetch, maxResponseBytes: 1000 })
    expect(await codeOf(http.getBytes('/x'))).toBe('LOG_MISBEHAVING')
  })

  it('refuses a base URL that is not http(s)', () => {
    expect(() => new HttpTransport('ftp://log.test')).toThrow(ClientError)
    expect(() => new HttpTransport('not a url')).toThrow(ClientError)
  })
})

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP-dates (RFC 9110 §10.2.3)', () => {
    expect(parseRetryAfter('5')).toBe(5000)
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter(null)).toBeUndefined()
    expect(parseRetryAfter('soon')).toBeUndefined()
    expect(parseRetryAfter('-1')).toBeUndefined()
  })
})

describe('HttpTransport on a connection reset', () => {
  /** A real server on 127.0.0.1 that resets the connection of its first `resets` requests. */
  async function resettingServer(resets: number) {
    const { createServer } = await import('node:http')
    let seen = 0
    const server = createServer((req, res) => {
      seen++
      if (seen <= resets) {
        req.socket.resetAndDestroy()
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"fine":true}')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    return {
      url: `http://127.0.0.1:${port}`,
      seen: () => seen,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    }
  }

  it('sends a GET again once, at once, even with no retries left', async () => {
    const server = await resettingServer(1)
    try {
      const waits: number[] = []
      const http = new HttpTransport(server.url, { retries: 0, sleep: async (ms) => void waits.push(ms) })
      expect(await http.getJSON('/x')).toEqual({ fine: true })
      expect(server.seen()).toBe(2)
      expect(waits).toEqual([])
    } finally {
      await server.close()
    }
  })

  it('only once: a second reset is a network error (with no retries left), and a POST is not resent', async () => {
    const server = await resettingServer(3)
    try {
      const http = new HttpTransport(server.url, { retries: 0 })
      expect(await codeOf(http.getJSON('/x'))).toBe('NETWORK')
      expect(server.seen()).toBe(2)
      expect(await codeOf(http.postJSON('/y', {}))).toBe('NETWORK')
      expect(server.seen()).toBe(3)
    } finally {
      await server.close()
    }
  })
})

describe('HttpTransport over node:http (the default, no fetch given)', () => {
  /** A real server on 127.0.0.1 answering with `handler`. */
  async function serve(handler: RequestListener) {
    const { createServer } = await import('node:http')
    const server = createServer(handler)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    return {
      url: `http://127.0.0.1:${port}`,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        }),
    }
  }

  it('GETs and POSTs JSON, with the body and content type sent', async () => {
    const seen: { method?: string; type?: string; body: string }[] = []
    const server = await serve((req, res) => {
      let body = ''
      req.on('data', (chunk: Buffer) => (body += chunk.toString()))
      req.on('end', () => {
        seen.push({ method: req.method, type: req.headers['content-type'], body })
        res.writeHead(201, { 'content-type': 'application/json' }).end('{"fine":true}')
      })
    })
    try {
      const http = new HttpTransport(server.url)
      expect(await http.getJSON('/x')).toEqual({ fine: true })
      expect(await http.postJSON('/y', { a: 1 })).toEqual({ status: 201, json: { fine: true } })
      expect(seen).toEqual([
        { method: 'GET', type: undefined, body: '' },
        { method: 'POST', type: 'application/json', body: '{"a":1}' },
      ])
    } finally {
      await server.close()
    }
  })

  it('maps statuses as with fetch: 404 NOT_FOUND, 4xx REJECTED with the log code, 503 retried', async () => {
    let calls = 0
    const server = await serve((req, res) => {
      calls++
      if (req.url === '/missing') {
        res.writeHead(404).end()
        return
      }
      if (req.url === '/refused') {
        res.writeHead(403).end(JSON.stringify({ error: { code: 'KEY_NOT_ALLOWED', message: 'no' } }))
        return
      }
      if (calls === 3) {
        res.writeHead(503, { 'retry-after': '0' }).end()
        return
      }
      res.writeHead(200).end('"ok"')
    })
    try {
      const http = new HttpTransport(server.url, { sleep: async () => {} })
      expect(await codeOf(http.getJSON('/missing'))).toBe('NOT_FOUND')
      try {
        await http.getJSON('/refused')
        throw new Error('expected REJECTED')
      } catch (err) {
        expect((err as ClientError).logCode).toBe('KEY_NOT_ALLOWED')
      }
      expect(await http.getJSON('/later')).toBe('ok')
      expect(calls).toBe(4)
    } finally {
      await server.close()
    }
  })

  it('refuses an answer over the size limit, declared or streamed without a length', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/declared') {
        res.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5000))
        return
      }
      res.writeHead(200) // chunked: no content-length
      res.write('x'.repeat(600))
      res.end('x'.repeat(600))
    })
    try {
      const http = new HttpTransport(server.url, { maxResponseBytes: 1000 })
      expect(await codeOf(http.getBytes('/declared'))).toBe('LOG_MISBEHAVING')
      expect(await codeOf(http.getBytes('/chunked'))).toBe('LOG_MISBEHAVING')
    } finally {
      await server.close()
    }
  })

  it('times out a log that sends headers and then never the rest of the body', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '10' })
      res.write('12345')
    })
    try {
      const http = new HttpTransport(server.url, { timeoutMs: 100, retries: 0 })
      expect(await codeOf(http.getJSON('/x'))).toBe('NETWORK')
    } finally {
      await server.close()
    }
  })

  it('follows redirects as fetch does (a 303 after a POST becomes a GET)', async () => {
    const seen: string[] = []
    const server = await serve((req, res) => {
      seen.push(`${req.method} ${req.url}`)
      if (req.url === '/old') {
        res.writeHead(308, { location: '/new' }).end()
        return
      }
      if (req.url === '/post') {
        res.writeHead(303, { location: '/after' }).end()
        return
      }
      res.writeHead(200).end('"here"')
    })
    try {
      const http = new HttpTransport(server.url)
      expect(await http.getJSON('/old')).toBe('here')
      expect((await http.postJSON('/post', {})).json).toBe('here')
      expect(seen).toEqual(['GET /old', 'GET /new', 'POST /post', 'GET /after'])
    } finally {
      await server.close()
    }
  })

  it('reports a refused connection as NETWORK', async () => {
    const server = await serve((_req, res) => res.end())
    const url = server.url
    await server.close()
    const http = new HttpTransport(url, { retries: 0 })
    expect(await codeOf(http.getJSON('/x'))).toBe('NETWORK')
  })
})
