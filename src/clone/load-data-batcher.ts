// Packs rows of one table for one destination into the tab-separated bytes of a LOAD DATA LOCAL INFILE
// (the `load-data` write method), bounded in bytes. Rows are written straight from the packets they were read
// in, escaped; the batch is handed to the writer without a copy, in a buffer it gives back when written.

import { loadDataStatement, loadFieldEncoding, type LoadFieldEncoding } from '../mysql/load-data.ts';
import type { RawRow } from '../mysql/raw-rows.ts';
import { BufferPool, ByteBuilder, copyInto, escapeInto, firstSpecial, hexInto } from './byte-builder.ts';
import type { Batch, BatchColumn, BatchLimits, LoadDataBatch, RowBatcher } from './insert-batcher.ts';

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
function encodeRow(out: Buffer, o: number, row: RawRow, encodings: Uint8Array, escapedColumns: Uint16Array, hex: boolean): number {
  const { buffer, start, end } = row;
  if (row.compact && !hex && noneToEscape(row, escapedColumns)) {
    // The common row: its values lie back to back in the packet, one length byte apart. One copy of the lot, then
    // each length byte becomes the tab before its value (the same bytes the per-value loop below writes).
    const first = start[0];
    const last = end[encodings.length - 1];
    copyInto(out, o, buffer, first, last);
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
    if (code === PLAIN) o = copyInto(out, o, buffer, s, end[i]);
    else if (code === ESCAPED) o = escapeInto(out, o, buffer, s, end[i]);
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

/** Bytes before a batch's data, where the header of the one protocol packet it may be sent as goes (see infile.ts). */
const PACKET_HEADER = 4;

/** One pool per batch size in use (normally one: the job's --write-query-max-size). */
const pools = new Map<number, BufferPool>();
/** Buffers kept for reuse per size: enough for every batch a copy holds at once with the default bounds. */
const POOL_BUFFERS = 64;

function poolFor(maxSize: number): BufferPool {
  // Room for the batch and the row that overflows it, so a cut rarely needs a bigger buffer.
  const size = maxSize + 64 * 1024;
  let pool = pools.get(size);
  if (!pool) pools.set(size, (pool = new BufferPool(size, Math.max(2, Math.floor((POOL_BUFFERS * 1024 * 1024) / size)))));
  return pool;
}

export class LoadDataBatcher implements RowBatcher {
  readonly #sql: string;
  readonly #encodings: Uint8Array;
  readonly #escapedColumns: Uint16Array;
  readonly #hex: boolean;
  readonly #maxSize: number;
  readonly #pool: BufferPool;
  /** The open batch; null between batches, so a batcher dropped after take() holds no buffer. */
  #data: ByteBuilder | null = null;
  #rows = 0;

  constructor(db: string, table: string, columns: readonly BatchColumn[], limits: BatchLimits) {
    const load = columns.map((c) => ({ name: c.name, encoding: loadFieldEncoding(c.dataType) }));
    this.#sql = loadDataStatement(db, table, load);
    this.#encodings = Uint8Array.from(load, (c) => ENCODING_CODE[c.encoding]);
    this.#escapedColumns = Uint16Array.from(load.flatMap((c, i) => (c.encoding === 'escaped' ? [i] : [])));
    this.#hex = load.some((c) => c.encoding === 'hex');
    this.#maxSize = limits.maxSize;
    this.#pool = poolFor(limits.maxSize);
  }

  add(row: RawRow): Batch | null {
    const out = (this.#data ??= this.#open());
    const rowStart = out.length;
    // At most: every byte escaped or hex (two), plus a separator per column; \N is no longer than its prefix.
    out.reserve(2 * row.size + this.#encodings.length + 1);
    out.length = encodeRow(out.buffer, rowStart, row, this.#encodings, this.#escapedColumns, this.#hex);
    this.#rows++;
    if (this.#rows > 1 && out.length > this.#maxSize) {
      // The row does not fit: the batch is what came before it; the row starts the next.
      const batch = this.#cut(rowStart, this.#rows - 1);
      this.#rows = 1;
      return batch;
    }
    return null;
  }

  /** A new batch in a pooled buffer, its first bytes left for the protocol header it can be sent with. */
  #open(): ByteBuilder {
    const b = new ByteBuilder(this.#pool.take());
    b.length = PACKET_HEADER;
    return b;
  }

  take(): Batch | null {
    if (this.#rows === 0) return null;
    const batch = this.#cut(this.#data!.length, this.#rows);
    this.#rows = 0;
    return batch;
  }

  /** Closes the batch at byte `at`; what follows (an overflowing row) starts the next, in a pooled buffer. */
  #cut(at: number, rows: number): LoadDataBatch {
    const open = this.#data!;
    const full = open.buffer;
    this.#data = null;
    if (at < open.length) {
      const next = (this.#data = this.#open());
      next.reserve(open.length - at);
      next.bytes(full, at, open.length);
    }
    const packet = full.subarray(0, at);
    const data = full.subarray(PACKET_HEADER, at);
    const pool = this.#pool;
    return { kind: 'load-data', sql: this.#sql, data, packet, rows, bytes: packet.length, release: () => pool.give(full) };
  }
}
