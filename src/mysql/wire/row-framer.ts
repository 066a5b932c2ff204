// Cuts a result's row packets out of the socket's chunks and hands each straight to the row reader, while the
// column definitions and the closing EOF, OK or error still go through mysql2, whose command keeps its state.
// mysql2 dispatches every packet through its connection and command (sequence checks, state lookups, calls
// through several layers): for a copy's millions of rows that was about a tenth of the worker's CPU.

import type { ByteArena } from './byte-arena.ts';
import { setReadTarget, stopReadTarget } from './direct-reads.ts';
import { MAX_PAYLOAD, PACKET_HEADER as HEADER } from './packets.ts';

/**
 * Bytes of the staging a framer takes from its arena: a socket chunk after the start of a packet the chunk before
 * cut short (at most half the staging). Longer packets are carried instead.
 */
const STAGING = 256 * 1024;

/** The parts of mysql2's connection (lib/base/connection.js) the framer relies on. */
export interface FramedConnection {
  /** Its 'data' listener hands every socket chunk to `packetParser.execute`, looked up at each chunk. */
  packetParser: PacketParserLike;
  /** The sequence id it expects on the next packet. */
  sequenceId: number;
  stream: { pause(): void; resume(): void };
  config: { compress?: boolean };
}

export interface PacketParserLike {
  execute(chunk: Buffer): unknown;
}

/** A row packet's payload, bytes [start, end) of `buffer`; a returned promise holds the next row until it settles. */
export type RowPacketSink = (buffer: Buffer, start: number, end: number) => void | Promise<void>;

export class RowFramer implements PacketParserLike {
  readonly #conn: FramedConnection;
  readonly #mysql2: PacketParserLike;
  readonly #inRows: () => boolean;
  readonly #sink: RowPacketSink;
  /** The start of a packet that the last chunk cut short. */
  #carry: Buffer[] = [];
  #carryLength = 0;
  /** The payload parts of a row longer than one packet (16 MiB). */
  #longRow: Buffer[] | null = null;
  /** Where to go on once the sink's promise settles. */
  #held: { chunk: Buffer; at: number } | null = null;
  /** Chunks that came while held (none should: the stream is paused). */
  #queued: Buffer[] = [];
  #detached = false;
  /**
   * Where socket chunks are copied before their rows are cut out, in the arena the batches are built in (so the
   * values move into them without a view per copy); null without an arena, or when it had no room.
   */
  #staging: Buffer | null;
  readonly #arena: ByteArena | null;
  /** Bytes [0, #staged) of the staging: the start of a packet that the last chunk cut short. */
  #staged = 0;
  /** Whether the socket reads into the staging itself (a direct socket: see direct-reads.ts). */
  #direct = false;

  private constructor(conn: FramedConnection, inRows: () => boolean, sink: RowPacketSink, arena: ByteArena | null) {
    this.#conn = conn;
    this.#mysql2 = conn.packetParser;
    this.#inRows = inRows;
    this.#sink = sink;
    this.#arena = arena;
    this.#staging = arena?.take(STAGING) ?? null;
  }

  /**
   * Takes over `conn`'s packets until detach(), or returns null when it cannot: a compressed connection, or a
   * parser that is not between packets (so the caller reads through mysql2 alone). `inRows` says whether the
   * command now expects rows. With an `arena`, rows are staged in it: a row is then valid only during the sink's
   * call (the next chunk overwrites it), which is what RawRow promises anyway.
   */
  static attach(conn: FramedConnection, inRows: () => boolean, sink: RowPacketSink, arena: ByteArena | null = null): RowFramer | null {
    const parser = conn.packetParser as PacketParserLike & { executeStart?: unknown; largePacketParts?: unknown[] };
    const proto = Object.getPrototypeOf(parser) as { executeStart?: unknown };
    if (conn.config.compress || typeof proto.executeStart !== 'function' || parser.execute !== proto.executeStart || parser.largePacketParts?.length !== 0)
      return null;
    const framer = new RowFramer(conn, inRows, sink, arena);
    conn.packetParser = framer;
    if (framer.#staging) framer.#direct = setReadTarget(conn.stream, () => framer.#readTarget());
    return framer;
  }

  /** Gives the connection back to mysql2's parser (which is between packets: the framer only hands it whole ones). */
  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    if (this.#conn.packetParser === this) this.#conn.packetParser = this.#mysql2;
    this.#releaseStaging();
  }

  /**
   * Once detached nothing reads the staging any more (the sink's rows were valid during its calls alone); but a
   * read may already be waiting on it (a scan that stopped mid-result), and the arena gets it back after that.
   */
  #releaseStaging(): void {
    const staging = this.#staging;
    if (!staging) return;
    this.#staging = null;
    this.#staged = 0;
    const arena = this.#arena!;
    if (this.#direct) stopReadTarget(this.#conn.stream, () => arena.give(staging));
    else arena.give(staging);
  }

  /**
   * Where the socket's next read may land: after the kept packet start (at most half the staging, so half is free),
   * unless a packet is carried or rows are held.
   */
  #readTarget(): Buffer | null {
    const staging = this.#staging;
    if (staging === null || this.#held || this.#detached || this.#carryLength > 0) return null;
    return staging.subarray(this.#staged);
  }

  execute(chunk: Buffer): void {
    if (this.#held) {
      this.#queued.push(chunk);
      return;
    }
    this.#take(chunk);
  }

  /** A chunk from the socket: staged after the packet start kept from the last one, when it fits. */
  #take(chunk: Buffer): void {
    const staging = this.#staging;
    if (staging && this.#carryLength === 0 && this.#staged + chunk.length <= staging.length) {
      const end = this.#staged + chunk.length;
      // Read there already (see #readTarget), or copied there.
      if (chunk.buffer !== staging.buffer || chunk.byteOffset !== staging.byteOffset + this.#staged) chunk.copy(staging, this.#staged);
      this.#staged = 0;
      this.#run(end === staging.length ? staging : staging.subarray(0, end), 0);
      return;
    }
    if (this.#staged > 0) {
      // Too long to stage after the kept packet start: that start is carried instead.
      this.#carryPart(staging!.subarray(0, this.#staged));
      this.#staged = 0;
    }
    this.#run(chunk, 0);
  }

  /** Keeps `part` as the next piece of a packet cut short: a copy if it lies in the staging (the next chunk's). */
  #carryPart(part: Buffer): void {
    this.#carry.push(this.#isStaged(part) ? Buffer.from(part) : part);
    this.#carryLength += part.length;
  }

  /** Whether `buf` lies in the staging, whose bytes the next chunk overwrites. */
  #isStaged(buf: Buffer): boolean {
    const staging = this.#staging;
    if (staging === null || buf.buffer !== staging.buffer) return false;
    const offset = buf.byteOffset - staging.byteOffset;
    return offset >= 0 && offset < staging.length;
  }

  #run(chunk: Buffer, at: number): void {
    if (this.#carryLength > 0) {
      at = this.#finishCarried(chunk);
      if (at < 0 || this.#held || this.#detached) return;
    }
    const end = chunk.length;
    while (end - at >= HEADER) {
      const next = at + HEADER + (chunk[at] | (chunk[at + 1] << 8) | (chunk[at + 2] << 16));
      if (next > end) break;
      if (!this.#packet(chunk, at, next)) return;
      at = next;
    }
    if (at < end) {
      const staging = this.#staging;
      if (staging && this.#carryLength === 0 && end - at <= staging.length / 2) {
        // The packet's start waits at the staging's start, where the next chunk is appended to it.
        if (this.#isStaged(chunk)) staging.copyWithin(0, at, end);
        else chunk.copy(staging, 0, at, end);
        this.#staged = end - at;
      } else {
        this.#carryPart(chunk.subarray(at));
      }
    }
  }

  /**
   * Completes the packet carried over from earlier chunks with the start of `chunk` and handles it; returns where
   * the rest of `chunk` starts, or -1 when the packet needs more chunks still (or the framer stopped within it).
   */
  #finishCarried(chunk: Buffer): number {
    const parts = this.#carry;
    if (this.#carryLength + chunk.length < HEADER) {
      this.#carryPart(chunk);
      return -1;
    }
    // Byte k of the carried packet and `chunk` after it (its length is in the first three).
    const byte = (k: number): number => {
      for (const p of parts) {
        if (k < p.length) return p[k];
        k -= p.length;
      }
      return chunk[k];
    };
    const need = HEADER + (byte(0) | (byte(1) << 8) | (byte(2) << 16)) - this.#carryLength;
    if (chunk.length < need) {
      this.#carryPart(chunk);
      return -1;
    }
    const packet = Buffer.concat([...this.#carry, chunk.subarray(0, need)]);
    this.#carry = [];
    this.#carryLength = 0;
    if (!this.#packet(packet, 0, packet.length)) {
      // Held or detached: what follows in `chunk` is picked up from there.
      if (this.#held) this.#held = { chunk, at: need };
      else this.#mysql2.execute(chunk.subarray(need));
      return -1;
    }
    return need;
  }

  /** Handles the packet [at, next) of `buf`; false when the framer stopped (held by the sink, or detached). */
  #packet(buf: Buffer, at: number, next: number): boolean {
    const length = next - at - HEADER;
    const payload = at + HEADER;
    if (this.#longRow === null && !(this.#inRows() && isRow(buf, payload, length))) return this.#toMysql2(buf, at, next);
    this.#conn.sequenceId = (buf[at + 3] + 1) & 0xff;
    let pending: void | Promise<void>;
    if (length === MAX_PAYLOAD || this.#longRow !== null) {
      // A row of 16 MiB or more comes in packets of 16 MiB - 1 bytes, ended by a shorter one.
      (this.#longRow ??= []).push(buf.subarray(payload, next));
      if (length === MAX_PAYLOAD) return true;
      const row = Buffer.concat(this.#longRow);
      this.#longRow = null;
      pending = this.#sink(row, 0, row.length);
    } else {
      pending = this.#sink(buf, payload, next);
    }
    if (!pending) return true;
    this.#hold(buf, next, pending);
    return false;
  }

  /**
   * Stops at `next` in `buf` until `pending` settles. A method of its own: a closure over `this` in #packet would
   * make V8 allocate a context at every call of #packet, that is for every row (measured: 80-90 MB of garbage
   * and some 20 more young-generation collections per 2M rows).
   */
  #hold(buf: Buffer, next: number, pending: Promise<void>): void {
    this.#held = { chunk: buf, at: next };
    this.#conn.stream.pause();
    pending.then(
      () => this.#resume(),
      () => {
        // The scan has failed on it and drops the connection: nothing more to read.
      },
    );
  }

  /** A packet for mysql2's command (column definitions, EOF, OK, error); false once that ended the command. */
  #toMysql2(buf: Buffer, at: number, next: number): boolean {
    // mysql2 keeps views of a packet (a column definition reads its names from it later): never of the staging.
    const staged = this.#isStaged(buf);
    this.#mysql2.execute(staged ? Buffer.from(buf.subarray(at, next)) : buf.subarray(at, next));
    if (this.#conn.packetParser === this) return true;
    // The command ended and the connection went back to mysql2: it takes what follows.
    this.#detached = true;
    if (next < buf.length) this.#mysql2.execute(staged ? Buffer.from(buf.subarray(next)) : buf.subarray(next));
    this.#releaseStaging();
    return false;
  }

  #resume(): void {
    const held = this.#held!;
    this.#held = null;
    if (this.#detached) return;
    this.#run(held.chunk, held.at);
    while (!this.#held && !this.#detached && this.#queued.length > 0) this.#take(this.#queued.shift()!);
    if (!this.#held) this.#conn.stream.resume();
  }
}

/** Whether a packet met while rows are expected is a row: not an EOF (0xFE, short) nor an error (0xFF). */
function isRow(buf: Buffer, payload: number, length: number): boolean {
  const first = buf[payload];
  return first !== 0xff && !(first === 0xfe && length < 13);
}
