// Replication control on a source tablet and read-only checks on destinations. MariaDB and MySQL both.

import { setTimeout as sleep } from 'node:timers/promises';
import { describeTablet, queryOn, type Pool, type TabletRef } from './connection.ts';
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

export async function serverFlavor(pool: Pool, ref: TabletRef): Promise<Flavor> {
  const rows = await queryOn<{ v: string }[]>(pool, ref, 'reading the server version', 'SELECT VERSION() AS v');
  return /mariadb/i.test(String(rows[0].v)) ? 'MariaDB' : 'MySQL56';
}

export async function replicationStatus(pool: Pool, ref: TabletRef): Promise<ReplicationStatus> {
  const rows = await queryOn<Record<string, unknown>[]>(pool, ref, 'reading replication status', 'SHOW SLAVE STATUS');
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

export async function stopReplication(pool: Pool, ref: TabletRef): Promise<void> {
  await queryOn(pool, ref, 'stopping replication', 'STOP SLAVE');
}

export async function startReplication(pool: Pool, ref: TabletRef): Promise<void> {
  await queryOn(pool, ref, 'starting replication', 'START SLAVE');
}

/** The position this tablet's data is at, in the `Flavor/...` form `_vt.blp_checkpoint` keeps. */
export async function currentPosition(pool: Pool, ref: TabletRef, flavor: Flavor): Promise<string> {
  if (flavor === 'MariaDB') {
    const rows = await queryOn<{ pos: string | Buffer }[]>(pool, ref, 'reading the GTID position', 'SELECT @@GLOBAL.gtid_slave_pos AS pos');
    return `MariaDB/${String(rows[0].pos)}`;
  }
  const rows = await queryOn<{ pos: string | Buffer }[]>(pool, ref, 'reading the GTID position', 'SELECT @@GLOBAL.gtid_executed AS pos');
  return `MySQL56/${String(rows[0].pos).replace(/\s+/g, '')}`;
}

export async function isReadOnly(pool: Pool, ref: TabletRef): Promise<boolean> {
  const rows = await queryOn<{ ro: string | number }[]>(pool, ref, 'checking read_only', 'SELECT @@GLOBAL.read_only AS ro');
  return Number(rows[0].ro) !== 0;
}

/** A replica that cannot be brought to a wanted position (it is past it, or stopped elsewhere). */
export class ReplicationPositionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplicationPositionError';
  }
}

async function gtidSlavePos(pool: Pool, ref: TabletRef): Promise<GtidList> {
  const rows = await queryOn<{ pos: string | Buffer }[]>(pool, ref, 'reading the GTID position', 'SELECT @@GLOBAL.gtid_slave_pos AS pos');
  return parseGtidList(String(rows[0].pos));
}

export interface StopAtOptions {
  signal: AbortSignal;
  /** How often the replica is looked at while it runs on (default 100 ms). */
  pollMs?: number;
  /** Called about every 10 s while the replica runs on, with where it is. */
  onWaiting?: (at: string) => void;
}

/**
 * Leaves the replica stopped exactly at `target` (`MariaDB/<gtid list>`): stopped where it is when it is there
 * already, run on with START SLAVE UNTIL when it is behind. Replication cannot go back, so a replica past
 * `target` is an error that says so. MariaDB GTID positions only, so far.
 */
export async function stopReplicationAt(pool: Pool, ref: TabletRef, target: string, opts: StopAtOptions): Promise<void> {
  const position = parsePosition(target);
  if (position.flavor !== 'MariaDB') {
    throw new ReplicationPositionError(`cannot stop ${describeTablet(ref)} at ${target}: only MariaDB GTID positions are supported so far`);
  }
  const want = parseGtidList(position.value);
  await stopReplication(pool, ref);
  const at = await gtidSlavePos(pool, ref);
  const relation = compareGtidLists(at, want);
  if (relation.kind === 'past') {
    throw new ReplicationPositionError(
      `${describeTablet(ref)} has replicated past ${target} (it is at MariaDB/${formatGtidList(at)}, ahead in domain ${relation.domain}), ` +
        'and replication cannot go back: its rows are no longer those the destination was cloned from',
    );
  }
  if (relation.kind === 'equal') return;

  await queryOn(pool, ref, `starting replication until ${target}`, `START SLAVE UNTIL master_gtid_pos = ${quoteString(formatGtidList(want))}`);
  try {
    await waitForSqlThreadStop(pool, ref, opts);
  } finally {
    // The UNTIL clause stops the SQL thread only; the IO thread goes on fetching until told.
    await stopReplication(pool, ref);
  }
  const reached = await gtidSlavePos(pool, ref);
  if (compareGtidLists(reached, want).kind !== 'equal') {
    throw new ReplicationPositionError(`${describeTablet(ref)} stopped at MariaDB/${formatGtidList(reached)} instead of ${target}`);
  }
}

async function waitForSqlThreadStop(pool: Pool, ref: TabletRef, opts: StopAtOptions): Promise<void> {
  const pollMs = opts.pollMs ?? 100;
  let lastReport = Date.now();
  for (;;) {
    opts.signal.throwIfAborted();
    const status = await replicationStatus(pool, ref);
    if (!status.sqlRunning) {
      if (status.lastError) throw new ReplicationPositionError(`replication on ${describeTablet(ref)} stopped with an error: ${status.lastError}`);
      return;
    }
    // Without its IO thread a replica behind its target never gets there.
    if (!status.ioRunning && status.lastError) throw new ReplicationPositionError(`replication on ${describeTablet(ref)} cannot fetch from its primary: ${status.lastError}`);
    if (opts.onWaiting && Date.now() - lastReport >= 10_000) {
      lastReport = Date.now();
      opts.onWaiting(`MariaDB/${formatGtidList(await gtidSlavePos(pool, ref))}`);
    }
    await sleep(pollMs, undefined, { signal: opts.signal });
  }
}
