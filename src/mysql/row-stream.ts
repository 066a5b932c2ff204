// Streams a query's rows as raw values, with backpressure: a paused consumer pauses the socket.

import type { Connection as CoreConnection } from 'mysql2';
import type { Pool } from 'mysql2/promise';
import { acquireConnection, TabletError, type TabletRef } from './connection.ts';
import type { Row } from './sql.ts';

export interface StreamOptions {
  signal: AbortSignal;
  /** Rows buffered ahead of the consumer. */
  highWaterMark?: number;
}

/**
 * Yields every row of `sql` as raw bytes (no type conversion at all: exact values, no per-value parsing).
 * On abort or early exit the connection is destroyed rather than released, since it may still be mid-result.
 */
export async function* streamRows(pool: Pool, ref: TabletRef, doing: string, sql: string, opts: StreamOptions): AsyncGenerator<Row> {
  opts.signal.throwIfAborted();
  const conn = await acquireConnection(pool, ref, doing);
  // The promise wrapper's typings call this a promise Connection; at run time it is the callback one, which streams.
  const raw = conn.connection as unknown as CoreConnection;
  const stream = raw.query({ sql, rowsAsArray: true, typeCast: false }).stream({ highWaterMark: opts.highWaterMark ?? 1000 });
  const onAbort = () => stream.destroy(opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted'));
  opts.signal.addEventListener('abort', onAbort, { once: true });
  // mysql2 reports a connection that dies mid-result (KILL, server gone) to the connection, not to a query that
  // has no callback: without this the stream would wait for ever.
  const onConnectionError = (err: Error) => stream.destroy(err);
  raw.on('error', onConnectionError);
  let finished = false;
  try {
    for await (const row of stream) yield row as Row;
    finished = true;
  } catch (err) {
    if (opts.signal.aborted) throw opts.signal.reason;
    throw new TabletError(ref, doing, err);
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    raw.removeListener('error', onConnectionError);
    if (finished) conn.release();
    else conn.destroy();
  }
}
