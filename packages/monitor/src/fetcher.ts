import { entryBundlePath, tilePath, TILE_WIDTH, type EntryBundleId, type TileId } from '@ledger/tlog'
import { MonitorError } from './errors.js'

const REQUEST_TIMEOUT_MS = 30_000

/** Runs at most `limit` tasks at once, in arrival order. */
export class Limiter {
  private active = 0
  private readonly waiting: (() => void)[] = []
  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve))
    this.active++
    try {
      return await task()
    } finally {
      this.active--
      this.waiting.shift()?.()
    }
  }
}

/** An answer of the JSON API: its status and parsed body (undefined when not JSON). */
export interface JsonAnswer {
  status: number
  body: unknown
}

/**
 * Reads a log over HTTP: the C2SP static API (checkpoint, tiles, entry bundles) and the lookup of the
 * JSON API. Everything it returns is untrusted. Network errors, timeouts and 5xx/429 answers throw
 * MonitorError LOG_UNREACHABLE; a 4xx for a tile or bundle throws BAD_ANSWER. At most `concurrency`
 * requests are in flight.
 */
export class LogFetcher {
  private readonly limiter: Limiter

  constructor(
    private readonly baseUrl: string,
    concurrency: number,
    private readonly doFetch: typeof fetch = fetch,
  ) {
    this.limiter = new Limiter(concurrency)
  }

  private async get(path: string): Promise<{ status: number; bytes: Uint8Array }> {
    return this.limiter.run(async () => {
      let res: Response
      let bytes: Uint8Array
      try {
        res = await this.doFetch(`${this.baseUrl}/${path}`, {
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        })
        bytes = new Uint8Array(await res.arrayBuffer())
      } catch (cause) {
        throw new MonitorError('LOG_UNREACHABLE', `GET /${path}: ${(cause as Error).message}`, { cause })
      }
      if (res.status >= 500 || res.status === 429) {
        throw new MonitorError('LOG_UNREACHABLE', `GET /${path}: status ${res.status}`)
      }
      return { status: res.status, bytes }
    })
  }

  /** GET /checkpoint: the signed note bytes. */
  async checkpoint(): Promise<Uint8Array> {
    const { status, bytes } = await this.get('checkpoint')
    if (status !== 200) throw new MonitorError('LOG_UNREACHABLE', `GET /checkpoint: status ${status}`)
    return bytes
  }

  /**
   * The contents of hash tiles, in order. A partial tile the log no longer serves (it grew since the
   * checkpoint) is read from a wider version: the first W hashes of any later version are the same.
   */
  async tiles(tiles: readonly TileId[]): Promise<Uint8Array[]> {
    return Promise.all(
      tiles.map((tile) =>
        this.withFallback(tilePath(tile), tilePath({ ...tile, width: TILE_WIDTH }), tile.width, (b, w) =>
          b.subarray(0, w * 32),
        ),
      ),
    )
  }

  /** The bytes of entry bundles, in order, cut to their width when read from a wider version. */
  async entryBundles(bundles: readonly EntryBundleId[]): Promise<Uint8Array[]> {
    return Promise.all(
      bundles.map((bundle) =>
        this.withFallback(
          entryBundlePath(bundle),
          entryBundlePath({ ...bundle, width: TILE_WIDTH }),
          bundle.width,
          bundlePrefix,
        ),
      ),
    )
  }

  private async withFallback(
    path: string,
    fullPath: string,
    width: number,
    cut: (bytes: Uint8Array, width: number) => Uint8Array,
  ): Promise<Uint8Array> {
    const first = await this.get(path)
    if (first.status === 200) return first.bytes
    if (first.status === 404 && width < TILE_WIDTH) {
      const full = await this.get(fullPath)
      if (full.status === 200) return cut(full.bytes, width)
    }
    throw new MonitorError(
      'BAD_ANSWER',
      `GET /${path}: status ${first.status}, though the checkpoint implies it`,
    )
  }

  /** GET /api/v1/log: the log's description (its index, when it runs one). */
  async logInfo(): Promise<JsonAnswer> {
    const { status, bytes } = await this.get('api/v1/log')
    return { status, body: parseJson(bytes) }
  }

  /** GET /api/v1/lookup for a digest or commit, one page. */
  async lookup(
    query: { digest: string } | { commit: string },
    cursor: string | undefined,
  ): Promise<JsonAnswer> {
    const params = new URLSearchParams(
      'digest' in query ? { digest: query.digest } : { commit: query.commit },
    )
    params.set('limit', '1000')
    if (cursor !== undefined) params.set('cursor', cursor)
    const { status, bytes } = await this.get(`api/v1/lookup?${params}`)
    return { status, body: parseJson(bytes) }
  }
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    return undefined
  }
}

/**
 * The first `width` entries of an entry bundle (uint16 big-endian length + bytes each), as bytes; the
 * whole input when it holds fewer (decodeEntryBundle then refuses it).
 */
export function bundlePrefix(bytes: Uint8Array, width: number): Uint8Array {
  let offset = 0
  for (let i = 0; i < width && offset + 2 <= bytes.length; i++)
    offset += 2 + ((bytes[offset]! << 8) | bytes[offset + 1]!)
  return offset <= bytes.length ? bytes.subarray(0, offset) : bytes
}
