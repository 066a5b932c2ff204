// WRITE_ROWS / UPDATE_ROWS / DELETE_ROWS (v1, and v2 with its extra data): the row images of one statement's
// changes to one table, decoded with the table map's per-column decoders. Pure.

import { BinlogFormatError, E, lengthEncoded, type BinlogFormat, type RawEvent } from './event-header.ts';
import type { BinlogValue, RowImage } from './events.ts';
import type { Cursor, ValueWidth } from './row-values.ts';
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
  // Each image is stepped over here (widths, no values made) and decoded when the consumer first asks for it.
  const c: Cursor = { buf, pos: p };
  const rows: RowImage[] = [];
  try {
    while (c.pos < bodyEnd) {
      const first = c.pos;
      skipImage(c, map.widths, n);
      if (change === 'update') {
        const second = c.pos;
        skipImage(c, map.widths, n);
        rows.push(new EventRowImage(buf, map, first, second, c.pos, ident));
      } else if (change === 'insert') rows.push(new EventRowImage(buf, map, -1, first, c.pos, ident));
      else rows.push(new EventRowImage(buf, map, first, -1, c.pos, ident));
    }
  } catch (err) {
    if (err instanceof BinlogFormatError) throw err;
    throw new BinlogFormatError(`rows event for ${ident}: ${(err as Error).message}`);
  }
  if (c.pos !== bodyEnd) throw new BinlogFormatError(`rows event for ${ident}: its last row runs ${c.pos - bodyEnd} bytes past the event`);
  return rows;
}

/** A row of a rows event, its images decoded on first use (and then kept); the event's buffer stays referenced. */
class EventRowImage implements RowImage {
  #before: BinlogValue[] | undefined;
  #after: BinlogValue[] | undefined;

  constructor(
    private readonly buf: Buffer,
    private readonly map: TableMap,
    /** Where the before image starts, or -1; where the after image starts, or -1; where the row ends. */
    private readonly beforeAt: number,
    private readonly afterAt: number,
    private readonly end: number,
    private readonly ident: string,
  ) {}

  get before(): BinlogValue[] | undefined {
    if (this.beforeAt < 0) return undefined;
    this.#before ??= this.#decode(this.beforeAt, this.afterAt < 0 ? this.end : this.afterAt);
    return this.#before;
  }

  get after(): BinlogValue[] | undefined {
    if (this.afterAt < 0) return undefined;
    this.#after ??= this.#decode(this.afterAt, this.end);
    return this.#after;
  }

  column(image: 'before' | 'after', index: number): BinlogValue {
    const decoded = image === 'before' ? this.#before : this.#after;
    if (decoded) return decoded[index];
    const at = image === 'before' ? this.beforeAt : this.afterAt;
    if (at < 0) throw new BinlogFormatError(`rows event for ${this.ident} has no ${image} image`);
    const { buf, map } = this;
    const n = map.decoders.length;
    if (buf[at + (index >> 3)] & (1 << (index & 7))) return null;
    const c: Cursor = { buf, pos: at + ((n + 7) >> 3) };
    for (let i = 0; i < index; i++) if (!(buf[at + (i >> 3)] & (1 << (i & 7)))) c.pos += width(map.widths[i], buf, c.pos);
    return this.#guard(() => map.decoders[index](c));
  }

  /** The image at `at`, which the stepping said ends at `end`: decoding must end there too. */
  #decode(at: number, end: number): BinlogValue[] {
    const c: Cursor = { buf: this.buf, pos: at };
    const row = this.#guard(() => readImage(c, this.map, this.map.decoders.length));
    if (c.pos !== end) throw new BinlogFormatError(`rows event for ${this.ident}: an image decodes to ${c.pos - at} bytes, its widths say ${end - at}`);
    return row;
  }

  #guard<T>(decode: () => T): T {
    try {
      return decode();
    } catch (err) {
      if (err instanceof BinlogFormatError) throw err;
      throw new BinlogFormatError(`rows event for ${this.ident}: ${(err as Error).message}`);
    }
  }
}

function width(w: ValueWidth, buf: Buffer, pos: number): number {
  return typeof w === 'number' ? w : w(buf, pos);
}

/** Steps over one full row image (null bitmap, then the values of the columns not null). */
function skipImage(c: Cursor, widths: ValueWidth[], n: number): void {
  const { buf } = c;
  const nulls = c.pos;
  c.pos += (n + 7) >> 3;
  for (let i = 0; i < n; i++) if (!(buf[nulls + (i >> 3)] & (1 << (i & 7)))) c.pos += width(widths[i], buf, c.pos);
  if (c.pos > buf.length) throw new BinlogFormatError(`a row image runs past the end of its rows event`);
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
