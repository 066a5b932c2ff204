// What the lag monitor asks a destination's primary and its replicas: one statement each, on links with no gate and
// no retry (a probe that fails is reported as such, and tried again at the next tick).

import { parseGtidList, type GtidList } from '../mysql/gtid.ts';
import type { TabletClient } from '../mysql/tablet-client.ts';

/** MariaDB: every transaction the primary has written to its binlog. */
export async function primaryGtidPos(client: TabletClient): Promise<GtidList> {
  const rows = await client.query<{ pos: string | Buffer }[]>('reading the binlog position for the lag monitor', 'SELECT @@GLOBAL.gtid_binlog_pos AS pos');
  return parseGtidList(String(rows[0].pos));
}

/** MariaDB: every transaction the replica's SQL thread has applied (and committed). */
export async function replicaGtidPos(client: TabletClient): Promise<GtidList> {
  const rows = await client.query<{ pos: string | Buffer }[]>('reading the replica position for the lag monitor', 'SELECT @@GLOBAL.gtid_slave_pos AS pos');
  return parseGtidList(String(rows[0].pos));
}

/** Seconds_Behind_Master: null while replication does not run (or the server is no replica). */
export async function secondsBehindMaster(client: TabletClient): Promise<number | null> {
  const rows = await client.query<Record<string, unknown>[]>('reading replication lag', 'SHOW SLAVE STATUS');
  const v = rows[0]?.Seconds_Behind_Master;
  return v === null || v === undefined ? null : Number(v);
}
