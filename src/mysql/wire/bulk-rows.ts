// The bytes of a COM_STMT_BULK_EXECUTE packet (MariaDB; sent by bulk-execute.ts): its prefix (header room, the
// command, the statement id the sending connection fills in, flags, the parameter types) and each row as bulk
// parameters: an indicator byte per column, then the value with its length prefix, its bytes exactly as the source
// sent them, so nothing is escaped or converted on either side. The batcher (clone/bulk-batcher.ts) hands rows in.

import { copyInto, type SameMemory } from './byte-builder.ts';
import { BULK_COMMAND, INDICATOR_NONE, INDICATOR_NULL, SEND_TYPES_TO_SERVER, TYPE_BLOB } from './bulk-execute.ts';
import { bulkRowWasm } from './bulk-row-wasm.ts';
import { PACKET_HEADER, type RowEncoder } from './packets.ts';
import type { RawRow } from './raw-rows.ts';

/** Writes `row` as bulk parameters into `out` from `o` (room reserved); returns the offset after it. */
export function encodeBulkRow(out: Buffer, o: number, row: RawRow, same: SameMemory | null = null): number {
  const { buffer, start, end } = row;
  if (row.layout) {
    // A binary row's values are already what their typed parameters bind: each copied with its length prefix. By
    // WebAssembly when the row, its offsets and the batch all lie in the copy's arena.
    if (same !== null && same.wasm !== null && row.offsetsIn === row.memory) {
      return bulkRowWasm(same.wasm)(row.wireAt, row.endAt, start.length, same.srcBase, same.outBase + o) - same.outBase;
    }
    const wire = row.wire;
    for (let i = 0; i < start.length; i++) {
      if (start[i] < 0) {
        out[o++] = INDICATOR_NULL;
      } else {
        out[o++] = INDICATOR_NONE;
        o = copyInto(out, o, buffer, wire[i], end[i], same);
      }
    }
    return o;
  }
  for (let i = 0; i < start.length; i++) {
    const s = start[i];
    if (s < 0) {
      out[o++] = INDICATOR_NULL;
      continue;
    }
    out[o++] = INDICATOR_NONE;
    const len = end[i] - s;
    if (len < 0xfb) {
      out[o++] = len;
    } else if (len < 0x10000) {
      out[o++] = 0xfc;
      out[o++] = len & 0xff;
      out[o++] = len >>> 8;
    } else if (len < 0x1000000) {
      out[o++] = 0xfd;
      out[o++] = len & 0xff;
      out[o++] = (len >>> 8) & 0xff;
      out[o++] = len >>> 16;
    } else {
      out[o++] = 0xfe;
      out.writeUInt32LE(len % 2 ** 32, o);
      out.writeUInt32LE(Math.floor(len / 2 ** 32), o + 4);
      o += 8;
    }
    o = copyInto(out, o, buffer, s, end[i], same);
  }
  return o;
}

/** The bulk method's row encoding, for the batcher that packs them. */
export const BULK_ROW_ENCODER: RowEncoder = {
  // The values keep their length prefixes (a NULL's 0xFB becomes its indicator): one more byte per column.
  maxBytes: (row) => row.size + row.columns,
  encode: encodeBulkRow,
};

/**
 * Header room, the command, the statement id (filled in by the connection that sends it), flags and the types:
 * two bytes per parameter, a binary row's own (`paramTypes`), else every value a blob.
 */
export function bulkPrefix(columns: number, paramTypes: Buffer | null): Buffer {
  const prefix = Buffer.alloc(PACKET_HEADER + 1 + 4 + 2 + 2 * columns);
  prefix[PACKET_HEADER] = BULK_COMMAND;
  prefix.writeUInt16LE(SEND_TYPES_TO_SERVER, PACKET_HEADER + 5);
  if (paramTypes) paramTypes.copy(prefix, PACKET_HEADER + 7);
  else for (let i = 0; i < columns; i++) prefix[PACKET_HEADER + 7 + 2 * i] = TYPE_BLOB;
  return prefix;
}
