// TABLE_MAP_EVENT: which table a table id names in the rows events after it, its columns' types and metadata,
// and (binlog_row_metadata=FULL) the optional metadata: names and signedness. Pure.

import { isNumericType, metadataLength, T } from './column-types.ts';
import { BinlogFormatError, E, lengthEncoded, type BinlogFormat, type RawEvent } from './event-header.ts';
import type { BinlogColumn, BinlogTable } from './events.ts';
import { resolveStringType, valueDecoder, valueWidth, type ValueDecoder, type ValueWidth } from './row-values.ts';

/** A table map as the rows events need it: the contract's table, and a decoder and a width per column. */
export interface TableMap {
  id: number;
  table: BinlogTable;
  decoders: ValueDecoder[];
  widths: ValueWidth[];
  /**
   * Whether the columns' signedness is known: sent by the server (binlog_row_metadata MINIMAL or FULL), or moot
   * for a table without numeric columns (the server then leaves the field out).
   */
  hasSignedness: boolean;
}

// Optional metadata field types (sql/log_event.h, Table_map_log_event::Optional_metadata_field_type).
const SIGNEDNESS = 1;
const COLUMN_NAME = 4;

/** A table id: 6 bytes when the format's table-map fixed part is 8 bytes long (always, since MySQL 5.1.4), else 4. */
export function readTableId(ev: RawEvent, format: BinlogFormat, type: number): { id: number; end: number } {
  const { buf, bodyStart } = ev;
  if (format.postHeader[type] === 6) return { id: buf.readUInt32LE(bodyStart), end: bodyStart + 4 };
  return { id: buf.readUIntLE(bodyStart, 6), end: bodyStart + 6 };
}

export function readTableMap(ev: RawEvent, format: BinlogFormat): TableMap {
  const { buf, bodyEnd } = ev;
  const { id, end } = readTableId(ev, format, E.TABLE_MAP);
  let p = end + 2; // flags
  const dbLength = buf[p++];
  const database = buf.toString('utf8', p, p + dbLength);
  p += dbLength + 1;
  const tableLength = buf[p++];
  const table = buf.toString('utf8', p, p + tableLength);
  p += tableLength + 1;
  const count = lengthEncoded(buf, p);
  const n = count.value;
  p = count.end;
  const types = Array.from(buf.subarray(p, p + n));
  p += n;
  const metaBlock = lengthEncoded(buf, p);
  p = metaBlock.end;
  const metas: number[] = [];
  for (const type of types) {
    const len = metadataLength(type);
    // Two-byte metadata is little-endian, except STRING/ENUM/SET's (real type, then length), kept byte 0 low too.
    metas.push(len === 0 ? 0 : len === 1 ? buf[p] : type === T.STRING || type === T.ENUM || type === T.SET ? buf[p] | (buf[p + 1] << 8) : buf.readUInt16LE(p));
    p += len;
  }
  p = metaBlock.end + metaBlock.value;
  const nullBytes = (n + 7) >> 3;
  const nullable = (i: number) => (buf[p + (i >> 3)] & (1 << (i & 7))) !== 0;
  const nullableFlags = types.map((_, i) => nullable(i));
  p += nullBytes;

  const resolved = types.map((type, i) => resolveStringType(type, metas[i]));
  let names: string[] | null = null;
  let unsignedFlags: boolean[] | null = null;
  while (p < bodyEnd) {
    const fieldType = buf[p++];
    const len = lengthEncoded(buf, p);
    const start = len.end;
    const stop = start + len.value;
    if (stop > bodyEnd) throw new BinlogFormatError(`table map of ${database}.${table}: optional metadata runs past the event`);
    if (fieldType === SIGNEDNESS) {
      unsignedFlags = [];
      let bit = 0;
      for (const { type } of resolved) {
        if (!isNumericType(type)) {
          unsignedFlags.push(false);
          continue;
        }
        unsignedFlags.push((buf[start + (bit >> 3)] & (0x80 >> (bit & 7))) !== 0);
        bit++;
      }
    } else if (fieldType === COLUMN_NAME) {
      names = [];
      for (let q = start; q < stop; ) {
        const nameLength = lengthEncoded(buf, q);
        names.push(buf.toString('utf8', nameLength.end, nameLength.end + nameLength.value));
        q = nameLength.end + nameLength.value;
      }
    }
    p = stop;
  }

  const columns: BinlogColumn[] = resolved.map(({ type }, i) => ({
    name: names?.[i] ?? null,
    type,
    unsigned: unsignedFlags?.[i] ?? false,
    nullable: nullableFlags[i],
  }));
  let decoders: ValueDecoder[];
  let widths: ValueWidth[];
  try {
    decoders = resolved.map(({ type, meta }, i) => valueDecoder({ type, meta, unsigned: columns[i].unsigned }));
    widths = resolved.map(({ type, meta }, i) => valueWidth({ type, meta, unsigned: columns[i].unsigned }));
  } catch (err) {
    throw new BinlogFormatError(`table map of ${database}.${table}: ${(err as Error).message}`);
  }
  const hasSignedness = unsignedFlags !== null || !resolved.some(({ type }) => isNumericType(type));
  return { id, table: { database, table, columns }, decoders, widths, hasSignedness };
}
