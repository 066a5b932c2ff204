// A consistent snapshot on a live tablet (`--snapshot consistent`): every reader's transaction opens on one and the
// same snapshot, and the position recorded is exactly that snapshot's, while the tablet keeps serving. On MariaDB
// 10.4+ one connection holds BACKUP STAGE BLOCK_COMMIT (commits wait, reads and uncommitted writes go on) only while
// the readers START TRANSACTION WITH CONSISTENT SNAPSHOT and the position is read, then lets go at once; before
// 10.4, a global read lock (FLUSH TABLES WITH READ LOCK) does the same, more heavily. The readers' transactions are
// then held for the whole copy: their connections must never be dropped (the pool keeps exactly them, see
// snapshotLostGuard), since a transaction lost cannot be opened again on the same snapshot.
//
// The order matters: the readers' connections are made before the lock (a connect under it would lengthen the
// pause), the lock is taken, every reader opens its transaction, the GTID position is read, the lock is let go; only
// then is each reader's own snapshot position (Binlog_snapshot_file/_position) read and checked: all the same, and
// BINLOG_GTID_POS of it equal to the GTID position read under the lock (both name one instant), or the readers do not
// share one snapshot.

import { acquireConnection, TabletError, type PoolConnection } from './connection.ts';
import { compareGtidLists, parseGtidList } from './gtid.ts';
import { quoteString } from './sql.ts';
import type { ConnectionGuard, TabletClient } from './tablet-client.ts';
import { discardConnection } from './wire/discard.ts';

/** How commits are held back while the readers open their transactions. */
export type SnapshotLock = 'backup-stage' | 'read-lock';

/** A server on which a consistent snapshot cannot be taken (yet): the job is refused before it changes anything. */
export class SnapshotUnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotUnsupportedError';
  }
}

/**
 * The lock to use on a server of this `SELECT VERSION()`: BACKUP STAGE on MariaDB 10.4 and later, a global read
 * lock on older MariaDB. MySQL is refused: its snapshot position needs another method (performance_schema's
 * log_status), not written yet.
 */
export function snapshotLockFor(version: string): SnapshotLock {
  if (!/mariadb/i.test(version)) {
    throw new SnapshotUnsupportedError(
      `--snapshot consistent is not supported on MySQL yet (the server is ${version}): read from an rdonly or replica tablet without it, whose replication is stopped instead`,
    );
  }
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) throw new SnapshotUnsupportedError(`--snapshot consistent: cannot read the MariaDB version from ${JSON.stringify(version)}`);
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 10 || (major === 10 && minor >= 4) ? 'backup-stage' : 'read-lock';
}

const LOCK_SQL: Record<SnapshotLock, { take: string[]; release: string }> = {
  'backup-stage': { take: ['BACKUP STAGE START', 'BACKUP STAGE BLOCK_COMMIT'], release: 'BACKUP STAGE END' },
  'read-lock': { take: ['FLUSH TABLES WITH READ LOCK'], release: 'UNLOCK TABLES' },
};

/** How long taking the lock may wait (behind a long commit or, for the read lock, a long query) before giving up. */
export const SNAPSHOT_LOCK_WAIT_SECONDS = 10;

export interface OpenedSnapshot {
  /** `MariaDB/<gtid list>`: the position of every reader's snapshot. */
  position: string;
  openedAt: Date;
  /** How long commits were held back on the tablet. */
  blockedMs: number;
  lock: SnapshotLock;
}

/**
 * Opens a consistent snapshot on each of `count` connections of `readers` (a client with exactly `count`
 * connections, left in its pool, each in its transaction), holding commits back on `holder`'s one connection in the
 * meantime. One attempt, no retry: a failure ends every reader's transaction and lets the lock go.
 */
export async function openConsistentSnapshot(holder: TabletClient, readers: TabletClient, count: number): Promise<OpenedSnapshot> {
  const ref = readers.ref;
  const doing = 'opening a consistent snapshot';
  const version = await holder.query<{ v: string }[]>('reading the server version', 'SELECT VERSION() AS v');
  const lock = snapshotLockFor(String(version[0].v));
  const settings = await holder.query<{ logBin: number | string; isReplica: number | string; slaveUpdates: number | string }[]>(
    'checking the binary log',
    "SELECT @@GLOBAL.log_bin AS logBin, @@GLOBAL.log_slave_updates AS slaveUpdates, (SELECT COUNT(*) FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RUNNING' AND VARIABLE_VALUE = 'ON') AS isReplica",
  );
  const s = settings[0];
  if (Number(s.logBin) !== 1)
    throw new SnapshotUnsupportedError(
      `--snapshot consistent: ${ref.alias} has no binary log (log_bin is off), so the snapshot has no position the streams could start from`,
    );
  if (Number(s.isReplica) > 0 && Number(s.slaveUpdates) !== 1) {
    throw new SnapshotUnsupportedError(
      `--snapshot consistent: ${ref.alias} is a replica without log_slave_updates: its binary log lacks what it replicates, so the snapshot's position would be wrong; pick its primary or another replica`,
    );
  }

  const holderChannel = holder.channel();
  const readerChannel = readers.channel();
  const held = await acquireConnection(holderChannel.pool, holder.ref, doing);
  const conns: PoolConnection[] = [];
  let opened = false;
  let locked = false;
  let heldOpen = true;
  const run = async <T>(conn: PoolConnection, what: string, sql: string): Promise<T> => {
    try {
      const [rows] = await conn.query(sql);
      return rows as T;
    } catch (err) {
      throw new TabletError(ref, what, err);
    }
  };
  try {
    for (let i = 0; i < count; i++) conns.push(await acquireConnection(readerChannel.pool, ref, doing));
    await Promise.all(conns.map((c) => run(c, doing, 'SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ')));
    await run(held, doing, `SET SESSION lock_wait_timeout = ${SNAPSHOT_LOCK_WAIT_SECONDS}`);
    const started = performance.now();
    let gtidUnderLock = '';
    let openedAt = new Date();
    try {
      // Marked first: a BACKUP STAGE START whose BLOCK_COMMIT then failed must be ended too.
      locked = true;
      for (const sql of LOCK_SQL[lock].take) await run(held, `holding commits back (${sql})`, sql);
      await Promise.all(conns.map((c) => run(c, doing, 'START TRANSACTION WITH CONSISTENT SNAPSHOT')));
      openedAt = new Date();
      const pos = await run<{ pos: string }[]>(held, 'reading the GTID position under the lock', 'SELECT @@GLOBAL.gtid_binlog_pos AS pos');
      gtidUnderLock = String(pos[0].pos);
    } finally {
      heldOpen = false;
      // At once, whatever happened: commits on the tablet wait until this runs.
      // A release that fails (the lock was never taken, say) is made by closing the connection: the server lets go.
      if (
        locked
        && !(await run(held, 'letting commits go on', LOCK_SQL[lock].release).then(
          () => true,
          () => false,
        ))
      )
        discardConnection(held);
      else held.release();
    }
    const blockedMs = performance.now() - started;
    // Each transaction's own snapshot position: the same whenever it is read, so read after the lock is let go.
    const positions = await Promise.all(
      conns.map(async (c) => {
        const status = await run<{ Variable_name: string; Value: string }[]>(c, 'reading the snapshot position', "SHOW STATUS LIKE 'binlog_snapshot_%'");
        const value = (name: string) => status.find((r) => r.Variable_name.toLowerCase() === name)?.Value;
        return { file: value('binlog_snapshot_file') ?? '', offset: value('binlog_snapshot_position') ?? '' };
      }),
    );
    const binlog = positions[0];
    if (!binlog.file || !binlog.offset)
      throw new Error(`${doing} on ${ref.alias}: the server did not report the snapshot's binlog position (Binlog_snapshot_file)`);
    const apart = positions.find((p) => p.file !== binlog.file || p.offset !== binlog.offset);
    if (apart)
      throw new Error(
        `${doing} on ${ref.alias}: the readers' snapshots differ (${binlog.file}:${binlog.offset} and ${apart.file}:${apart.offset}): commits were not held back`,
      );
    const converted = await run<{ pos: string | null }[]>(
      conns[0],
      'converting the snapshot position',
      `SELECT BINLOG_GTID_POS(${quoteString(binlog.file)}, ${Number(binlog.offset)}) AS pos`,
    );
    const snapshotGtid = converted[0].pos === null ? null : String(converted[0].pos);
    if (snapshotGtid === null || compareGtidLists(parseGtidList(snapshotGtid), parseGtidList(gtidUnderLock)).kind !== 'equal') {
      throw new Error(
        `${doing} on ${ref.alias}: the readers' snapshot is at ${binlog.file}:${binlog.offset} (${snapshotGtid ?? 'no GTID position'}), not at ${gtidUnderLock} read under the lock: they do not share one snapshot`,
      );
    }
    opened = true;
    return { position: `MariaDB/${gtidUnderLock}`, openedAt, blockedMs, lock };
  } finally {
    // The readers go back to their pool in their transactions; after a failure, ended with their connections.
    for (const c of conns) opened ? c.release() : discardConnection(c);
    if (heldOpen) held.release();
  }
}

/**
 * The check of every new connection to a tablet read at a consistent snapshot: there is none to make, since only a
 * connection lost is ever replaced, and its transaction (the snapshot) went with it. The job fails with why.
 */
export function snapshotLostGuard(position: string): ConnectionGuard {
  return {
    sql: 'SELECT 1 AS one',
    verdict: () =>
      `a connection holding the consistent snapshot at ${position} was lost, and the snapshot went with it: a transaction cannot be opened again on it, so the copy cannot go on (rows read at two instants would not be one copy). The source was left as found; empty the destinations and clone again`,
  };
}
