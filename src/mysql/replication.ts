// Replication control on a source tablet and read-only checks on destinations. MariaDB and MySQL both.

import { queryOn, type Pool, type TabletRef } from './connection.ts';

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
