// MariaDB's GTID_EVENT (a transaction's global id, and whether it stands alone: DDL has no COMMIT after it) and
// GTID_LIST_EVENT. Pure.

import type { RawEvent } from './event-header.ts';

/** GTID flag: the transaction is one statement with no BEGIN/COMMIT around it (DDL). */
const FL_STANDALONE = 1;
/** GTID flags of an XA transaction's PREPARE and of its later XA COMMIT / XA ROLLBACK (MariaDB 10.5+). */
const FL_PREPARED_XA = 64;
const FL_COMPLETED_XA = 128;

export interface GtidEvent {
  domain: number;
  serverId: number;
  seq: bigint;
  standalone: boolean;
  /** Part of an XA transaction, whose changes commit in a later GTID: not streamed yet. */
  xa: boolean;
}

/** Body: sequence number (8), domain id (4), flags (1), then optional fields by flag (a commit id, XA ids). */
export function readGtid(ev: RawEvent): GtidEvent {
  const { buf, bodyStart } = ev;
  return {
    seq: buf.readBigUInt64LE(bodyStart),
    domain: buf.readUInt32LE(bodyStart + 8),
    serverId: ev.serverId,
    standalone: (buf[bodyStart + 12] & FL_STANDALONE) !== 0,
    xa: (buf[bodyStart + 12] & (FL_PREPARED_XA | FL_COMPLETED_XA)) !== 0,
  };
}

export function gtidText(g: GtidEvent): string {
  return `${g.domain}-${g.serverId}-${g.seq}`;
}
