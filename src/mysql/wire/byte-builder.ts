// A growable byte buffer that batches are built in: writing rows as bytes into one Buffer, rather than joining
// many small strings, keeps the copy's hot path free of per-value allocations (and of the garbage collection
// that a 1 MiB statement made of small strings costs).
//
// Callers reserve() room for a whole row once (they know its size from its packet), then write without checks:
// byte(), bytes(), escaped() and hex() assume the room is there, as do copyInto(), escapeInto() and hexInto(),
// which the batchers' per-row loops call on the buffer directly (a method call per value shows in profiles).

const HEX = Buffer.from('0123456789ABCDEF', 'latin1');

// Bytes a LOAD DATA field must escape (with ESCAPED BY '\'), and what follows the backslash for each.
const ESCAPE_AS = new Uint8Array(256);
ESCAPE_AS[0x00] = 0x30; // NUL  → \0
ESCAPE_AS[0x09] = 0x74; // TAB  → \t (the field terminator)
ESCAPE_AS[0x0a] = 0x6e; // LF   → \n (the line terminator)
ESCAPE_AS[0x5c] = 0x5c; // \    → \\ (the escape itself)

/** Below this many bytes a JS loop copies faster than Buffer.copy (which makes a view per call)… */
const SHORT = 32;
/** …and faster than copyWithin, when both sides lie in one ArrayBuffer (measured: 17 ns a call, 1 ns a byte). */
const SHORT_WITHIN = 16;

/**
 * A batch buffer and the row being encoded into it, when both lie in one ArrayBuffer (the copy's arena), seen
 * whole as `bytes`: a copy is then one copyWithin on it, no view made. The offsets are those of the two Buffers in
 * it, kept here because reading a Buffer's byteOffset or buffer costs more than the copy of a short value.
 */
export interface SameMemory {
  readonly bytes: Uint8Array<ArrayBufferLike>;
  readonly outBase: number;
  srcBase: number;
  /** The memory as WebAssembly sees it, for encoders compiled to it (see bulk-row-wasm.ts). */
  readonly wasm: WebAssembly.Memory | null;
}

// The scan for bytes to escape reads 4 bytes at a time through a Uint32Array over the source's memory (cached
// for the last ArrayBuffer seen: rows come from a few socket chunks at a time).
let wordsOf: ArrayBufferLike | null = null;
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/** True when the 32-bit word holds a 0x00, 0x09, 0x0A or 0x5C byte (exact: the classic has-zero-byte test). */
function hasSpecial(v: number): boolean {
  const t = v ^ 0x09090909;
  const n = v ^ 0x0a0a0a0a;
  const b = v ^ 0x5c5c5c5c;
  return ((((v - 0x01010101) & ~v) | ((t - 0x01010101) & ~t) | ((n - 0x01010101) & ~n) | ((b - 0x01010101) & ~b)) & 0x80808080) !== 0;
}

/** Index of the first byte in [start, end) of `src` that LOAD DATA needs escaped, or `end`. */
export function firstSpecial(src: Buffer, start: number, end: number): number {
  const base = src.byteOffset;
  let i = start;
  while (i < end && ((base + i) & 3) !== 0) {
    if (ESCAPE_AS[src[i]] !== 0) return i;
    i++;
  }
  if (end - i >= 16) {
    if (src.buffer !== wordsOf) {
      wordsOf = src.buffer;
      words = new Uint32Array(wordsOf, 0, wordsOf.byteLength >>> 2);
    }
    let w = (base + i) >>> 2;
    const last = (base + end) >>> 2;
    while (w < last && !hasSpecial(words[w])) w++;
    i = w * 4 - base;
  }
  while (i < end && ESCAPE_AS[src[i]] === 0) i++;
  return i;
}

export class ByteBuilder {
  #buf: Buffer;
  /** Bytes written: always <= #buf.length. */
  #len = 0;

  /** A capacity, or the first buffer to build in. */
  constructor(initial: number | Buffer) {
    this.#buf = typeof initial === 'number' ? Buffer.allocUnsafe(Math.max(64, initial)) : initial;
  }

  get length(): number {
    return this.#len;
  }

  /** The buffer being built in (its full capacity): to give back to its pool once done with. */
  get buffer(): Buffer {
    return this.#buf;
  }

  /**
   * For a caller that writes a reserved stretch itself, straight into `buffer` (the hot loops, where every
   * method call shows): the new length once it has.
   */
  set length(n: number) {
    this.#len = n;
  }

  /** Makes room for `n` more bytes (growing by doubling). */
  reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(bigger, 0, 0, this.#len);
    this.#buf = bigger;
  }

  byte(b: number): void {
    this.#buf[this.#len++] = b;
  }

  /** An ASCII or UTF-8 string (statement text, not row data); reserves its own room. */
  text(s: string): void {
    this.reserve(Buffer.byteLength(s));
    this.#len += this.#buf.write(s, this.#len);
  }

  /** Bytes [start, end) of `src`, as they are. */
  bytes(src: Buffer, start: number, end: number): void {
    this.#len = copyInto(this.#buf, this.#len, src, start, end);
  }

  /** Bytes [start, end) of `src` as a LOAD DATA field: backslash, tab, newline and NUL escaped. */
  escaped(src: Buffer, start: number, end: number): void {
    this.#len = escapeInto(this.#buf, this.#len, src, start, end);
  }

  /** Bytes [start, end) of `src` as upper-case hex digits. */
  hex(src: Buffer, start: number, end: number): void {
    this.#len = hexInto(this.#buf, this.#len, src, start, end);
  }

  /** Bytes [0, end) as a string (statement text is ASCII but for identifiers, which are UTF-8). */
  toString(end = this.#len): string {
    return this.#buf.toString('utf8', 0, end);
  }

  /** Keeps bytes [0, keep) and moves [from, length) right after them: the next batch's start, in place. */
  keep(keep: number, from = this.#len): void {
    this.#buf.copy(this.#buf, keep, from, this.#len);
    this.#len = keep + (this.#len - from);
  }
}

// The writers behind the methods above, also used directly by the batchers' per-row loops: each writes into
// `out` from offset `o` (room reserved beforehand) and returns the offset after what it wrote.

/** Bytes [start, end) of `src`, as they are. */
export function copyInto(out: Buffer, o: number, src: Buffer, start: number, end: number, same: SameMemory | null = null): number {
  const n = end - start;
  if (same !== null && n >= SHORT_WITHIN) {
    same.bytes.copyWithin(same.outBase + o, same.srcBase + start, same.srcBase + end);
    return o + n;
  }
  if (n < SHORT) {
    for (let i = start; i < end; i++) out[o++] = src[i];
    return o;
  }
  return o + src.copy(out, o, start, end);
}

/**
 * Bytes [start, end) of `src` as a LOAD DATA field: backslash, tab, newline and NUL escaped. Most values have
 * none of them: a scan (4 bytes at a time) and a plain copy is several times faster than byte by byte.
 */
export function escapeInto(out: Buffer, o: number, src: Buffer, start: number, end: number, same: SameMemory | null = null): number {
  const first = firstSpecial(src, start, end);
  o = copyInto(out, o, src, start, first, same);
  for (let i = first; i < end; i++) {
    const c = src[i];
    const e = ESCAPE_AS[c];
    if (e === 0) {
      out[o++] = c;
    } else {
      out[o++] = 0x5c;
      out[o++] = e;
    }
  }
  return o;
}

/** Bytes [start, end) of `src` as upper-case hex digits. */
export function hexInto(out: Buffer, o: number, src: Buffer, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    const c = src[i];
    out[o++] = HEX[c >> 4];
    out[o++] = HEX[c & 15];
  }
  return o;
}
