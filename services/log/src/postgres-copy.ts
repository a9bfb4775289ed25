// Rows in PostgreSQL's binary COPY format (COPY ... FROM STDIN (FORMAT binary)), and the node-postgres
// submittable that sends them. A batch's leaves, dedup rows and lookup rows go in by COPY rather than
// INSERT ... SELECT FROM unnest(...): COPY inserts a page of rows at a time (one heap WAL record per page,
// not per row) and parses no expression per row, which took PostgreSQL's CPU per 1,000 entries from about
// 36 ms to 27 ms in the same run (docs/design/postgres.md).
import type pg from 'pg'

/** The binary COPY file header: signature, flags (none), header extension length (0). */
const HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)])
const INT8_BYTES = 8

/**
 * Writes tuples in the binary COPY format: each tuple is its field count, then each field as a 32-bit
 * length and its bytes. Only the types the log writes: int8 (bigint) and bytea. Pure; the caller writes
 * exactly the fields its COPY statement lists, in order.
 */
export class BinaryCopyWriter {
  private buffer: Buffer
  private length = 0

  /** `capacity`: the bytes expected (the buffer grows past it when needed). */
  constructor(capacity = 4096) {
    this.buffer = Buffer.allocUnsafe(Math.max(capacity, HEADER.length + 2))
    this.buffer.set(HEADER, 0)
    this.length = HEADER.length
  }

  /** Starts a tuple of `fields` fields. */
  tuple(fields: number): this {
    this.ensure(2)
    this.buffer.writeInt16BE(fields, this.length)
    this.length += 2
    return this
  }

  /** An int8 field. Throws RangeError outside the signed 64-bit range. */
  int8(value: bigint): this {
    this.ensure(4 + INT8_BYTES)
    this.buffer.writeInt32BE(INT8_BYTES, this.length)
    this.buffer.writeBigInt64BE(value, this.length + 4)
    this.length += 4 + INT8_BYTES
    return this
  }

  /** A bytea field. */
  bytea(value: Uint8Array): this {
    this.ensure(4 + value.length)
    this.buffer.writeInt32BE(value.length, this.length)
    this.buffer.set(value, this.length + 4)
    this.length += 4 + value.length
    return this
  }

  /** A bytea field given as hex (an even number of hex digits, which the caller has checked). */
  byteaHex(hex: string): this {
    const bytes = hex.length >>> 1
    this.ensure(4 + bytes)
    this.buffer.writeInt32BE(bytes, this.length)
    if (this.buffer.write(hex, this.length + 4, bytes, 'hex') !== bytes) {
      throw new Error('a bytea field in hex is not hex')
    }
    this.length += 4 + bytes
    return this
  }

  /** The whole COPY data, with its trailer; the writer is done. */
  finish(): Buffer {
    this.ensure(2)
    this.buffer.writeInt16BE(-1, this.length)
    this.length += 2
    return this.buffer.subarray(0, this.length)
  }

  private ensure(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes))
    this.buffer.copy(grown, 0, 0, this.length)
    this.buffer = grown
  }
}

/**
 * The part of node-postgres's connection a COPY FROM STDIN uses (present since pg 8, and what
 * pg-copy-streams uses; @types/pg does not declare them).
 */
interface CopyConnection {
  query(text: string): void
  sendCopyFromChunk(chunk: Buffer): void
  endCopyFrom(): void
  sendCopyFail(message: string): void
}

/**
 * Runs `sql` (one or more statements in the simple query protocol, e.g. `BEGIN; COPY a ...; COPY b ...`)
 * whose COPY FROM STDIN statements take `data`, in order. The data goes out with the query, without
 * waiting for the server to ask: the server reads each COPY's data from the connection in order, so the
 * whole transaction start is one round trip, however busy this process's event loop is when the server
 * answers. Rejects with the server's error (the statements after it do not run, and the server drops the
 * data still coming; in a transaction, the transaction is then aborted) or when the connection ends.
 */
export function copyIn(client: pg.ClientBase, sql: string, data: readonly Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let asked = 0
    let failed = false
    // node-postgres calls these as the server answers; after an error it forgets the query, so
    // handleReadyForQuery comes only on success.
    const submittable = {
      submit: (connection: CopyConnection) => {
        connection.query(sql)
        for (const chunk of data) {
          connection.sendCopyFromChunk(chunk)
          connection.endCopyFrom()
        }
      },
      handleCopyInResponse: (connection: CopyConnection) => {
        // More COPY statements than data: the server waits for data that is not coming.
        if (++asked > data.length) connection.sendCopyFail('more COPY statements than data')
      },
      handleError: (err: unknown) => {
        failed = true
        reject(err instanceof Error ? err : new Error(String(err)))
      },
      handleReadyForQuery: () => {
        if (failed) return
        if (asked !== data.length) reject(new Error(`${asked} COPY statements for ${data.length} data`))
        else resolve()
      },
      handleRowDescription: () => undefined,
      handleDataRow: () => undefined,
      handleCommandComplete: () => undefined,
      handleEmptyQuery: () => undefined,
      handlePortalSuspended: () => undefined,
      handleCopyData: () => undefined,
    }
    client.query(submittable as unknown as pg.Submittable)
  })
}
