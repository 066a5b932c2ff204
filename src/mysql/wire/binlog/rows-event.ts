// WRITE_ROWS / UPDATE_ROWS / DELETE_ROWS (v1, and v2 with its extra data): the row images of one statement's
// changes to one table, decoded with the table map's per-column decoders. Pure.

import { BinlogFormatError, E, lengthEncoded, type BinlogFormat, type RawEvent } from './event-header.ts';
import type { BinlogValue, RowImage } from './events.ts';
import type { Cursor } from './row-values.ts';
import { readTableId, type TableMap } from './table-map.ts';

export type RowsChange = 'insert' | 'update' | 'delete';

/** The change a rows event type makes, or null for any other type. */
export function rowsChange(type: number): RowsChange | null {
  switch (type) {
    case E.WRITE_ROWS_V1:
    case E.WRITE_ROWS_V2:
      return 'insert';
    case E.UPDATE_ROWS_V1:
    case E.UPDATE_ROWS_V2:
      return 'update';
    case E.DELETE_ROWS_V1:
    case E.DELETE_ROWS_V2:
      return 'delete';
    default:
      return null;
  }
}

/** The table id a rows event's changes are to (looked up in the transaction's table maps). */
export function rowsTableId(ev: RawEvent, format: BinlogFormat): number {
  return readTableId(ev, format, ev.type).id;
}

/** Flag of a rows event: the statement's last, after which its table maps are no longer needed. */
export const STMT_END = 0x1;

export function readRows(ev: RawEvent, format: BinlogFormat, map: TableMap, change: RowsChange): RowImage[] {
  const { buf, bodyEnd } = ev;
  const ident = `${map.table.database}.${map.table.table}`;
  let p = readTableId(ev, format, ev.type).end + 2; // flags
  if (ev.type >= E.WRITE_ROWS_V2 && ev.type <= E.DELETE_ROWS_V2) p += buf.readUInt16LE(p); // extra data, its length included
  const count = lengthEncoded(buf, p);
  const n = count.value;
  p = count.end;
  if (n !== map.decoders.length) throw new BinlogFormatError(`rows event for ${ident} has ${n} columns, its table map ${map.decoders.length}`);
  const bitmapBytes = (n + 7) >> 3;
  const present = bitmapColumns(buf, p, n);
  p += bitmapBytes;
  let presentAfter = present;
  if (change === 'update') {
    presentAfter = bitmapColumns(buf, p, n);
    p += bitmapBytes;
  }
  // binlog_row_image=FULL: every column is in every image. Anything less cannot be written back as a whole row.
  if (present.length !== n || presentAfter.length !== n)
    throw new BinlogFormatError(`rows event for ${ident} has partial row images (binlog_row_image must be FULL)`);
  const c: Cursor = { buf, pos: p };
  const rows: RowImage[] = [];
  try {
    while (c.pos < bodyEnd) {
      if (change === 'insert') rows.push({ after: readImage(c, map, n) });
      else if (change === 'delete') rows.push({ before: readImage(c, map, n) });
      else {
        const before = readImage(c, map, n);
        rows.push({ before, after: readImage(c, map, n) });
      }
    }
  } catch (err) {
    if (err instanceof BinlogFormatError) throw err;
    throw new BinlogFormatError(`rows event for ${ident}: ${(err as Error).message}`);
  }
  if (c.pos !== bodyEnd) throw new BinlogFormatError(`rows event for ${ident}: its last row runs ${c.pos - bodyEnd} bytes past the event`);
  return rows;
}

/** The columns a bitmap of `n` bits at `p` has set. */
function bitmapColumns(buf: Buffer, p: number, n: number): number[] {
  const cols: number[] = [];
  for (let i = 0; i < n; i++) if (buf[p + (i >> 3)] & (1 << (i & 7))) cols.push(i);
  return cols;
}

/** One full row image: a null bitmap over the columns, then the values of those not null. */
function readImage(c: Cursor, map: TableMap, n: number): BinlogValue[] {
  const { buf } = c;
  const nulls = c.pos;
  c.pos += (n + 7) >> 3;
  const decoders = map.decoders;
  const row = new Array<BinlogValue>(n);
  for (let i = 0; i < n; i++) row[i] = buf[nulls + (i >> 3)] & (1 << (i & 7)) ? null : decoders[i](c);
  return row;
}
