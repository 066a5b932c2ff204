// MariaDB's COM_STMT_BULK_EXECUTE: one prepared INSERT run for a whole batch of rows sent as binary parameters
// in one packet (the `bulk` write method). The server binds the values as they are, with no text to parse
// character by character as LOAD DATA does: the destinations' CPU is what bounds a copy (measured on the bench:
// about a fifth less destination CPU than LOAD DATA for the same rows).
//
// mysql2 has no bulk command, and the server only takes one from a client that announced
// MARIADB_CLIENT_STMT_BULK_OPERATIONS in its handshake. So this module (1) makes mysql2's handshake announce it
// to any MariaDB server that offers it, and (2) sends the packet as a small command of its own.

import { PassThrough } from 'node:stream';
import mysql, { type Connection as CoreConnection, type RowDataPacket } from 'mysql2';
import { TabletError, type Pool, type PoolConnection, type TabletRef } from './connection.ts';
import { maxAllowedPacket } from './max-packet.ts';

/** MARIADB_CLIENT_STMT_BULK_OPERATIONS, as a bit of the extended (upper 32) capability flags. */
const BULK_OPERATIONS = 0x4;
/** CLIENT_MYSQL (mysql2's LONG_PASSWORD): a MariaDB server reads the extended flags only when it is unset. */
const CLIENT_MYSQL = 0x1;

/** The first bytes of a bulk packet: 4 of header, the command, the statement id, the flags. */
export const BULK_COMMAND = 0xfa;
export const BULK_ID_OFFSET = 5;
/** Bulk flag: the parameter types follow the flags (they are not remembered between executions). */
export const SEND_TYPES_TO_SERVER = 128;
/** Parameter type: a blob is bound as binary bytes, with no character set conversion. */
export const TYPE_BLOB = 0xfc;
/** Parameter indicators, one byte before each value. */
export const INDICATOR_NONE = 0;
export const INDICATOR_NULL = 1;

// The parts of mysql2's ClientHandshake (lib/commands/client_handshake.js) the announcement relies on: it sends
// `clientFlags` and `mariadbExtendedClientFlags` from sendSSLRequest (TLS) and sendCredentials, after reading
// the server's hello into `handshake`.
interface HandshakeInternals {
  handshake?: { mariadbExtendedCapabilityFlags?: number } | null;
  clientFlags: number;
  mariadbExtendedClientFlags: number;
  sendCredentials(connection: object): unknown;
  sendSSLRequest(connection: object): unknown;
}

/** Core connections whose handshake announced bulk operations to a server that offered them. */
const announced = new WeakSet<object>();

/**
 * Wraps the handshake of every mysql2 connection of this process so that it announces bulk operations to a
 * MariaDB server offering them (as MariaDB's own connectors do). Announcing changes nothing else the server does.
 * Returns false, leaving mysql2 alone, when its internals are not the expected ones: the bulk method then
 * reports that it is unavailable.
 */
function announceBulkOperations(): boolean {
  // The handshake class is not exported: it is the first command of any new connection, here one never connected.
  const probe = mysql.createConnection({ stream: new PassThrough() } as mysql.ConnectionOptions);
  probe.on('error', () => {});
  const command = (probe as unknown as { _command?: Partial<HandshakeInternals> | null })._command;
  probe.destroy();
  const proto = command ? (Object.getPrototypeOf(command) as Partial<HandshakeInternals>) : undefined;
  if (!proto || typeof proto.sendCredentials !== 'function' || typeof proto.sendSSLRequest !== 'function' || typeof command?.mariadbExtendedClientFlags !== 'number') return false;
  const negotiate = (cmd: HandshakeInternals, connection: object) => {
    if (((cmd.handshake?.mariadbExtendedCapabilityFlags ?? 0) & BULK_OPERATIONS) === 0) return;
    cmd.clientFlags &= ~CLIENT_MYSQL;
    cmd.mariadbExtendedClientFlags |= BULK_OPERATIONS;
    announced.add(connection);
  };
  const { sendCredentials, sendSSLRequest } = proto;
  proto.sendSSLRequest = function (this: HandshakeInternals, connection: object) {
    negotiate(this, connection);
    return sendSSLRequest.call(this, connection);
  };
  proto.sendCredentials = function (this: HandshakeInternals, connection: object) {
    negotiate(this, connection);
    return sendCredentials.call(this, connection);
  };
  return true;
}

const installed = announceBulkOperations();

/** Whether `conn` may send bulk commands: its server offered them and the handshake announced them. */
export function bulkAvailable(conn: PoolConnection): boolean {
  return installed && announced.has(conn.connection as object);
}

// The parts of mysql2's Connection and Packet a command relies on (lib/base/connection.js, lib/packets/packet.js):
// addCommand(cmd) runs cmd.execute(null) when its turn comes, then cmd.execute(packet) for each reply packet
// until it returns true; onResult(err) is how a connection that dies mid-command reports it.
interface ReplyPacket {
  buffer: Buffer;
  offset: number;
  end: number;
  isError(): boolean;
  asError(encoding?: string): Error;
}
interface CommandConnection {
  clientEncoding?: string;
  _resetSequenceId(): void;
  writePacket(p: { buffer: Buffer; length(): number; writeHeader(sequenceId: number): void }): void;
  addCommand(cmd: object): void;
}

/** The OK packet's counts. */
interface Ok {
  affectedRows: number;
  warnings: number;
}

/** A length-encoded integer at `p` and the offset after it. */
function lengthEncoded(b: Buffer, p: number): [number, number] {
  const first = b[p];
  if (first < 0xfb) return [first, p + 1];
  if (first === 0xfc) return [b.readUInt16LE(p + 1), p + 3];
  if (first === 0xfd) return [b.readUIntLE(p + 1, 3), p + 4];
  return [Number(b.readBigUInt64LE(p + 1)), p + 9];
}

function parseOk(packet: ReplyPacket): Ok {
  const b = packet.buffer;
  if (b[packet.offset] !== 0x00) throw new Error(`bulk insert: expected an OK packet, got 0x${b[packet.offset].toString(16)}`);
  const [affectedRows, p] = lengthEncoded(b, packet.offset + 1);
  const [, q] = lengthEncoded(b, p); // last insert id
  return { affectedRows, warnings: b.readUInt16LE(q + 2) };
}

/** Sends `packet` (4 header bytes, then the payload) as one command and resolves with the server's OK. */
function sendBulk(core: CommandConnection, packet: Buffer): Promise<Ok> {
  return new Promise<Ok>((resolve, reject) => {
    core.addCommand({
      execute(reply: ReplyPacket | null, connection: CommandConnection): boolean {
        if (!reply) {
          connection._resetSequenceId();
          connection.writePacket({
            buffer: packet,
            length: () => packet.length,
            writeHeader(sequenceId: number) {
              packet.writeUIntLE(packet.length - 4, 0, 3);
              packet[3] = sequenceId;
            },
          });
          return false;
        }
        try {
          if (reply.isError()) reject(reply.asError(connection.clientEncoding));
          else resolve(parseOk(reply));
        } catch (err) {
          reject(err);
        }
        return true;
      },
      onResult(err: Error | null): void {
        if (err) reject(err);
      },
    });
  });
}

/** Statement ids of `sql` per connection (mysql2 keeps the statement prepared; this saves asking it again). */
const statementIds = new WeakMap<object, Map<string, number>>();
/**
 * Statements kept prepared per connection: a writer moves from table to table, and max_prepared_stmt_count is
 * one limit for the whole server, shared with its applications.
 */
const KEPT_STATEMENTS = 8;

function prepare(core: CoreConnection, sql: string): Promise<number> {
  let ids = statementIds.get(core);
  const known = ids?.get(sql);
  if (known !== undefined) return Promise.resolve(known);
  return new Promise<number>((resolve, reject) => {
    core.prepare(sql, (err, statement) => {
      if (err) return reject(err);
      // mysql2 keeps the server's statement id on the statement; its typings do not show it.
      const id = (statement as unknown as { id?: unknown }).id;
      if (typeof id !== 'number') return reject(new Error('mysql2 gave a prepared statement without its id: its internals changed, shardworker must be updated'));
      if (!ids) statementIds.set(core, (ids = new Map()));
      if (ids.size >= KEPT_STATEMENTS) {
        const oldest = ids.keys().next().value!;
        ids.delete(oldest);
        core.unprepare(oldest);
      }
      ids.set(sql, id);
      resolve(id);
    });
  });
}

interface Warning {
  Level: string;
  Code: number;
  Message: string;
}

/**
 * Runs the prepared INSERT `sql` for the `rows` rows of `packet` (a bulk packet whose statement id is filled in
 * here) on a connection of `pool`, and refuses any result but every row inserted without a warning.
 */
export async function bulkInsertOn(pool: Pool, ref: TabletRef, doing: string, sql: string, packet: Buffer, rows: number): Promise<void> {
  let conn: PoolConnection;
  try {
    conn = await pool.getConnection();
  } catch (err) {
    throw new TabletError(ref, doing, err);
  }
  let healthy = false;
  try {
    if (!bulkAvailable(conn)) {
      throw new Error('the server does not take bulk inserts (COM_STMT_BULK_EXECUTE needs MariaDB 10.2 or later): use --write-method load-data');
    }
    const max = await maxAllowedPacket(conn);
    if (packet.length - 4 > max) {
      throw new Error(`a batch of ${rows} rows is ${packet.length - 4} bytes, more than the server's max_allowed_packet (${max}): lower --write-query-max-size, or use --write-method load-data`);
    }
    const core = conn.connection as unknown as CoreConnection;
    packet.writeUInt32LE(await prepare(core, sql), BULK_ID_OFFSET);
    const ok = await sendBulk(core as unknown as CommandConnection, packet);
    if (ok.warnings > 0) {
      const [warnings] = await conn.query<(Warning & RowDataPacket)[]>('SHOW WARNINGS LIMIT 5');
      throw new Error(`${ok.warnings} warning(s) inserting ${rows} rows, so values may have been altered: ${warnings.map((w) => `${w.Level} ${w.Code}: ${w.Message}`).join('; ')}`);
    }
    if (ok.affectedRows !== rows) throw new Error(`inserted ${ok.affectedRows} rows of ${rows}`);
    healthy = true;
  } catch (err) {
    throw err instanceof TabletError ? err : new TabletError(ref, doing, err);
  } finally {
    // A failed command may leave the connection mid-protocol: never hand it to the next batch.
    if (healthy) conn.release();
    else conn.destroy();
  }
}
