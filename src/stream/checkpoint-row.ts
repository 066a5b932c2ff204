// A stream's row in the destination's `_vt.blp_checkpoint` (DESIGN.md: the stream *is* this row): where it
// resumes, whether it may start, how fast it may go. Statement texts are pure; the reads go through the tablet client.

import { BLP_FLAG_DONT_START } from '../clone/checkpoint.ts';
import type { TabletClient } from '../mysql/tablet-client.ts';
import { quoteString } from '../mysql/sql.ts';

export interface StreamCheckpoint {
  uid: number;
  position: string;
  /** Source transactions per second at most; null for unlimited (the clone writes INT64_MAX). */
  maxTps: number | null;
  /** max_replication_lag: seconds the destination's replicas may be behind before applying waits; null for none. */
  maxReplicationLag: number | null;
  flags: string[];
  /** Seconds since the epoch: when the row was last written, and the source commit time of what it applied last. */
  timeUpdated: number;
  transactionTimestamp: number;
}

export function isDontStart(checkpoint: StreamCheckpoint): boolean {
  return checkpoint.flags.includes(BLP_FLAG_DONT_START);
}

interface CheckpointDbRow {
  uid: number | string;
  pos: Buffer | string | null;
  maxTps: number | string;
  maxReplicationLag: number | string;
  timeUpdated: number | string;
  transactionTimestamp: number | string;
  flags: Buffer | string | null;
}

const SELECT =
  'SELECT source_shard_uid AS uid, pos, max_tps AS maxTps, max_replication_lag AS maxReplicationLag, time_updated AS timeUpdated, transaction_timestamp AS transactionTimestamp, flags FROM `_vt`.`blp_checkpoint`';

function fromDb(r: CheckpointDbRow): StreamCheckpoint {
  const maxTps = Number(r.maxTps);
  return {
    uid: Number(r.uid),
    position: r.pos === null ? '' : String(r.pos),
    // Vitess writes INT64_MAX for unlimited; 0 or less is unlimited too.
    maxTps: maxTps > 0 && maxTps < 1e15 ? maxTps : null,
    maxReplicationLag: Number(r.maxReplicationLag) > 0 && Number(r.maxReplicationLag) < 1e15 ? Number(r.maxReplicationLag) : null,
    flags:
      r.flags === null
        ? []
        : String(r.flags)
            .split(/[\s,]+/)
            .filter(Boolean),
    timeUpdated: Number(r.timeUpdated),
    transactionTimestamp: Number(r.transactionTimestamp),
  };
}

const ER_BAD_DB = 1049;
const ER_NO_SUCH_TABLE = 1146;

/** Every checkpoint row of a destination; none when it has no `_vt.blp_checkpoint` (never cloned with one). */
export async function readStreamCheckpoints(client: TabletClient): Promise<StreamCheckpoint[]> {
  try {
    return (await client.query<CheckpointDbRow[]>('reading _vt.blp_checkpoint', SELECT)).map(fromDb);
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (errno === ER_NO_SUCH_TABLE || errno === ER_BAD_DB) return [];
    throw err;
  }
}

/**
 * Reads a stream's position and locks its row until the transaction ends: the first statement of every apply
 * transaction, so a group is applied only onto the position it follows (see Applier).
 */
export function lockPositionSql(uid: number): string {
  return `SELECT pos FROM \`_vt\`.\`blp_checkpoint\` WHERE source_shard_uid=${checkedUid(uid)} FOR UPDATE`;
}

/** A position as the checkpoint row holds it (VARBINARY). */
export function positionOf(pos: Buffer | string | null): string {
  return pos === null ? '' : String(pos);
}

/** The statement that moves a stream's position, in the same destination transaction as the rows it applied. */
export function updatePositionSql(uid: number, position: string, nowSeconds: number, transactionTimestamp: number): string {
  return `UPDATE \`_vt\`.\`blp_checkpoint\` SET pos=${quoteString(position)}, time_updated=${Math.floor(nowSeconds)}, transaction_timestamp=${Math.floor(transactionTimestamp)} WHERE source_shard_uid=${checkedUid(uid)}`;
}

/** Sets or clears DontStart, keeping any other flag: a stopped stream stays stopped across daemon restarts. */
export function setDontStartSql(uid: number, dontStart: boolean, current: readonly string[]): string {
  const flags = current.filter((f) => f !== BLP_FLAG_DONT_START);
  if (dontStart) flags.push(BLP_FLAG_DONT_START);
  return `UPDATE \`_vt\`.\`blp_checkpoint\` SET flags=${quoteString(flags.join(','))} WHERE source_shard_uid=${checkedUid(uid)}`;
}

function checkedUid(uid: number): number {
  if (!Number.isInteger(uid) || uid < 0) throw new Error(`bad source shard uid ${uid}`);
  return uid;
}
