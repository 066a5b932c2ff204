// Rows kept past the call that read them, in batches: the text-protocol payloads of many rows copied back to back
// into one buffer, with each value's place in it. What a reader that must hold rows (the diff's merge-join, which
// waits on the other side) keeps instead of a Buffer per value, an array per row and a promise per row: read
// through the raw framer (raw-rows.ts) like the copy, the diff spends its time comparing bytes, not allocating.

import type { Pool, TabletRef } from './connection.ts';
import { RawRow, scanRows } from './wire/raw-rows.ts';
import type { ByteArena } from './wire/byte-arena.ts';
import type { Row } from './sql.ts';

/** Rows a batch holds at most, and the bytes after which it is full. */
const BATCH_ROWS = 1024;
const BATCH_BYTES = 256 * 1024;

/**
 * Rows of one result, in order. Row r's payload (its values with their length prefixes, as the text protocol sent
 * them: two rows are identical exactly when their payloads are) is bytes [rowStart[r], rowStart[r + 1]) of `bytes`;
 * its column c is bytes [start[i], end[i]) with i = r * columns + c, NULL when start[i] is -1.
 */
export class RowBatch {
  readonly columns: number;
  count = 0;
  bytes: Buffer;
  readonly rowStart: Int32Array;
  readonly start: Int32Array;
  readonly end: Int32Array;
  /** A number per row, the producer's (the diff: the destination a source row belongs to). */
  readonly tag: Int32Array;

  constructor(columns: number, rows = BATCH_ROWS, bytes = BATCH_BYTES) {
    this.columns = columns;
    this.bytes = Buffer.allocUnsafe(bytes);
    this.rowStart = new Int32Array(rows + 1);
    this.start = new Int32Array(rows * columns);
    this.end = new Int32Array(rows * columns);
    this.tag = new Int32Array(rows);
  }

  get capacity(): number {
    return this.tag.length;
  }

  /** Copies a text-protocol row in; true when the batch is full after it. */
  add(row: RawRow, tag: number): boolean {
    if (row.layout) throw new Error('a binary-protocol row reached a row batch: batches hold text rows');
    if (row.columns !== this.columns) throw new Error(`a row of ${row.columns} columns added to a batch of ${this.columns}`);
    const r = this.count;
    const at = this.rowStart[r];
    const size = row.size;
    if (at + size > this.bytes.length) this.#grow(at + size);
    row.buffer.copy(this.bytes, at, row.offset, row.offset + size);
    const shift = at - row.offset;
    const base = r * this.columns;
    for (let c = 0; c < this.columns; c++) {
      const s = row.start[c];
      this.start[base + c] = s < 0 ? -1 : s + shift;
      this.end[base + c] = s < 0 ? -1 : row.end[c] + shift;
    }
    this.tag[r] = tag;
    this.count = r + 1;
    this.rowStart[r + 1] = at + size;
    return this.count === this.capacity || at + size >= BATCH_BYTES;
  }

  /** Room for a row larger than what is left (a batch holds at least one row, whatever its size). */
  #grow(need: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(need, this.bytes.length * 2));
    this.bytes.copy(bigger, 0, 0, this.rowStart[this.count]);
    this.bytes = bigger;
  }

  /** Row r's column c as a Buffer of its own (a copy), or null. */
  value(r: number, c: number): Buffer | null {
    const i = r * this.columns + c;
    return this.start[i] < 0 ? null : Buffer.from(this.bytes.subarray(this.start[i], this.end[i]));
  }

  /** Row r as separate values (copies): for reports, off the hot path. */
  row(r: number): Row {
    const out: Row = new Array(this.columns);
    for (let c = 0; c < this.columns; c++) out[c] = this.value(r, c);
    return out;
  }

  /** Rows given as values, in one batch each `rows` (what a test or a caller holding `Row`s feeds a batch reader). */
  static *of(rows: Iterable<Row>, columns: number, tag = 0, perBatch = BATCH_ROWS): Generator<RowBatch> {
    let batch = new RowBatch(columns, perBatch);
    const raw = new RawRow(columns);
    for (const row of rows) {
      const payload = encodeTextRow(row);
      raw.parse(payload, 0, payload.length);
      if (batch.add(raw, tag)) {
        yield batch;
        batch = new RowBatch(columns, perBatch);
      }
    }
    if (batch.count) yield batch;
  }
}

/** A row as the text protocol sends it: each value length-coded (the shortest way, as a server does), NULL 0xfb. */
export function encodeTextRow(row: Row): Buffer {
  const parts: Buffer[] = [];
  for (const v of row) {
    if (v === null) {
      parts.push(Buffer.of(0xfb));
      continue;
    }
    const n = v.length;
    if (n < 251) parts.push(Buffer.of(n));
    else if (n < 1 << 16) parts.push(Buffer.of(0xfc, n & 0xff, n >> 8));
    else if (n < 1 << 24) parts.push(Buffer.of(0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16));
    else {
      const b = Buffer.alloc(9);
      b[0] = 0xfe;
      b.writeBigUInt64LE(BigInt(n), 1);
      parts.push(b);
    }
    parts.push(v);
  }
  return Buffer.concat(parts);
}

export interface BatchScanOptions {
  signal: AbortSignal;
  /** The tag of each row read; a negative tag drops the row. Every row is kept, tagged 0, without it. */
  tagOf?: (row: RawRow) => number;
  /** Hears how many rows were read (kept or not), once a batch and at the end. */
  onRead?: (rows: number) => void;
  /** Full batches read ahead of the consumer before the read pauses (the socket with it). */
  ahead?: number;
  /**
   * Where the socket's chunks are staged (raw-rows.ts): read in place instead of copied out of Node's own buffer
   * first, which cost the diff a fifth of its time.
   */
  arena?: ByteArena;
}

/**
 * Reads every row of `sql` (through scanRows: the copy's raw reader) into batches, read ahead of the consumer by at
 * most `ahead` batches. Ending the iteration early stops the read (its connection is then destroyed); a failed
 * read throws from the iteration.
 */
export async function* scanBatches(pool: Pool, ref: TabletRef, doing: string, sql: string, opts: BatchScanOptions): AsyncGenerator<RowBatch> {
  const stop = new AbortController();
  const signal = AbortSignal.any([opts.signal, stop.signal]);
  const ahead = opts.ahead ?? 2;
  const ready: RowBatch[] = [];
  let batch: RowBatch | null = null;
  let unreported = 0;
  let ended = false;
  let failure = null as { err: unknown } | null;
  // The consumer waiting for a batch, and the read waiting for room.
  let wake = null as (() => void) | null;
  let room = null as (() => void) | null;
  const hand = (b: RowBatch) => {
    ready.push(b);
    wake?.();
    wake = null;
    if (unreported) opts.onRead?.(unreported);
    unreported = 0;
  };
  const tagOf = opts.tagOf;
  const sink = (row: RawRow): Promise<void> | undefined => {
    unreported++;
    const tag = tagOf ? tagOf(row) : 0;
    if (tag < 0) return;
    batch ??= new RowBatch(row.columns);
    if (!batch.add(row, tag)) return;
    hand(batch);
    batch = null;
    if (ready.length >= ahead) return new Promise<void>((resolve) => (room = resolve));
  };
  const read = scanRows(pool, ref, doing, sql, sink, { signal, arena: opts.arena })
    .then(
      () => {
        if (batch) hand(batch);
      },
      (err: unknown) => {
        failure = { err };
      },
    )
    .finally(() => {
      if (unreported) opts.onRead?.(unreported);
      ended = true;
      wake?.();
    });
  try {
    for (;;) {
      const next = ready.shift();
      if (next) {
        room?.();
        room = null;
        yield next;
        continue;
      }
      if (ended) {
        if (failure) throw failure.err;
        return;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    if (!ended) stop.abort(new Error('the rows are no longer wanted'));
    room?.();
    await read;
  }
}
