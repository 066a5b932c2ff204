// Packs rows of one table for one destination into the tab-separated bytes of a LOAD DATA LOCAL INFILE
// (the `load-data` write method), bounded in bytes. Rows are written straight from the packets they were read
// in, escaped, by PacketBatcher (shared with the bulk method).

import { loadDataStatement, loadFieldEncoding, type LoadFieldEncoding } from '../mysql/wire/load-data.ts';
import { NOT_TEXT, type RawRow } from '../mysql/wire/raw-rows.ts';
import { PACKET_HEADER } from '../mysql/wire/packets.ts';
import { copyInto, escapeInto, firstSpecial, hexInto, type SameMemory } from '../mysql/wire/byte-builder.ts';
import type { BatchColumn, BatchLimits, LoadDataBatch } from './batch.ts';
import { PacketBatcher, type RowEncoder } from './packet-batcher.ts';

const TAB = 0x09;
const LF = 0x0a;
const BACKSLASH = 0x5c;
const N = 0x4e;

// Encodings as small integers: the per-row loop compares numbers, not strings.
const PLAIN = 0;
const ESCAPED = 1;
const HEX = 2;
const ENCODING_CODE: Record<LoadFieldEncoding, number> = { plain: PLAIN, escaped: ESCAPED, hex: HEX };

/**
 * Writes one row as a LOAD DATA line into `out` from `o` (room reserved); returns the offset after it.
 * `escapedColumns` lists the columns that may need escaping; `hex` says whether any column is written as hex.
 */
function encodeRow(out: Buffer, o: number, row: RawRow, same: SameMemory | null, encodings: Uint8Array, escapedColumns: Uint16Array, hex: boolean): number {
  const { buffer, start, end } = row;
  if (row.compact && !hex && noneToEscape(row, escapedColumns)) {
    // The common row: its values lie back to back in the packet, one length byte apart. One copy of the lot, then
    // each length byte becomes the tab before its value (the same bytes the per-value loop below writes).
    const first = start[0];
    const last = end[encodings.length - 1];
    copyInto(out, o, buffer, first, last, same);
    for (let i = 1; i < encodings.length; i++) out[o + start[i] - 1 - first] = TAB;
    o += last - first;
    out[o++] = LF;
    return o;
  }
  for (let i = 0; i < encodings.length; i++) {
    if (i > 0) out[o++] = TAB;
    const s = start[i];
    if (s < 0) {
      out[o++] = BACKSLASH;
      out[o++] = N;
      continue;
    }
    const code = encodings[i];
    if (code === PLAIN) o = copyInto(out, o, buffer, s, end[i], same);
    else if (code === ESCAPED) o = escapeInto(out, o, buffer, s, end[i], same);
    else o = hexInto(out, o, buffer, s, end[i]);
  }
  out[o++] = LF;
  return o;
}

function noneToEscape(row: RawRow, escapedColumns: Uint16Array): boolean {
  const { buffer, start, end } = row;
  for (let k = 0; k < escapedColumns.length; k++) {
    const i = escapedColumns[k];
    if (firstSpecial(buffer, start[i], end[i]) !== end[i]) return false;
  }
  return true;
}

/** The encoder of one table's rows (its columns' encodings), for PacketBatcher. */
class LoadDataEncoder implements RowEncoder {
  readonly #encodings: Uint8Array;
  readonly #escapedColumns: Uint16Array;
  readonly #hex: boolean;

  constructor(encodings: readonly LoadFieldEncoding[]) {
    this.#encodings = Uint8Array.from(encodings, (e) => ENCODING_CODE[e]);
    this.#escapedColumns = Uint16Array.from(encodings.flatMap((e, i) => (e === 'escaped' ? [i] : [])));
    this.#hex = encodings.includes('hex');
  }

  maxBytes(row: RawRow): number {
    // At most: every byte escaped or hex (two), plus a separator per column; \N is no longer than its prefix.
    return 2 * row.size + this.#encodings.length + 1;
  }

  encode(out: Buffer, o: number, row: RawRow, same: SameMemory | null): number {
    if (row.layout) throw new Error(NOT_TEXT);
    return encodeRow(out, o, row, same, this.#encodings, this.#escapedColumns, this.#hex);
  }
}

/** Header room only: the batch's data is the file, sent as one packet after the header (see infile.ts). */
const PREFIX = Buffer.alloc(PACKET_HEADER);

export class LoadDataBatcher extends PacketBatcher<LoadDataBatch> {
  constructor(db: string, table: string, columns: readonly BatchColumn[], limits: BatchLimits) {
    const load = columns.map((c) => ({ name: c.name, encoding: loadFieldEncoding(c.dataType) }));
    const sql = loadDataStatement(db, table, load);
    super(PREFIX, new LoadDataEncoder(load.map((c) => c.encoding)), limits.maxSize, (packet, rows, release) => (
      { kind: 'load-data', sql, data: packet.subarray(PACKET_HEADER), packet, rows, bytes: packet.length, release }
    ), limits.arena);
  }
}
