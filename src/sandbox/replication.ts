// GTID replication between sandbox instances: attach a replica, read its state, wait for it to catch up.

import type { RowDataPacket } from '../mysql/admin-connection.ts';
import { withConnection, SANDBOX_HOST, type Endpoint } from './connect.ts';
import { REPL_USER, REPL_PASSWORD } from './instance.ts';

export interface ReplicationStatus {
  /** A replica is configured (SHOW SLAVE STATUS has a row). */
  configured: boolean;
  masterHost?: string;
  masterPort?: number;
  ioRunning: boolean;
  sqlRunning: boolean;
  /** Both threads run. */
  running: boolean;
  secondsBehindMaster: number | null;
  gtidSlavePos: string;
  lastIoError: string;
  lastSqlError: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function replicationStatus(replica: Endpoint): Promise<ReplicationStatus> {
  return withConnection(replica, async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>('SHOW SLAVE STATUS');
    const [pos] = await conn.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_slave_pos AS pos');
    const gtidSlavePos = String(pos[0]?.pos ?? '');
    const row = rows[0];
    if (!row) {
      return {
        configured: false,
        ioRunning: false,
        sqlRunning: false,
        running: false,
        secondsBehindMaster: null,
        gtidSlavePos,
        lastIoError: '',
        lastSqlError: '',
      };
    }
    const ioRunning = row.Slave_IO_Running === 'Yes';
    const sqlRunning = row.Slave_SQL_Running === 'Yes';
    const behind = row.Seconds_Behind_Master;
    return {
      configured: true,
      masterHost: String(row.Master_Host),
      masterPort: Number(row.Master_Port),
      ioRunning,
      sqlRunning,
      running: ioRunning && sqlRunning,
      secondsBehindMaster: behind === null || behind === undefined ? null : Number(behind),
      gtidSlavePos,
      lastIoError: String(row.Last_IO_Error ?? ''),
      lastSqlError: String(row.Last_SQL_Error ?? ''),
    };
  });
}

export interface ReplicaOptions {
  /** How long to wait for both replication threads to run (default 30 s). */
  timeoutMs?: number;
}

/**
 * Makes `replica` a GTID replica (MASTER_USE_GTID=slave_pos) of `primary` and waits until both threads run.
 * A replica already replicating from that primary is left alone.
 */
export async function startReplication(primary: Endpoint, replica: Endpoint, options: ReplicaOptions = {}): Promise<void> {
  const host = primary.host ?? SANDBOX_HOST;
  const current = await replicationStatus(replica);
  if (current.running && current.masterPort === primary.port && current.masterHost === host) return;

  await withConnection(replica, async (conn) => {
    await conn.query('STOP SLAVE');
    await conn.query(
      `CHANGE MASTER TO MASTER_HOST=?, MASTER_PORT=?, MASTER_USER=?, MASTER_PASSWORD=?,
         MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos`,
      [host, primary.port, REPL_USER, REPL_PASSWORD],
    );
    await conn.query('START SLAVE');
  });

  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let status = await replicationStatus(replica);
  while (!status.running && Date.now() < deadline) {
    if (status.lastSqlError) break; // will not fix itself
    await sleep(200);
    status = await replicationStatus(replica);
  }
  if (!status.running) {
    throw new Error(
      `replication ${host}:${primary.port} -> port ${replica.port} did not start (io ${status.ioRunning}, sql ${status.sqlRunning}): ${status.lastIoError || status.lastSqlError || 'no error reported'}`,
    );
  }
}

/** Stops replication on `replica` and forgets its primary (RESET SLAVE ALL). */
export async function stopReplication(replica: Endpoint): Promise<void> {
  await withConnection(replica, async (conn) => {
    await conn.query('STOP SLAVE');
    await conn.query('RESET SLAVE ALL');
  });
}

/** The primary's current binlog GTID position (`@@gtid_binlog_pos`), e.g. `0-1-42`. */
export async function primaryPosition(primary: Endpoint): Promise<string> {
  return withConnection(primary, async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
    return String(rows[0]?.pos ?? '');
  });
}

/**
 * Resolves once `replica` has applied everything `primary` had binlogged when this was called
 * (MASTER_GTID_WAIT). Throws on timeout, with the replica's replication errors.
 */
export async function waitForCatchUp(primary: Endpoint, replica: Endpoint, timeoutMs = 60_000): Promise<void> {
  const pos = await primaryPosition(primary);
  if (pos === '') return; // nothing binlogged yet
  const result = await withConnection(replica, async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, ?) AS r', [pos, timeoutMs / 1000]);
    return Number(rows[0]?.r);
  });
  if (result !== 0) {
    const status = await replicationStatus(replica);
    throw new Error(
      `replica on port ${replica.port} did not reach ${pos} within ${timeoutMs} ms (at ${status.gtidSlavePos || 'nothing'}, io ${status.ioRunning}, sql ${status.sqlRunning}${status.lastIoError ? `, io error: ${status.lastIoError}` : ''}${status.lastSqlError ? `, sql error: ${status.lastSqlError}` : ''})`,
    );
  }
}
