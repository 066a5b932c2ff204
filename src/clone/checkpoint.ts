// `_vt.blp_checkpoint`: where filtered replication from each source shard resumes on a destination.

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
