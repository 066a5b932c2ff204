// Every private part of mysql2 that shardworker relies on, in one list, and the check run at start-up that they
// are all still there. The copy speaks parts of the protocol itself (row framing, bulk execute, LOAD DATA from
// memory, direct reads) on mysql2's connections; a release of mysql2 that renamed one of these would break it in
// ways no type check sees. package.json pins mysql2 to the version these were read from.

import { createRequire } from 'node:module';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import mysql from 'mysql2';

/** The mysql2 version the internals below were read from (package.json pins it). */
export const MYSQL2_VERSION = '3.24.6';

/** What we touch, where mysql2 has it, and who uses it: the message names all three when one is gone. */
export interface Mysql2Internal {
  name: string;
  /** The mysql2 file that defines it. */
  where: string;
  /** The shardworker modules that rely on it. */
  usedBy: string;
  present(probe: Probe): boolean;
}

/** A connection that never connects (its socket is a PassThrough), a query and a statement command queued on it. */
export interface Probe {
  connection: Record<string, unknown>;
  handshake: Record<string, unknown> | null;
  query: Record<string, unknown>;
  execute: Record<string, unknown>;
  packetProto: Record<string, unknown> | null;
}

const fn = (o: unknown, key: string): boolean => typeof (o as Record<string, unknown> | null)?.[key] === 'function';
const protoOf = (o: unknown): Record<string, unknown> | null => (o ? (Object.getPrototypeOf(o) as Record<string, unknown>) : null);

export const MYSQL2_INTERNALS: readonly Mysql2Internal[] = [
  {
    name: 'Connection._command (the handshake command of a new connection)',
    where: 'lib/base/connection.js',
    usedBy: 'mysql/wire/bulk-execute.ts',
    present: (p) => p.handshake !== null,
  },
  {
    name: 'ClientHandshake.prototype.sendCredentials and sendSSLRequest',
    where: 'lib/commands/client_handshake.js',
    usedBy: 'mysql/wire/bulk-execute.ts (announces MariaDB bulk operations)',
    present: (p) => fn(protoOf(p.handshake), 'sendCredentials') && fn(protoOf(p.handshake), 'sendSSLRequest'),
  },
  {
    name: 'ClientHandshake clientFlags and mariadbExtendedClientFlags (numbers)',
    where: 'lib/commands/client_handshake.js',
    usedBy: 'mysql/wire/bulk-execute.ts',
    present: (p) => typeof p.handshake?.clientFlags === 'number' && typeof p.handshake?.mariadbExtendedClientFlags === 'number',
  },
  {
    name: 'Connection.packetParser.execute (replaceable per connection)',
    where: 'lib/base/connection.js, lib/packet_parser.js',
    usedBy: 'mysql/wire/row-framer.ts, mysql/wire/binlog/dump-connection.ts',
    present: (p) => fn(p.connection.packetParser, 'execute'),
  },
  {
    name: 'Connection.stream (the socket, with pause, resume, destroy, cork and uncork)',
    where: 'lib/base/connection.js',
    usedBy: 'mysql/wire/row-framer.ts, mysql/wire/direct-reads.ts, mysql/wire/discard.ts, mysql/wire/binlog/dump-connection.ts, corked() here',
    present: (p) =>
      fn(p.connection.stream, 'pause')
      && fn(p.connection.stream, 'resume')
      && fn(p.connection.stream, 'destroy')
      && fn(p.connection.stream, 'cork')
      && fn(p.connection.stream, 'uncork'),
  },
  {
    name: 'Connection.addCommand, write and sequenceId',
    where: 'lib/base/connection.js',
    usedBy: 'mysql/wire/bulk-execute.ts, mysql/wire/infile.ts, mysql/wire/binlog/dump-connection.ts (write)',
    present: (p) => fn(p.connection, 'addCommand') && fn(p.connection, 'write') && typeof p.connection.sequenceId === 'number',
  },
  {
    name: 'Query.prototype.row (the row state after the column definitions)',
    where: 'lib/commands/query.js',
    usedBy: 'mysql/wire/raw-rows.ts',
    present: (p) => fn(protoOf(p.query), 'row'),
  },
  {
    name: 'Execute.prototype.row',
    where: 'lib/commands/execute.js',
    usedBy: 'mysql/wire/raw-rows.ts (binary rows)',
    present: (p) => fn(protoOf(p.execute), 'row'),
  },
  {
    name: 'Connection._statements (the statement cache, whose delete closes the statement) and Connection.statementKey',
    where: 'lib/base/connection.js (its onEviction closes), lru.min',
    usedBy: 'mysql/wire/raw-rows.ts, mysql/wire/bulk-execute.ts (through closeStatement)',
    present: (p) => fn(p.connection._statements, 'delete') && fn(p.connection.constructor, 'statementKey'),
  },
  {
    name: 'Packet buffer/offset/end with isEOF, isError and asError',
    where: 'lib/packets/packet.js',
    usedBy: 'mysql/wire/raw-rows.ts, mysql/wire/row-framer.ts, mysql/wire/bulk-execute.ts',
    present: (p) => fn(p.packetProto, 'isEOF') && fn(p.packetProto, 'isError') && fn(p.packetProto, 'asError'),
  },
];

function packetPrototype(): Record<string, unknown> | null {
  try {
    // Not exported by mysql2's package map: reached by its file, next to the resolved entry point.
    const require = createRequire(import.meta.url);
    const Packet = require(path.join(path.dirname(require.resolve('mysql2')), 'lib/packets/packet.js')) as { prototype?: Record<string, unknown> };
    return Packet.prototype ?? null;
  } catch {
    return null;
  }
}

export function makeProbe(): Probe {
  const conn = mysql.createConnection({ stream: new PassThrough() } as mysql.ConnectionOptions);
  conn.on('error', () => {});
  const connection = conn as unknown as Record<string, unknown>;
  const handshake = (connection._command as Record<string, unknown> | null | undefined) ?? null;
  const query = conn.query('SELECT 1') as unknown as Record<string, unknown>;
  const execute = conn.execute('SELECT 1') as unknown as Record<string, unknown>;
  (query as { on?: (e: string, f: () => void) => void }).on?.('error', () => {});
  (execute as { on?: (e: string, f: () => void) => void }).on?.('error', () => {});
  conn.destroy();
  return { connection, handshake, query, execute, packetProto: packetPrototype() };
}

/** The internals that are missing from `probe` (none when mysql2 is the version they were read from). */
export function missingInternals(probe: Probe = makeProbe(), internals: readonly Mysql2Internal[] = MYSQL2_INTERNALS): Mysql2Internal[] {
  return internals.filter((i) => {
    try {
      return !i.present(probe);
    } catch {
      return true;
    }
  });
}

export class Mysql2InternalsError extends Error {
  constructor(missing: readonly Mysql2Internal[], version: string) {
    super(
      `mysql2 ${version} lacks what shardworker relies on (it was built against mysql2 ${MYSQL2_VERSION}; reinstall with npm ci): `
        + missing.map((m) => `${m.name} in ${m.where}, used by ${m.usedBy}`).join('; '),
    );
    this.name = 'Mysql2InternalsError';
  }
}

function installedVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return (require('mysql2/package.json') as { version: string }).version;
  } catch {
    return 'of unknown version';
  }
}

/** Throws, naming every missing internal, when mysql2 is not what the wire code was written against. */
export function assertMysql2Internals(): void {
  const missing = missingInternals();
  if (missing.length > 0) throw new Mysql2InternalsError(missing, installedVersion());
}

/** How mysql2 keys a prepared statement in a connection's cache: its SQL, and its row options (which change the key). */
export interface StatementKey {
  sql: string;
  rowsAsArray?: boolean;
}

/**
 * Closes the prepared statement of `key` on `core` once. mysql2's own `unprepare` deletes it from its cache, whose
 * eviction hook closes it, and then closes it again: two COM_STMT_CLOSE for one statement, each a socket write and a
 * wake-up of the server: a copy of 2,000 small tables wrote 5,700 such extra packets, a fifth of its socket writes.
 * The server does not count the second (Com_stmt_close), so test/mysql/wire/raw-rows.test.ts counts the packets.
 */
export function closeStatement(core: unknown, key: StatementKey): void {
  const conn = core as { _statements: { delete(key: string): boolean }; constructor: { statementKey(options: StatementKey): string } };
  conn._statements.delete(conn.constructor.statementKey(key));
}

/**
 * Runs `write` with the connection's socket corked, so that the packets it writes (a COM_STMT_CLOSE, which has no
 * reply, and the next command) leave in one system call. On this 2-core VM a socket write costs tens of
 * microseconds of the worker's thread (the receiver's wake-up is paid by the writer): a copy of 2,000 small tables
 * spent half its copying time in 25,000 of them.
 */
export function corked<T>(core: unknown, write: () => T): T {
  const stream = (core as { stream: { cork(): void; uncork(): void } }).stream;
  stream.cork();
  try {
    return write();
  } finally {
    stream.uncork();
  }
}
