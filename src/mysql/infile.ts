// Runs one LOAD DATA LOCAL INFILE whose file is a Buffer, and refuses any result but every row loaded cleanly.
// With LOCAL the server cannot stop the client mid-file, so it turns bad rows into warnings (and duplicate keys
// into skipped rows) instead of errors: a warning, or a row count that differs, fails the batch.

import { Readable, type Duplex } from 'node:stream';
import type { Connection as CoreConnection, ResultSetHeader } from 'mysql2';
import { TabletError, type Pool, type PoolConnection, type TabletRef } from './connection.ts';

/** Bytes handed to mysql2 at once: each piece becomes one protocol packet. */
const PIECE = 256 * 1024;
/** Socket bytes not yet sent past which the next piece waits for 'drain' (mysql2's pump itself never waits). */
const SOCKET_HIGH = 512 * 1024;

/** A stream of `data` that only hands mysql2 the next piece while the socket has room for it. */
function infileStream(data: Buffer, socket: Duplex): Readable {
  let offset = 0;
  const stream: Readable = new Readable({
    // One piece per read(): a read pushing several would run ahead of what the socket has taken.
    highWaterMark: 1,
    read() {
      const next = () => {
        if (offset >= data.length) {
          stream.push(null);
          return;
        }
        const piece = data.subarray(offset, offset + PIECE);
        offset += piece.length;
        stream.push(piece);
      };
      if (socket.writableLength >= SOCKET_HIGH) socket.once('drain', next);
      else next();
    },
  });
  return stream;
}

interface Warning {
  Level: string;
  Code: number;
  Message: string;
}

/** MySQL/MariaDB errors that mean LOAD DATA LOCAL is refused (local_infile off on the server, or the client). */
const LOCAL_REFUSED = new Set([1148, 3948, 4166]);

export async function loadDataOn(pool: Pool, ref: TabletRef, doing: string, sql: string, data: Buffer, rows: number): Promise<void> {
  let conn: PoolConnection;
  try {
    conn = await pool.getConnection();
  } catch (err) {
    throw new TabletError(ref, doing, err);
  }
  let healthy = false;
  try {
    const socket = (conn.connection as unknown as CoreConnection & { stream: Duplex }).stream;
    let result: ResultSetHeader;
    try {
      [result] = await conn.query<ResultSetHeader>({ sql, infileStreamFactory: () => infileStream(data, socket) });
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (errno !== undefined && LOCAL_REFUSED.has(errno)) {
        throw new TabletError(ref, doing, new Error(`${(err as Error).message} (the load-data write method needs local_infile=ON on the server; or use --write-method insert)`));
      }
      throw err;
    }
    if (result.warningStatus > 0) {
      const [warnings] = await conn.query<(Warning & import('mysql2').RowDataPacket)[]>('SHOW WARNINGS LIMIT 5');
      const what = warnings.map((w) => `${w.Level} ${w.Code}: ${w.Message}`).join('; ');
      const err = new Error(`${result.warningStatus} warning(s) loading ${rows} rows, so rows may be dropped or altered: ${what}`);
      // Duplicates only (LOCAL turns them into warnings): keep the errno, so a retry can tell a batch that had landed.
      if (warnings.length && warnings.every((w) => Number(w.Code) === 1062)) throw Object.assign(err, { errno: 1062 });
      throw err;
    }
    if (result.affectedRows !== rows) throw new Error(`loaded ${result.affectedRows} rows of ${rows} (${result.info})`);
    healthy = true;
  } catch (err) {
    throw err instanceof TabletError ? err : new TabletError(ref, doing, err);
  } finally {
    // A failed load may leave the connection mid-protocol: never hand it to the next batch.
    if (healthy) conn.release();
    else conn.destroy();
  }
}
