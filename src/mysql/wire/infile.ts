// Runs one LOAD DATA LOCAL INFILE whose file is a Buffer, and refuses any result but every row loaded cleanly.
// With LOCAL the server cannot stop the client mid-file, so it turns bad rows into warnings (and duplicate keys
// into skipped rows) instead of errors: a warning, or a row count that differs, fails the batch.
// The batch goes as one protocol packet written from its own buffer when the server takes packets that large,
// else in pieces through mysql2's pump (which copies each; measured: the worker's CPU 2.2-2.3 s -> 1.95-2.0 s on
// the bench's 2M rows).

import { Readable, type Duplex } from 'node:stream';
import type { Connection as CoreConnection, ResultSetHeader } from 'mysql2';
import { TabletError, type Pool, type PoolConnection, type TabletRef } from '../connection.ts';
import { lastWarnings, MAX_PAYLOAD, maxAllowedPacket, PACKET_HEADER, setPacketHeader } from './packets.ts';
import { discardConnection } from './discard.ts';

/** Bytes handed to mysql2 at once when a batch does not go as one packet: each piece becomes one protocol packet. */
const PIECE = 256 * 1024;
/** Socket bytes not yet sent past which the next piece waits for 'drain' (mysql2's pump itself never waits). */
const SOCKET_HIGH = 512 * 1024;

/** A stream of `data` that only hands mysql2 the next piece while the socket has room for it. */
function infileStream(data: Buffer, socket: Duplex, pieceSize: number): Readable {
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
        const piece = data.subarray(offset, offset + pieceSize);
        offset += piece.length;
        stream.push(piece);
      };
      if (socket.writableLength >= SOCKET_HIGH) socket.once('drain', next);
      else next();
    },
  });
  return stream;
}

// The parts of mysql2's Query command and Connection the one-packet path relies on (lib/commands/query.js,
// lib/base/connection.js): when the server asks for the file, the command's _streamLocalInfile(connection) sends it
// and returns its next state, infileOk; connection.writePacket(p) writes p.length() bytes of p.buffer after
// p.writeHeader(sequenceId) has filled in its first 4 bytes.
interface PacketLike {
  buffer: Buffer;
  length(): number;
  writeHeader(sequenceId: number): void;
}
interface InfileQuery {
  _streamLocalInfile(connection: { writePacket(p: PacketLike): void }, path: string): unknown;
  infileOk: unknown;
}

/** `packet` (4 header bytes, then the payload) as mysql2 writes a packet: in place, no copy. */
function wholePacket(packet: Buffer): PacketLike {
  return {
    buffer: packet,
    length: () => packet.length,
    writeHeader: (sequenceId: number) => setPacketHeader(packet, sequenceId),
  };
}

/**
 * Makes `query` answer the server's request for the file with the whole batch as one packet, straight from the
 * batch's buffer: mysql2's own pump copies every piece into a new buffer. When mysql2's internals are not the
 * expected ones the query is left alone, and its pump sends the pieces.
 */
function sendAsOnePacket(query: unknown, packet: Buffer): void {
  const q = query as Partial<InfileQuery>;
  if (typeof q._streamLocalInfile !== 'function' || typeof q.infileOk !== 'function') return;
  q._streamLocalInfile = function (this: InfileQuery, connection) {
    connection.writePacket(wholePacket(packet));
    // The empty packet that ends the file.
    connection.writePacket(wholePacket(Buffer.alloc(4)));
    return this.infileOk;
  };
}

/** MySQL/MariaDB errors that mean LOAD DATA LOCAL is refused (local_infile off on the server, or the client). */
const LOCAL_REFUSED = new Set([1148, 3948, 4166]);

/**
 * `packet`, when given, is `data` with 4 spare bytes before it in the same memory: the batch then goes as one
 * protocol packet if the server takes packets that large (max_allowed_packet).
 */
export async function loadDataOn(pool: Pool, ref: TabletRef, doing: string, sql: string, data: Buffer, rows: number, packet?: Buffer): Promise<void> {
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
      const core = conn.connection as unknown as CoreConnection;
      // The server refuses a packet near its max_allowed_packet, a file's pieces included (measured: a piece of
      // exactly max_allowed_packet is refused): half of it is the most sent at once.
      const max = Math.floor((await maxAllowedPacket(conn)) / 2);
      const onePacket = packet !== undefined && packet.length - PACKET_HEADER <= max && packet.length - PACKET_HEADER < MAX_PAYLOAD;
      result = await new Promise<ResultSetHeader>((resolve, reject) => {
        const query = core.query({ sql, infileStreamFactory: () => infileStream(data, socket, Math.min(PIECE, max)) }, (err, res) =>
          err ? reject(err) : resolve(res as ResultSetHeader),
        );
        if (onePacket) sendAsOnePacket(query, packet);
      });
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (errno !== undefined && LOCAL_REFUSED.has(errno)) {
        throw new TabletError(
          ref,
          doing,
          new Error(`${(err as Error).message} (the load-data write method needs local_infile=ON on the server; or use --write-method insert)`),
        );
      }
      throw err;
    }
    if (result.warningStatus > 0) {
      const warnings = await lastWarnings(conn);
      const err = new Error(`${result.warningStatus} warning(s) loading ${rows} rows, so rows may be dropped or altered: ${warnings.text}`);
      // Duplicates only (LOCAL turns them into warnings): keep the errno, so a retry can tell a batch that had landed.
      if (warnings.codes.length && warnings.codes.every((c) => c === 1062)) throw Object.assign(err, { errno: 1062 });
      throw err;
    }
    if (result.affectedRows !== rows) throw new Error(`loaded ${result.affectedRows} rows of ${rows} (${result.info})`);
    healthy = true;
  } catch (err) {
    throw err instanceof TabletError ? err : new TabletError(ref, doing, err);
  } finally {
    // A failed load may leave the connection mid-protocol: never hand it to the next batch.
    if (healthy) conn.release();
    else discardConnection(conn);
  }
}
