// `_vt.blp_checkpoint`: where filtered replication from each source shard resumes on a destination.

import { describeTablet, TabletError } from '../mysql/connection.ts';
import type { TabletClient } from '../mysql/tablet-client.ts';
import { quoteString } from '../mysql/sql.ts';

export const BLP_FLAG_DONT_START = 'DontStart';

export const CREATE_BLP_CHECKPOINT = [
  'CREATE DATABASE IF NOT EXISTS `_vt`',
  `CREATE TABLE IF NOT EXISTS \`_vt\`.\`blp_checkpoint\` (
  source_shard_uid INT(10) UNSIGNED NOT NULL,
  pos VARBINARY(64000) DEFAULT NULL,
  max_tps BIGINT(20) NOT NULL,
  max_replication_lag BIGINT(20) NOT NULL,
  time_updated BIGINT(20) UNSIGNED NOT NULL,
  transaction_timestamp BIGINT(20) UNSIGNED NOT NULL,
  flags VARBINARY(250) DEFAULT NULL,
  PRIMARY KEY (source_shard_uid)
) ENGINE=InnoDB`,
];

export interface CheckpointRow {
  uid: number;
  position: string;
  timeUpdated: number;
  flags: string;
}

export function populateBlpCheckpoint(row: CheckpointRow): string {
  if (!Number.isInteger(row.uid) || row.uid < 0) throw new Error(`bad source shard uid ${row.uid}`);
  return `REPLACE INTO \`_vt\`.\`blp_checkpoint\` (source_shard_uid, pos, max_tps, max_replication_lag, time_updated, transaction_timestamp, flags) VALUES (${row.uid}, ${quoteString(row.position)}, 9223372036854775807, 9223372036854775807, ${Math.floor(row.timeUpdated)}, 0, ${quoteString(row.flags)})`;
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

const ER_BAD_DB = 1049;
const ER_NO_SUCH_TABLE = 1146;

/** The position each source shard uid's row holds on a destination: where its copy of that source was taken. */
export async function readCheckpointPositions(client: TabletClient): Promise<Map<number, string>> {
  let rows: { uid: number | string; pos: Buffer | string | null }[];
  try {
    rows = await client.query('reading _vt.blp_checkpoint', 'SELECT source_shard_uid AS uid, pos FROM `_vt`.`blp_checkpoint`');
  } catch (err) {
    if (err instanceof TabletError && (err.errno === ER_NO_SUCH_TABLE || err.errno === ER_BAD_DB)) {
      throw new CheckpointError(
        `destination ${describeTablet(client.ref)} has no _vt.blp_checkpoint, so the position it was cloned from is unknown (clone with -populate_blp_checkpoint, or diff inside the clone with verify)`,
      );
    }
    throw err;
  }
  return new Map(rows.filter((r) => r.pos !== null).map((r) => [Number(r.uid), String(r.pos)]));
}
