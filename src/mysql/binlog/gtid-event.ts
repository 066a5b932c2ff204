// MariaDB's GTID_EVENT (a transaction's global id, and whether it stands alone: DDL has no COMMIT after it) and
// GTID_LIST_EVENT. Pure.

import type { RawEvent } from './event-header.ts';

/** GTID flag: the transaction is one statement with no BEGIN/COMMIT around it (DDL). */
const FL_STANDALONE = 1;

export interface GtidEvent {
  domain: number;
  serverId: number;
  seq: bigint;
  standalone: boolean;
}

/** Body: sequence number (8), domain id (4), flags (1), then optional fields by flag (a commit id, XA ids). */
export function readGtid(ev: RawEvent): GtidEvent {
  const { buf, bodyStart } = ev;
  return {
    seq: buf.readBigUInt64LE(bodyStart),
    domain: buf.readUInt32LE(bodyStart + 8),
    serverId: ev.serverId,
    standalone: (buf[bodyStart + 12] & FL_STANDALONE) !== 0,
  };
}

export function gtidText(g: GtidEvent): string {
  return `${g.domain}-${g.serverId}-${g.seq}`;
}
