// MariaDB's COM_STMT_BULK_EXECUTE: one prepared INSERT run for a whole batch of rows sent as binary parameters
// in one packet (the `bulk` write method). The server binds the values as they are, with no text to parse
// character by character as LOAD DATA does: the destinations' CPU is what bounds a copy (measured on the bench:
// about a fifth less destination CPU than LOAD DATA for the same rows).
//
// mysql2 has no bulk command, and the server only takes one from a client that announced
// MARIADB_CLIENT_STMT_BULK_OPERATIONS in its handshake. So this module (1) makes mysql2's handshake announce it
// to any MariaDB server that offers it, and (2) sends the packet as a small command of its own.

import { PassThrough } from 'node:stream';
import mysql, { type Connection as CoreConnection } from 'mysql2';
import { closeStatement, corked } from './mysql2-internals.ts';
import { acquireConnection, TabletError, type Pool, type PoolConnection, type TabletRef } from '../connection.ts';
import { codedLength, lastWarnings, MAX_PAYLOAD, maxAllowedPacket, moreLengthBytes, PACKET_HEADER, setPacketHeader } from './packets.ts';
import { discardConnection } from './discard.ts';

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
  if (
    !proto
    || typeof proto.sendCredentials !== 'function'
    || typeof proto.sendSSLRequest !== 'function'
    || typeof command?.mariadbExtendedClientFlags !== 'number'
  )
    return false;
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

/** Why a server cannot take the bulk method, and what to use instead. */
export const BULK_UNAVAILABLE = 'the server does not take bulk inserts (COM_STMT_BULK_EXECUTE needs MariaDB 10.2 or later): use --write-method load-data';

/** Whether `conn` may send bulk commands: its server offered them and the handshake announced them. */
export function bulkAvailable(conn: PoolConnection): boolean {
  return installed && announced.has(conn.connection as object);
}

/**
 * What a destination takes: whether bulk commands (on a connection of `pool`), and then half its
 * max_allowed_packet, the most a bulk packet may hold there.
 */
export async function probeBulk(pool: Pool, ref: TabletRef, doing: string): Promise<{ bulk: boolean; maxBulkPacket: number }> {
  const conn = await acquireConnection(pool, ref, doing);
  try {
    const bulk = bulkAvailable(conn);
    return { bulk, maxBulkPacket: bulk ? Math.floor((await maxAllowedPacket(conn)) / 2) : Infinity };
  } catch (err) {
    throw new TabletError(ref, doing, err);
  } finally {
    conn.release();
  }
}

// The parts of mysql2's Connection and Packet a command relies on (lib/base/connection.js, lib/packets/packet.js):
// addCommand(cmd) runs cmd.execute(null) when its turn comes, then cmd.execute(packet) for each reply packet
// until it returns true, checking each reply's sequence id against `sequenceId` first; onResult(err) is how a
// connection that dies mid-command reports it; write(buffer) writes raw bytes to the socket.
interface ReplyPacket {
  buffer: Buffer;
  offset: number;
  end: number;
  isError(): boolean;
  asError(encoding?: string): Error;
}
interface CommandConnection {
  clientEncoding?: string;
  sequenceId: number;
  write(buffer: Buffer): void;
  addCommand(cmd: object): void;
}

/** The OK packet's counts. */
interface Ok {
  affectedRows: number;
  warnings: number;
  /** No later command had been sent when this one was answered: SHOW WARNINGS still shows its warnings. */
  last: boolean;
  /** The warnings' text, when they could be read. */
  details?: string;
}

/** A length-encoded integer at `p` and the offset after it. */
function lengthEncoded(b: Buffer, p: number): [number, number] {
  const first = b[p];
  return [codedLength(b, p + 1, first), p + 1 + moreLengthBytes(first)];
}

function parseOk(packet: ReplyPacket, last: boolean): Ok {
  const b = packet.buffer;
  if (b[packet.offset] !== 0x00) throw new Error(`bulk insert: expected an OK packet, got 0x${b[packet.offset].toString(16)}`);
  const [affectedRows, p] = lengthEncoded(b, packet.offset + 1);
  const [, q] = lengthEncoded(b, p); // last insert id
  return { affectedRows, warnings: b.readUInt16LE(q + 2), last };
}

/**
 * Writes `packet` (4 header bytes, then the payload) as a command's protocol packets: one, or pieces of 16 MiB
 * when larger (each with its own header). Returns the sequence id the server's reply will carry.
 */
function writeCommand(core: CommandConnection, packet: Buffer): number {
  if (packet.length - PACKET_HEADER < MAX_PAYLOAD) {
    setPacketHeader(packet, 0);
    core.write(packet);
    return 1;
  }
  let seq = 0;
  for (let at = PACKET_HEADER; ; at += MAX_PAYLOAD) {
    const piece = packet.subarray(at, Math.min(at + MAX_PAYLOAD, packet.length));
    const header = Buffer.alloc(PACKET_HEADER);
    header.writeUIntLE(piece.length, 0, 3);
    header[3] = seq++ & 0xff;
    core.write(header);
    core.write(piece);
    // A payload that is a multiple of 16 MiB ends with an empty packet.
    if (piece.length < MAX_PAYLOAD) return seq & 0xff;
  }
}

interface Statement {
  id: Promise<number>;
  /** Batches stamped with this id and not yet answered: it is not closed while they are out. */
  users: number;
}

/**
 * Prepared statements per connection, by text: the batches of one table prepare it once between them (mysql2 keeps
 * it prepared; two prepares of one text would have mysql2 close the first one's statement).
 */
const statements = new WeakMap<object, Map<string, Statement>>();
/**
 * Statements kept prepared per connection once unused: a writer moves from table to table, and
 * max_prepared_stmt_count is one limit for the whole server, shared with its applications.
 */
const KEPT_STATEMENTS = 8;

/** The statement of `sql` on `core`, counted as used until `done` is called. */
function useStatement(core: CoreConnection, sql: string): { id: Promise<number>; done(): void } {
  let byText = statements.get(core);
  if (!byText) statements.set(core, (byText = new Map()));
  let st = byText.get(sql);
  if (!st) {
    const map = byText;
    // The closes of the statements given up and the new prepare in one socket write.
    const id = corked(core, () => {
      for (const [text, old] of map) {
        if (map.size < KEPT_STATEMENTS) break;
        if (old.users > 0) continue;
        map.delete(text);
        closeStatement(core, { sql: text });
      }
      return new Promise<number>((resolve, reject) => {
        core.prepare(sql, (err, statement) => {
          if (err) return reject(err);
          // mysql2 keeps the server's statement id on the statement; its typings do not show it.
          const n = (statement as unknown as { id?: unknown }).id;
          if (typeof n !== 'number')
            return reject(new Error('mysql2 gave a prepared statement without its id: its internals changed, shardworker must be updated'));
          resolve(n);
        });
      });
    });
    const made: Statement = (st = { id, users: 0 });
    // A failed prepare is not kept: the next batch asks again.
    id.catch(() => {
      if (map.get(sql) === made) map.delete(sql);
    });
    byText.set(sql, st);
  }
  const used = st;
  used.users++;
  return { id: used.id, done: () => void used.users-- };
}

interface Request {
  packet: Buffer;
  /** The sequence id its reply carries (set when written). */
  replySeq: number;
  resolve(ok: Ok): void;
  reject(err: Error): void;
}

/**
 * One connection that runs bulk commands back to back: the next batch is written while the server still executes
 * the one before, so the server goes from one to the next without waiting for the worker (a round trip and the
 * worker's turn on a busy CPU, each batch). Each command is its own statement and its own reply, in order; a
 * failed one fails alone. While commands are in flight the lane is mysql2's current command; it hands the
 * connection back when the last reply is in, and gives it back to the pool when nobody is using it.
 */
class BulkLane {
  readonly #pool: Pool;
  #conn: PoolConnection | null = null;
  #acquiring: Promise<PoolConnection> | null = null;
  /** Callers between taking the connection and their reply. */
  #users = 0;
  /** Written, awaiting their replies (in order). */
  #inFlight: Request[] = [];
  /** Waiting for the lane's command to get its turn on the connection. */
  #pending: Request[] = [];
  /** Whether the lane's command is queued on or running the connection. */
  #active = false;
  #running = false;
  /** A batch's warnings are to be read: no new turn starts until they are (they belong to the last statement). */
  #held = false;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  get load(): number {
    return this.#users;
  }

  async #connection(): Promise<PoolConnection> {
    if (this.#conn) return this.#conn;
    this.#acquiring ??= this.#pool.getConnection().finally(() => {
      this.#acquiring = null;
    });
    const conn = await this.#acquiring;
    this.#conn ??= conn;
    return this.#conn;
  }

  /** Runs `sql` (a prepared INSERT) for the batch `packet` holds and resolves with the server's OK. */
  async run(sql: string, packet: Buffer, rows: number): Promise<Ok> {
    this.#users++;
    try {
      const conn = await this.#connection();
      if (!bulkAvailable(conn)) throw new Error(BULK_UNAVAILABLE);
      const max = await maxAllowedPacket(conn);
      if (packet.length - PACKET_HEADER > max) {
        throw new Error(
          `a batch of ${rows} rows is ${packet.length - PACKET_HEADER} bytes, more than the server's max_allowed_packet (${max}): lower --write-query-max-size, or use --write-method load-data`,
        );
      }
      const core = conn.connection as unknown as CoreConnection;
      const statement = useStatement(core, sql);
      const command = core as unknown as CommandConnection;
      let ok: Ok;
      try {
        packet.writeUInt32LE(await statement.id, BULK_ID_OFFSET);
        ok = await new Promise<Ok>((resolve, reject) => this.#submit(command, { packet, replySeq: 1, resolve, reject }));
      } finally {
        statement.done();
      }
      if (ok.warnings > 0 && ok.last) {
        try {
          ok.details = (await lastWarnings(conn)).text;
        } finally {
          this.#held = false;
          if (this.#pending.length) this.#start(command);
        }
      }
      return ok;
    } catch (err) {
      // The server refusing a statement (an ERR reply) leaves the connection as it was, and the batches behind
      // this one on it run on; any other failure may have broken it.
      if (!isServerRefusal(err)) this.#fail();
      throw err;
    } finally {
      this.#users--;
      if (this.#users === 0 && this.#conn && !this.#active && !this.#held) {
        this.#conn.release();
        this.#conn = null;
      }
    }
  }

  #submit(core: CommandConnection, req: Request): void {
    // The connection this caller prepared on was dropped since (another batch's failure): it goes again, elsewhere.
    if (this.#conn?.connection !== (core as unknown)) return req.reject(connectionLost('the bulk connection was closed'));
    if (this.#running) {
      req.replySeq = writeCommand(core, req.packet);
      this.#inFlight.push(req);
      return;
    }
    this.#pending.push(req);
    if (!this.#active && !this.#held) this.#start(core);
  }

  #start(core: CommandConnection): void {
    this.#active = true;
    core.addCommand({
      execute: (reply: ReplyPacket | null, connection: CommandConnection): boolean => this.#execute(reply, connection),
      onResult: (err: Error | null): void => {
        if (err) this.#abandon(err);
      },
    });
  }

  #execute(reply: ReplyPacket | null, connection: CommandConnection): boolean {
    if (!reply) {
      if (this.#pending.length === 0) {
        // Everything that waited for this turn failed meanwhile: nothing to send.
        this.#active = false;
        return true;
      }
      // The lane's turn: everything waiting goes now.
      this.#running = true;
      for (const req of this.#pending) {
        req.replySeq = writeCommand(connection, req.packet);
        this.#inFlight.push(req);
      }
      this.#pending = [];
      connection.sequenceId = this.#inFlight[0].replySeq;
      return false;
    }
    const req = this.#inFlight.shift()!;
    const last = this.#inFlight.length === 0;
    try {
      if (reply.isError()) {
        req.reject(reply.asError(connection.clientEncoding));
      } else {
        const ok = parseOk(reply, last);
        if (ok.warnings > 0 && last) this.#held = true;
        req.resolve(ok);
      }
    } catch (err) {
      req.reject(err as Error);
    }
    if (!last) {
      // mysql2 checks the next reply against this (it counts on from the one just read).
      connection.sequenceId = this.#inFlight[0].replySeq;
      return false;
    }
    // Hand the connection back to mysql2 (queued queries, the next prepare); later batches start a new turn. The
    // pool gets it back from run(), once the caller whose reply this was is done with it.
    this.#running = false;
    this.#active = false;
    return true;
  }

  /** The connection died: every request on it fails (its writer retries them, if it may). */
  #abandon(err: Error): void {
    this.#running = false;
    this.#active = false;
    this.#held = false;
    const all = [...this.#inFlight, ...this.#pending];
    this.#inFlight = [];
    this.#pending = [];
    for (const req of all) req.reject(err);
  }

  #fail(): void {
    if (!this.#conn) return;
    // Its other requests have their own replies coming unless the connection is gone; destroying it fails them,
    // and their retries take a new connection.
    const conn = this.#conn;
    this.#conn = null;
    discardConnection(conn);
    this.#abandon(connectionLost('the bulk connection was closed after a failure on it'));
  }
}

/** An error that reads as a lost connection, so the batch's writer retries it (as a batch that may have landed). */
function connectionLost(message: string): Error {
  return Object.assign(new Error(message), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });
}

/** An ERR reply from the server: it refused the statement, the connection stays usable. */
function isServerRefusal(err: unknown): boolean {
  const e = err as { errno?: unknown; fatal?: unknown };
  return typeof e?.errno === 'number' && e.errno < 2000 && e.fatal !== true;
}

/** The lanes of one destination pool: as many as its writers, each batch on the one asked for, else the least busy. */
export class BulkLanes {
  readonly #lanes: BulkLane[];

  constructor(pool: Pool, count: number) {
    this.#lanes = Array.from({ length: Math.max(1, count) }, () => new BulkLane(pool));
  }

  /**
   * Runs the prepared INSERT `sql` for the `rows` rows of `packet` (a bulk packet whose statement id is filled in
   * here) and refuses any result but every row inserted without a warning.
   */
  async insert(ref: TabletRef, doing: string, sql: string, packet: Buffer, rows: number, index?: number): Promise<void> {
    let lane = this.#lanes[0];
    if (index !== undefined) lane = this.#lanes[index % this.#lanes.length];
    else for (const l of this.#lanes) if (l.load < lane.load) lane = l;
    try {
      const ok = await lane.run(sql, packet, rows);
      if (ok.warnings > 0) {
        // With a later batch already run on the connection, SHOW WARNINGS would show that one's.
        const what = ok.details ?? '(their text is lost: the next batch had already run on the connection)';
        throw new Error(`${ok.warnings} warning(s) inserting ${rows} rows, so values may have been altered: ${what}`);
      }
      if (ok.affectedRows !== rows) throw new Error(`inserted ${ok.affectedRows} rows of ${rows}`);
    } catch (err) {
      throw err instanceof TabletError ? err : new TabletError(ref, doing, err);
    }
  }
}
