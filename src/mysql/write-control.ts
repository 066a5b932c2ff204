// Stopping and allowing a primary's writes for a cutover, and reading where its binlog stands. MariaDB and MySQL.
//
// `read_only` stops every client without SUPER / READ_ONLY ADMIN: an application user must not hold those (the
// streams, which must write through it, connect as an administrator). A statement already writing finishes first
// (SET GLOBAL read_only waits for it); a transaction that has written but not committed can no longer commit (its
// COMMIT fails with 1290), so it was never acknowledged. We end such transactions at once by killing their
// connections (as Vitess's query service does at its grace period's end), and a writer that holds up the
// read_only switch for longer than `graceMs` is killed too, so the pause stays short whatever the clients do.

import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquireConnection, TabletError, type Pool, type TabletRef } from './connection.ts';
import type { Flavor } from './replication.ts';
import { quoteString, quoteTable } from './sql.ts';
import type { Channel, TabletClient } from './tablet-client.ts';
import { discardConnection } from './wire/discard.ts';

export async function setReadOnly(client: TabletClient, on: boolean): Promise<void> {
  await client.query(on ? 'stopping writes (read_only=1)' : 'allowing writes (read_only=0)', `SET GLOBAL read_only = ${on ? 1 : 0}`);
}

/** Where the primary's binlog stands: everything it has committed, as `_vt.blp_checkpoint` keeps positions. */
export async function binlogPosition(client: TabletClient, flavor: Flavor): Promise<string> {
  if (flavor === 'MariaDB') {
    const rows = await client.query<{ pos: string | Buffer }[]>('reading the binlog position', 'SELECT @@GLOBAL.gtid_binlog_pos AS pos');
    return `MariaDB/${String(rows[0].pos)}`;
  }
  const rows = await client.query<{ pos: string | Buffer }[]>('reading the binlog position', 'SELECT @@GLOBAL.gtid_executed AS pos');
  return `MySQL56/${String(rows[0].pos).replace(/\s+/g, '')}`;
}

/** Connections (other than `exclude`) holding a transaction that has changed rows or is writing now. */
const WRITERS_SQL = `SELECT DISTINCT t.trx_mysql_thread_id AS id FROM information_schema.INNODB_TRX t
  JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
  WHERE (t.trx_rows_modified > 0 OR t.trx_rows_locked > 0 OR t.trx_state = 'LOCK WAIT') AND p.USER <> 'system user' AND t.trx_mysql_thread_id NOT IN (?)`;

/** Kills the connections of open write transactions; returns how many. */
async function killWriters(channel: Channel, exclude: number[]): Promise<number> {
  const rows = await channel.query<{ id: number | string }[]>('listing open write transactions', WRITERS_SQL, [exclude.length ? exclude : [0]]);
  let killed = 0;
  for (const { id } of rows) {
    const thread = Number(id);
    if (!Number.isInteger(thread) || thread <= 0) continue;
    // Gone already (it committed or failed by itself) is fine.
    await channel.query(`ending write transaction ${thread}`, `KILL CONNECTION ${thread}`).then(
      () => killed++,
      () => {},
    );
  }
  return killed;
}

export interface StopWritesResult {
  /** Connections whose open write transactions were ended (they were never acknowledged). */
  killed: number;
}

/**
 * Sets read_only=1 and ends the write transactions still open, killing any writer that keeps the switch waiting
 * longer than `graceMs`; fails after `timeoutMs` if a table lock holds it up. Returns once no client can commit a
 * write any more.
 */
export function stopWrites(client: TabletClient, opts: { graceMs: number; timeoutMs: number }): Promise<StopWritesResult> {
  // Read-only is idempotent, and the writers killed are counted again on a repeat: the step may run twice.
  return client.attempt('stopping writes', (channel) => stopWritesOn(channel.pool, channel.ref, channel, opts));
}

async function stopWritesOn(pool: Pool, ref: TabletRef, channel: Channel, opts: { graceMs: number; timeoutMs: number }): Promise<StopWritesResult> {
  const { graceMs } = opts;
  const conn = await acquireConnection(pool, ref, 'stopping writes');
  let killed = 0;
  try {
    // The switch waits for table locks (LOCK TABLES, a long DDL): bounded, it fails rather than pausing forever.
    await conn.query(`SET SESSION lock_wait_timeout = ${Math.max(1, Math.ceil(opts.timeoutMs / 1000))}`);
    const [rows] = await conn.query('SELECT CONNECTION_ID() AS id');
    const own = Number((rows as { id: number }[])[0].id);
    let done = false;
    const switching = conn.query('SET GLOBAL read_only = 1').then(
      () => void (done = true),
      (err: unknown) => {
        done = true;
        throw new TabletError(ref, 'stopping writes (read_only=1)', err);
      },
    );
    // A watchdog on another connection: whoever holds the switch up past the grace period is ended. (A timer, so a
    // switch that is quick, as it nearly always is, does not wait for the grace period.)
    let watchdogError: unknown = null;
    let watchdog: Promise<void> = Promise.resolve();
    const timer = setTimeout(() => {
      watchdog = (async () => {
        while (!done) {
          killed += await killWriters(channel, [own]);
          await sleep(20);
        }
      })().catch((err: unknown) => void (watchdogError = err));
    }, graceMs);
    try {
      await switching;
    } finally {
      clearTimeout(timer);
      await watchdog;
    }
    if (watchdogError) throw watchdogError;
    // Read-only now: what is still open can never commit. Its clients learn it now rather than at COMMIT.
    killed += await killWriters(channel, [own]);
  } finally {
    conn.release();
  }
  return { killed };
}

// Table-level write stops, for a vertical cutover: the server keeps serving the tables that stay, so read_only (which
// stops the whole server) cannot be left on. Instead each moved table gets three triggers that refuse every
// application write (SQLSTATE 45000), as Vitess's tablets refused a vertical split's "denied tables". shardworker's
// own sessions pass them (connection.ts SESSION_SETUP sets @shardworker): the streams write through them. They are
// created with sql_log_bin = 0: no replica and no stream ever sees them, and the binlog positions stay the data's.
// Creating a trigger takes the table's metadata lock, which waits for every open transaction that touched the table:
// once the triggers exist, no write to the table is in flight and none can commit, so the binlog position read
// after them is final for those tables.

/** Every trigger shardworker creates to refuse writes starts with this (a clone never copies them). */
export const DENY_TRIGGER_PREFIX = '_sw_deny_';
const DENY_EVENTS = ['INSERT', 'UPDATE', 'DELETE'] as const;
/** SIGNAL's MESSAGE_TEXT is at most 128 characters. */
const MAX_SIGNAL_MESSAGE = 128;

/** The name of a table's deny trigger for one event: readable when it fits in 64 characters, else hashed. */
export function denyTriggerName(table: string, event: (typeof DENY_EVENTS)[number]): string {
  const name = `${DENY_TRIGGER_PREFIX}${event[0].toLowerCase()}_${table}`;
  return name.length <= 64 ? name : `${DENY_TRIGGER_PREFIX}${event[0].toLowerCase()}_${createHash('sha1').update(table).digest('hex').slice(0, 40)}`;
}

/** The statements that make `table` refuse application writes with `message`. */
export function denyWritesSql(db: string, table: string, message: string): string[] {
  const text = quoteString([...message].slice(0, MAX_SIGNAL_MESSAGE).join(''));
  return DENY_EVENTS.map(
    (event) =>
      `CREATE OR REPLACE TRIGGER ${quoteTable(db, denyTriggerName(table, event))} BEFORE ${event} ON ${quoteTable(db, table)} FOR EACH ROW BEGIN IF @shardworker IS NULL THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = ${text}; END IF; END`,
  );
}

/** The statements that let `table` take application writes again. */
export function allowWritesSql(db: string, table: string): string[] {
  return DENY_EVENTS.map((event) => `DROP TRIGGER IF EXISTS ${quoteTable(db, denyTriggerName(table, event))}`);
}

/**
 * Makes `tables` of the tablet's database refuse application writes; fails after `timeoutMs` if an open transaction
 * on one of them holds it up (nothing is left half done that `allowTableWrites` does not undo).
 */
export function denyTableWrites(client: TabletClient, tables: readonly string[], message: string, timeoutMs: number): Promise<void> {
  const db = client.ref.tablet.dbName;
  const statements = [`SET SESSION lock_wait_timeout = ${Math.max(1, Math.ceil(timeoutMs / 1000))}`, ...tables.flatMap((t) => denyWritesSql(db, t, message))];
  return onOwnSession(client, 'refusing writes to the moved tables', statements);
}

export function allowTableWrites(client: TabletClient, tables: readonly string[]): Promise<void> {
  const db = client.ref.tablet.dbName;
  return onOwnSession(
    client,
    'allowing writes to the moved tables',
    tables.flatMap((t) => allowWritesSql(db, t)),
  );
}

/** Runs unlogged DDL on a connection of its own that is then closed, so the session settings go with it. */
function onOwnSession(client: TabletClient, doing: string, statements: string[]): Promise<void> {
  // Both are idempotent (CREATE OR REPLACE, DROP IF EXISTS): a repeat after an unknown outcome is harmless.
  return client.attempt(doing, async (channel) => {
    const conn = await acquireConnection(channel.pool, channel.ref, doing);
    try {
      await conn.query(['SET SESSION sql_log_bin = 0', ...statements].join('; '));
    } catch (err) {
      throw new TabletError(channel.ref, doing, err);
    } finally {
      discardConnection(conn);
    }
  });
}
