// Scans a query's rows as views into the protocol packets: no Buffer per value, no array or promise per row.
// The copy's hot path reads millions of rows; mysql2's own row objects and a stream's async iteration cost more
// CPU than routing and encoding them (measured: about half of a copy's client time), on a box whose cores the
// source and destination servers need too.

import type { Connection as CoreConnection } from 'mysql2';
import { closeStatement, corked, type StatementKey } from './mysql2-internals.ts';
import { acquireConnection, TabletError, type Pool, type TabletRef } from '../connection.ts';
import type { ByteArena } from './byte-arena.ts';
import { binaryLayout, TEMPORAL, type BinaryLayout, type ResultField } from './binary-row.ts';
import { codedLength, moreLengthBytes } from './packets.ts';
import { RowFramer, type FramedConnection } from './row-framer.ts';
import type { Row } from '../sql.ts';
import { discardConnection } from './discard.ts';

/**
 * One row, as offsets into the packet that carried it. Valid only during the call it is passed to: the next row
 * reuses the object, and a staged read's next socket chunk overwrites the bytes. Column i is NULL when start[i] is
 * -1, else bytes [start[i], end[i]) of `buffer`.
 */
export class RawRow {
  buffer: Buffer = Buffer.alloc(0);
  /** `buffer`'s ArrayBuffer and offset in it, read once per buffer (a Buffer's getters cost more than a short copy). */
  memory: ArrayBufferLike = this.buffer.buffer;
  base = 0;
  /** Where the row's payload starts in `buffer`, and its bytes there (its values and their length prefixes). */
  offset = 0;
  size = 0;
  /**
   * No NULL and every value under 251 bytes: each length prefix is one byte, so the values lie back to back with
   * one byte between them (what an encoder can copy in one piece and then fix up).
   */
  compact = false;
  readonly start: Int32Array;
  readonly end: Int32Array;
  /**
   * A binary-protocol row's layout (null: a text-protocol row). In a binary row, a number or temporal value is in
   * its binary form, and `wire[i]` is where column i's bytes start with their length prefix or length byte (what
   * a parameter of `layout.paramTypes` binds as is).
   */
  readonly layout: BinaryLayout | null;
  readonly wire: Int32Array;
  /**
   * Where `start`, `end` and `wire` lie when they were cut from an arena (code compiled to WebAssembly reads them
   * there: see mysql/wire/bulk-row-wasm.ts): the slot, to give back with release(); null when they are arrays of their own.
   */
  readonly offsets: Buffer | null;
  /** The memory the offsets lie in, and where `wire` and `end` start in it (read once: a Buffer's getters cost). */
  readonly offsetsIn: ArrayBufferLike | null;
  readonly wireAt: number;
  readonly endAt: number;

  constructor(columns: number, layout: BinaryLayout | null = null, arena: ByteArena | null = null) {
    const wires = layout ? columns : 0;
    const slot = arena?.take(4 * (2 * columns + wires)) ?? null;
    if (slot) {
      this.start = new Int32Array(slot.buffer, slot.byteOffset, columns);
      this.end = new Int32Array(slot.buffer, slot.byteOffset + 4 * columns, columns);
      this.wire = new Int32Array(slot.buffer, slot.byteOffset + 8 * columns, wires);
    } else {
      this.start = new Int32Array(columns);
      this.end = new Int32Array(columns);
      this.wire = new Int32Array(wires);
    }
    this.offsets = slot;
    this.offsetsIn = slot?.buffer ?? null;
    this.wireAt = this.wire.byteOffset;
    this.endAt = this.end.byteOffset;
    this.layout = layout;
  }

  /** Gives the offsets' slot back to `arena` (the one they were cut from): the row is not used after. */
  release(arena: ByteArena): void {
    if (this.offsets) arena.give(this.offsets);
  }

  get columns(): number {
    return this.start.length;
  }

  isNull(i: number): boolean {
    return this.start[i] < 0;
  }

  /**
   * Column i as a Buffer of its own (a copy), or null, in the text protocol's form whatever the row's: for the rare
   * caller that must keep or read a value.
   */
  value(i: number): Buffer | null {
    if (this.start[i] < 0) return null;
    if (this.layout) return this.layout.text(i, this.buffer, this.start[i], this.end[i]);
    return Buffer.from(this.buffer.subarray(this.start[i], this.end[i]));
  }

  /** The row as separate values (copies): for code written for `Row`, off the hot path. */
  values(): Row {
    const out: Row = new Array(this.start.length);
    for (let i = 0; i < out.length; i++) out[i] = this.value(i);
    return out;
  }

  /**
   * Reads the length-coded values of a text-protocol row packet's payload [offset, end).
   * Throws when the packet does not hold exactly `columns` values.
   */
  parse(buffer: Buffer, offset: number, end: number): void {
    // Rows come from a few socket chunks at a time: storing the same buffer again only costs a write barrier.
    if (this.buffer !== buffer) {
      this.buffer = buffer;
      this.memory = buffer.buffer;
      this.base = buffer.byteOffset;
    }
    this.offset = offset;
    this.size = end - offset;
    if (this.layout) {
      this.#parseBinary(this.layout.widths, buffer, offset, end);
      return;
    }
    const starts = this.start;
    const ends = this.end;
    let p = offset;
    let compact = true;
    for (let i = 0; i < starts.length; i++) {
      const first = buffer[p++];
      if (first >= 0xfb) compact = false;
      if (first === 0xfb) {
        starts[i] = -1;
        ends[i] = -1;
        continue;
      }
      const len = codedLength(buffer, p, first);
      p += moreLengthBytes(first);
      starts[i] = p;
      p += len;
      ends[i] = p;
    }
    if (p !== end) throw new Error(`row packet of ${end - offset} bytes does not hold ${starts.length} values`);
    this.compact = compact;
  }

  /** A binary row: a 0x00 header, a NULL bitmap (offset by 2 bits), then each non-NULL value as `widths` says. */
  #parseBinary(widths: Int8Array, buffer: Buffer, offset: number, end: number): void {
    const starts = this.start;
    const ends = this.end;
    const wire = this.wire;
    const bitmap = offset + 1;
    let p = bitmap + ((starts.length + 9) >> 3);
    for (let i = 0; i < starts.length; i++) {
      const bit = i + 2;
      if (buffer[bitmap + (bit >> 3)] & (1 << (bit & 7))) {
        starts[i] = -1;
        ends[i] = -1;
        wire[i] = -1;
        continue;
      }
      wire[i] = p;
      const w = widths[i];
      let len: number;
      if (w > 0) {
        len = w;
      } else if (w === TEMPORAL) {
        len = buffer[p++];
      } else {
        const first = buffer[p++];
        len = codedLength(buffer, p, first);
        p += moreLengthBytes(first);
      }
      starts[i] = p;
      p += len;
      ends[i] = p;
    }
    if (buffer[offset] !== 0 || p !== end) throw new Error(`binary row packet of ${end - offset} bytes does not hold ${starts.length} values`);
    this.compact = false;
  }
}

/** What an encoder of text rows says of a binary one (a bug: binary rows are read for the bulk method alone). */
export const NOT_TEXT = 'a binary-protocol row reached a writer of text rows: only the bulk write method takes them';

/** Called once per row, in order. A returned promise pauses the result (the socket) until it settles. */
export type RowSink = (row: RawRow) => void | Promise<void>;

export interface ScanOptions {
  signal: AbortSignal;
  /**
   * Read through a prepared statement (the binary protocol): rows then have a `layout`, their numbers and temporal
   * values in binary form. Only where every consumer of the rows takes them (the bulk write method); a connection
   * the framer cannot take over reads text rows regardless.
   */
  binary?: boolean;
  /**
   * Stage the socket's chunks in this arena, the one the rows' batches are built in: a value then moves into its
   * batch with one copyWithin (see byte-arena.ts).
   */
  arena?: ByteArena;
}

// The parts of mysql2's Query command and Packet this module relies on (lib/commands/query.js): after the column
// definitions, the command's next state is `this.row`, called with each row packet and returning the next state.
interface PacketView {
  buffer: Buffer;
  offset: number;
  end: number;
  isEOF(): boolean;
}
type RowState = (this: QueryInternals, packet: PacketView, connection: unknown) => unknown;
interface QueryInternals {
  row: RowState;
  on(event: 'fields', fn: (fields: unknown[]) => void): void;
  on(event: 'result', fn: () => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  on(event: 'end', fn: () => void): void;
}

/** Per connection, the statement its last scan read through, to close before its next scan's command. */
const leftStatements = new WeakMap<object, StatementKey>();

function closeLeftStatement(core: object): void {
  const key = leftStatements.get(core);
  if (!key) return;
  leftStatements.delete(core);
  closeStatement(core, key);
}

/**
 * Runs `sql` on a connection of `pool` and hands every row to `sink`. Resolves with the row count once the
 * result has ended and the last sink promise has settled. On abort, a sink failure or early exit the
 * connection is destroyed rather than released, since it may still be mid-result.
 */
export async function scanRows(pool: Pool, ref: TabletRef, doing: string, sql: string, sink: RowSink, opts: ScanOptions): Promise<number> {
  opts.signal.throwIfAborted();
  const conn = await acquireConnection(pool, ref, doing);
  // The promise wrapper's typings call this a promise Connection; at run time it is the callback one.
  const core = conn.connection as unknown as CoreConnection & { pause(): void; resume(): void };
  let finished = false;
  let framer = null as RowFramer | null;
  let binary = false;
  let row: RawRow | null = null;
  // mysql2 reports a connection that dies mid-result (KILL, server gone) to the connection, not to a query that
  // has no callback: without this the scan would wait for ever.
  let onConnectionError: (err: Error) => void = () => {};
  const connectionError = (err: Error) => onConnectionError(err);
  core.on('error', connectionError);
  try {
    const rows = await new Promise<number>((resolve, reject) => {
      let settled = false;
      let count = 0;
      let waiting: Promise<void> | null = null;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        opts.signal.removeEventListener('abort', onAbort);
        reject(err);
      };
      const onAbort = () => fail(opts.signal.reason);
      opts.signal.addEventListener('abort', onAbort, { once: true });
      onConnectionError = (err) => fail(new TabletError(ref, doing, err));

      /** Hands one row packet's payload to the sink; a returned promise is what the reading waits on. */
      const take = (buffer: Buffer, start: number, end: number): Promise<void> | undefined => {
        if (settled) return; // failed or aborted: drain what is left, the connection is destroyed after
        try {
          row!.parse(buffer, start, end);
          count++;
          const pending = sink(row!);
          if (!pending) return;
          return (waiting = pending.then(
            () => {
              waiting = null;
            },
            (err: unknown) => fail(err),
          ));
        } catch (err) {
          fail(err);
        }
      };
      // Attached before the statement is sent, so that it sees every packet of the reply.
      framer = RowFramer.attach(core as unknown as FramedConnection, () => query.next === rawRow || query.next === protoRow, take, opts.arena ?? null);
      binary = opts.binary === true && framer !== null;
      // A prepared statement's rows come through mysql2's Execute, which goes to its prototype's row state (shared
      // with Query) rather than the instance's: the framer takes them before either sees one.
      // The statement an earlier scan left on this connection is closed in the same socket write.
      const query = corked(core, () => {
        closeLeftStatement(core);
        return binary ? core.execute({ sql, rowsAsArray: true }) : core.query({ sql, rowsAsArray: true, typeCast: false });
      }) as unknown as QueryInternals & { next: unknown };
      const protoRow = (Object.getPrototypeOf(query) as QueryInternals).row;
      // Rows reach this state only when the framer could not take the connection over.
      const rawRow: RowState = function (this: QueryInternals, packet, connection) {
        if (packet.isEOF()) return protoRow.call(this, packet, connection);
        const held = take(packet.buffer, packet.offset, packet.end);
        // biome-ignore lint/nursery/noMisusedPromises: `take` returns a promise only when the sink holds the row
        if (held) {
          core.pause();
          void held.then(() => {
            if (!settled) core.resume();
          });
        }
        return rawRow;
      };
      query.row = rawRow;
      query.on('fields', (fields) => {
        row = new RawRow(fields.length, binary ? binaryLayout(fields as ResultField[]) : null, opts.arena ?? null);
      });
      // Rows reach 'result' only if mysql2 no longer takes its next state from `this.row`: refuse to copy then.
      query.on('result', () => fail(new Error('mysql2 delivered a row past the raw row reader: its internals changed, shardworker must be updated')));
      query.on('error', (err) => fail(new TabletError(ref, doing, err)));
      query.on('end', () => {
        framer?.detach();
        void Promise.resolve(waiting).then(() => {
          if (settled) return;
          settled = true;
          opts.signal.removeEventListener('abort', onAbort);
          resolve(count);
        });
      });
    });
    // Prepared for this chunk alone: closed, or the server's prepared statements would pile up; with the next
    // scan's command on the connection, in one write (or with the connection).
    if (binary) leftStatements.set(core, { sql, rowsAsArray: true });
    finished = true;
    return rows;
  } finally {
    framer?.detach();
    if (opts.arena) (row as RawRow | null)?.release(opts.arena);
    core.removeListener('error', connectionError);
    if (finished) conn.release();
    else discardConnection(conn);
  }
}
