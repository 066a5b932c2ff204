// Replication control on a source tablet and read-only checks on destinations. MariaDB and MySQL both.

import { setTimeout as sleep } from 'node:timers/promises';
import { describeTablet } from './connection.ts';
import type { ConnectionGuard, TabletClient } from './tablet-client.ts';
import { compareGtidLists, formatGtidList, parseGtidList, parsePosition, type GtidList } from './gtid.ts';
import { quoteString } from './sql.ts';

export type Flavor = 'MariaDB' | 'MySQL56';

export interface ReplicationStatus {
  /** False when the server is no replica at all. */
  configured: boolean;
  ioRunning: boolean;
  sqlRunning: boolean;
  lastError: string;
}

export async function serverFlavor(client: TabletClient): Promise<Flavor> {
  const rows = await client.query<{ v: string }[]>('reading the server version', 'SELECT VERSION() AS v');
  return /mariadb/i.test(String(rows[0].v)) ? 'MariaDB' : 'MySQL56';
}

export async function replicationStatus(client: TabletClient): Promise<ReplicationStatus> {
  const rows = await client.query<Record<string, unknown>[]>('reading replication status', 'SHOW SLAVE STATUS');
  if (rows.length === 0) return { configured: false, ioRunning: false, sqlRunning: false, lastError: '' };
  const r = rows[0];
  const text = (k: string) => (r[k] === null || r[k] === undefined ? '' : String(r[k]));
  return {
    configured: true,
    ioRunning: text('Slave_IO_Running') === 'Yes',
    sqlRunning: text('Slave_SQL_Running') === 'Yes',
    lastError: text('Last_Error') || text('Last_IO_Error') || text('Last_SQL_Error'),
  };
}

export async function stopReplication(client: TabletClient): Promise<void> {
  await client.query('stopping replication', 'STOP SLAVE');
}

/** How long a restart waits for both replication threads to report running. */
export const REPLICATION_START_TIMEOUT_MS = 30_000;

/**
 * START SLAVE, then waits until both threads run: START SLAVE returns while the IO thread is still connecting, and
 * a restart that is reported done must be one (cleanup says so only when the tablet replicates again). Threads not
 * both running after `timeoutMs` fail it, naming them and the last error (an old error may linger until then).
 */
export async function startReplication(client: TabletClient, timeoutMs = REPLICATION_START_TIMEOUT_MS): Promise<void> {
  await client.query('starting replication', 'START SLAVE');
  const deadline = Date.now() + timeoutMs;
  // The IO thread is usually connected within milliseconds: look again soon, then less often (a fixed 100 ms was
  // a tenth of a second added to every job's cleanup).
  let waitMs = 5;
  for (;;) {
    const s = await replicationStatus(client);
    if (s.ioRunning && s.sqlRunning) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `replication on ${client.ref.alias} did not start: IO thread ${s.ioRunning ? 'running' : 'not running'}, SQL thread ${s.sqlRunning ? 'running' : 'not running'}${s.lastError ? `, last error: ${s.lastError}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    waitMs = Math.min(waitMs * 2, 100);
  }
}

const POSITION_SQL: Record<Flavor, string> = { MariaDB: 'SELECT @@GLOBAL.gtid_slave_pos AS pos', MySQL56: 'SELECT @@GLOBAL.gtid_executed AS pos' };

function formatPosition(flavor: Flavor, raw: unknown): string {
  return flavor === 'MariaDB' ? `MariaDB/${String(raw)}` : `MySQL56/${String(raw).replace(/\s+/g, '')}`;
}

/** The position this tablet's data is at, in the `Flavor/...` form `_vt.blp_checkpoint` keeps. */
export async function currentPosition(client: TabletClient, flavor: Flavor): Promise<string> {
  const rows = await client.query<{ pos: string | Buffer }[]>('reading the GTID position', POSITION_SQL[flavor]);
  return formatPosition(flavor, rows[0].pos);
}

/**
 * The check of every new connection to a taken source (a reconnect after it restarted, say): a restarted replica
 * may start replicating again by itself, and its data then is no longer the snapshot. Replication is stopped again
 * (idempotent: it is stopped while the job holds the tablet) and the position read, both on the connection before
 * any read of the job's: unmoved, reading goes on; moved, the snapshot is gone.
 */
export function snapshotGuard(flavor: Flavor, position: string): ConnectionGuard {
  return {
    sql: `STOP SLAVE; ${POSITION_SQL[flavor]}`,
    verdict: (rows) => {
      const now = formatPosition(flavor, rows[0]?.pos);
      return now === position
        ? null
        : `it moved from the snapshot position ${position} to ${now} (it restarted and replicated by itself): the snapshot is gone, rows read from two positions would not be one copy; clone again`;
    },
  };
}

export async function isReadOnly(client: TabletClient): Promise<boolean> {
  const rows = await client.query<{ ro: string | number }[]>('checking read_only', 'SELECT @@GLOBAL.read_only AS ro');
  return Number(rows[0].ro) !== 0;
}

/** A replica that cannot be brought to a wanted position (it is past it, or stopped elsewhere). */
export class ReplicationPositionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplicationPositionError';
  }
}

async function gtidSlavePos(client: TabletClient): Promise<GtidList> {
  const rows = await client.query<{ pos: string | Buffer }[]>('reading the GTID position', 'SELECT @@GLOBAL.gtid_slave_pos AS pos');
  return parseGtidList(String(rows[0].pos));
}

export interface StopAtOptions {
  signal: AbortSignal;
  /** How often the replica is looked at while it runs on (default 100 ms). */
  pollMs?: number;
  /** Called about every 10 s while the replica runs on, with where it is. */
  onWaiting?: (at: string) => void;
  /**
   * A replica past `target` is no error: it stops at the first position at or past `target` in every domain
   * (where it stands, or run on to it when it is past in one domain and behind in another). For a diff with
   * streams running: the streams are then run to wherever the replica stopped.
   */
  orLater?: boolean;
}

/**
 * Leaves the replica stopped exactly at `target` (`MariaDB/<gtid list>`): stopped where it is when it is there
 * already, run on with START SLAVE UNTIL when it is behind. Replication cannot go back, so a replica past
 * `target` is an error that says so, unless `orLater`. MariaDB GTID positions only, so far.
 */
export async function stopReplicationAt(client: TabletClient, target: string, opts: StopAtOptions): Promise<void> {
  const position = parsePosition(target);
  if (position.flavor !== 'MariaDB') {
    throw new ReplicationPositionError(`cannot stop ${describeTablet(client.ref)} at ${target}: only MariaDB GTID positions are supported so far`);
  }
  let want = parseGtidList(position.value);
  await stopReplication(client);
  const at = await gtidSlavePos(client);
  let relation = compareGtidLists(at, want);
  if (relation.kind === 'past' && opts.orLater) {
    want = gtidMax(at, want);
    relation = compareGtidLists(at, want);
  }
  if (relation.kind === 'past') {
    throw new ReplicationPositionError(
      `${describeTablet(client.ref)} has replicated past ${target} (it is at MariaDB/${formatGtidList(at)}, ahead in domain ${relation.domain}), `
        + 'and replication cannot go back: its rows are no longer those the destination was cloned from '
        + '(if a stream moves the destination on, diff on the daemon that runs it: there the stream is run to the tablet)',
    );
  }
  if (relation.kind === 'equal') return;

  await client.query(`starting replication until ${target}`, `START SLAVE UNTIL master_gtid_pos = ${quoteString(formatGtidList(want))}`);
  try {
    await waitForSqlThreadStop(client, opts);
  } finally {
    // The UNTIL clause stops the SQL thread only; the IO thread goes on fetching until told.
    await stopReplication(client);
  }
  const reached = await gtidSlavePos(client);
  if (compareGtidLists(reached, want).kind !== 'equal') {
    throw new ReplicationPositionError(
      `${describeTablet(client.ref)} stopped at MariaDB/${formatGtidList(reached)} instead of MariaDB/${formatGtidList(want)}`,
    );
  }
}

/** Per domain, the further of the two. */
function gtidMax(a: GtidList, b: GtidList): GtidList {
  const max: GtidList = new Map(a);
  for (const [domain, g] of b) if ((max.get(domain)?.seq ?? -1n) < g.seq) max.set(domain, g);
  return max;
}

async function waitForSqlThreadStop(client: TabletClient, opts: StopAtOptions): Promise<void> {
  const pollMs = opts.pollMs ?? 100;
  let lastReport = Date.now();
  for (;;) {
    opts.signal.throwIfAborted();
    const status = await replicationStatus(client);
    if (!status.sqlRunning) {
      if (status.lastError) throw new ReplicationPositionError(`replication on ${describeTablet(client.ref)} stopped with an error: ${status.lastError}`);
      return;
    }
    // Without its IO thread a replica behind its target never gets there.
    if (!status.ioRunning && status.lastError)
      throw new ReplicationPositionError(`replication on ${describeTablet(client.ref)} cannot fetch from its primary: ${status.lastError}`);
    if (opts.onWaiting && Date.now() - lastReport >= 10_000) {
      lastReport = Date.now();
      opts.onWaiting(`MariaDB/${formatGtidList(await gtidSlavePos(client))}`);
    }
    await sleep(pollMs, undefined, { signal: opts.signal });
  }
}
