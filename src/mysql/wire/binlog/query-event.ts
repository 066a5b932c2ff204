// QUERY_EVENT: a statement as text (in a row-based binlog: BEGIN, COMMIT or ROLLBACK of a non-transactional
// change, SAVEPOINTs, and DDL). Pure.

import { BinlogFormatError, type RawEvent } from './event-header.ts';

export interface QueryEvent {
  /** The default database the statement ran in ('' for none). */
  database: string;
  statement: string;
}

/**
 * Fixed part: thread id (4), execution time (4), database name length (1), error code (2), status variables length
 * (2); then the status variables, the database name and a NUL, and the statement up to the event's end.
 */
export function readQuery(ev: RawEvent): QueryEvent {
  const { buf, bodyStart, bodyEnd } = ev;
  const dbLength = buf[bodyStart + 8];
  const statusLength = buf.readUInt16LE(bodyStart + 11);
  const dbStart = bodyStart + 13 + statusLength;
  const statementStart = dbStart + dbLength + 1;
  if (statementStart > bodyEnd) throw new BinlogFormatError('a query event shorter than its own lengths say');
  return { database: buf.toString('utf8', dbStart, dbStart + dbLength), statement: buf.toString('utf8', statementStart, bodyEnd) };
}
