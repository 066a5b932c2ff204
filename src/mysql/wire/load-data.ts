// The load-data write method's format: the LOAD DATA LOCAL INFILE statement of a table and how each row's raw
// text-protocol bytes are written as a tab-separated line of the file (sent from memory by infile.ts).

import { quoteId, quoteTable } from '../sql.ts';
import { copyInto, escapeInto, firstSpecial, hexInto, type SameMemory } from './byte-builder.ts';
import { PACKET_HEADER, type RowEncoder } from './packets.ts';
import { NOT_TEXT, type RawRow } from './raw-rows.ts';

/**
 * How a column's raw value is written into a LOAD DATA field.
 * - `plain`: numbers and temporal values: their text (which the server parses as it parses a literal) is ASCII
 *   digits and punctuation, never a byte that needs escaping, so it is copied without looking. Were a server ever
 *   to send one, the row would split or fail to parse, and the load's warnings check fails the batch.
 * - `escaped`: strings and binary values, byte for byte (CHARACTER SET binary: no conversion), with `\` `TAB`
 *   `LF` `NUL` escaped.
 * - `hex`: BIT: its raw bytes in a field would be stored as the bytes of a string, not read as bits; sent as hex
 *   and turned back into the same bytes by the statement's SET clause.
 */
export type LoadFieldEncoding = 'plain' | 'escaped' | 'hex';

const PLAIN_TYPES = new Set([
  'tinyint',
  'smallint',
  'mediumint',
  'int',
  'integer',
  'bigint',
  'decimal',
  'numeric',
  'float',
  'double',
  'real',
  'year',
  'date',
  'datetime',
  'timestamp',
  'time',
]);

export function loadFieldEncoding(dataType: string): LoadFieldEncoding {
  const t = dataType.toLowerCase();
  if (t === 'bit') return 'hex';
  return PLAIN_TYPES.has(t) ? 'plain' : 'escaped';
}

export interface LoadColumn {
  name: string;
  encoding: LoadFieldEncoding;
}

/** The file name the statement asks for; the client answers with the batch whatever the name. */
export const INFILE_NAME = 'shardworker-batch';

/**
 * `LOAD DATA LOCAL INFILE` for one batch of rows. CHARACTER SET binary: the bytes are the column's own, no
 * conversion. Terminators are written as hex literals so no sql_mode can change how they read.
 */
export function loadDataStatement(db: string, table: string, columns: readonly LoadColumn[]): string {
  const targets: string[] = [];
  const sets: string[] = [];
  columns.forEach((c, i) => {
    if (c.encoding === 'hex') {
      const v = `@shardworker_${i}`;
      targets.push(v);
      sets.push(`${quoteId(c.name)} = UNHEX(${v})`);
    } else {
      targets.push(quoteId(c.name));
    }
  });
  return (
    `LOAD DATA LOCAL INFILE '${INFILE_NAME}' INTO TABLE ${quoteTable(db, table)} CHARACTER SET binary`
    + " FIELDS TERMINATED BY X'09' ENCLOSED BY '' ESCAPED BY X'5C' LINES STARTING BY '' TERMINATED BY X'0A'"
    + ` (${targets.join(',')})${sets.length ? ' SET ' + sets.join(', ') : ''}`
  );
}

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
export class LoadDataEncoder implements RowEncoder {
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
export const LOAD_DATA_PREFIX: Buffer = Buffer.alloc(PACKET_HEADER);

/** The file's bytes in a packet built from LOAD_DATA_PREFIX. */
export const loadDataFile = (packet: Buffer): Buffer => packet.subarray(PACKET_HEADER);
