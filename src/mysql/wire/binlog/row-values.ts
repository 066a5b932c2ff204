// The row-image value decoder: one column value of a rows event, from the stored bytes to a BinlogValue that writes
// back exactly (see events.ts). Each column gets a decoder made once per table map, for its type, metadata and
// signedness, so a row is a loop of plain calls. Pure; no server involved.

import { T } from './column-types.ts';
import type { BinlogValue } from './events.ts';

/** Where in an event the next value starts; a decoder reads at `pos` and moves it past the value. */
export interface Cursor {
  buf: Buffer;
  pos: number;
}

export type ValueDecoder = (c: Cursor) => BinlogValue;

/** A column as a table map describes it, with STRING's real type (CHAR, ENUM, SET) resolved. */
export interface ColumnSpec {
  /** The resolved MYSQL_TYPE_* code. */
  type: number;
  /** The table map's metadata bytes for the column, as a little-endian number (0 when it has none). */
  meta: number;
  unsigned: boolean;
}

export class RowImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RowImageError';
  }
}

/**
 * Resolves STRING's real type from its metadata (sql/log_event.cc, Table_map: byte 0 the real type, byte 1 the
 * length; a CHAR longer than 255 bytes keeps two more length bits in byte 0). Returns the type and the metadata to
 * decode with: for CHAR, the maximum length in bytes; for ENUM and SET, their pack length.
 */
export function resolveStringType(type: number, meta: number): { type: number; meta: number } {
  if (type !== T.STRING) return { type, meta };
  const b0 = meta & 0xff;
  const b1 = meta >> 8;
  if ((b0 & 0x30) !== 0x30) return { type: T.STRING, meta: b1 | (((b0 & 0x30) ^ 0x30) << 4) };
  if (b0 === T.ENUM || b0 === T.SET) return { type: b0, meta: b1 };
  return { type: T.STRING, meta: b1 };
}

const TWO = Array.from({ length: 100 }, (_, i) => (i < 10 ? '0' : '') + i);

function two(n: number): string {
  return n < 100 ? TWO[n] : String(n);
}

function four(n: number): string {
  return n >= 1000 ? String(n) : n >= 100 ? '0' + n : n >= 10 ? '00' + n : '000' + n;
}

/** `usec` (microseconds) as `fsp` fraction digits with the dot, or '' for fsp 0. */
function fraction(usec: number, fsp: number): string {
  if (fsp === 0) return '';
  return '.' + String(usec).padStart(6, '0').slice(0, fsp);
}

/** Fraction bytes of TIME2 / DATETIME2 / TIMESTAMP2 with `fsp` digits (MySQL my_time.cc). */
function fractionBytes(fsp: number): number {
  return (fsp + 1) >> 1;
}

/** Reads the big-endian fraction of a temporal2 value as microseconds (unsigned; TIME2 handles its sign itself). */
function readFraction(buf: Buffer, p: number, fsp: number): number {
  switch (fractionBytes(fsp)) {
    case 0:
      return 0;
    case 1:
      return buf[p] * 10000;
    case 2:
      return buf.readUInt16BE(p) * 100;
    default:
      return buf.readUIntBE(p, 3);
  }
}

function utcDateTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  return `${four(d.getUTCFullYear())}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

/** Bytes of the decimal digits 0-9 in a partial group (strings/decimal.c dig2bytes). */
const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

export function decimalSize(precision: number, scale: number): number {
  const intg = precision - scale;
  return ((intg / 9) | 0) * 4 + DIG2BYTES[intg % 9] + ((scale / 9) | 0) * 4 + DIG2BYTES[scale % 9];
}

/**
 * MySQL's binary DECIMAL (strings/decimal.c decimal2bin): groups of 9 digits in 4 big-endian bytes, a shorter group
 * first for the integer part's leading digits and last for the fraction's trailing ones; the sign is the first
 * bit flipped, and a negative number has every byte inverted. Returns its exact digits with `scale` fraction digits.
 */
export function decodeDecimal(buf: Buffer, p: number, precision: number, scale: number): string {
  const intg = precision - scale;
  const intg0 = (intg / 9) | 0;
  const intg0x = intg % 9;
  const frac0 = (scale / 9) | 0;
  const frac0x = scale % 9;
  const negative = (buf[p] & 0x80) === 0;
  const mask = negative ? 0xff : 0;
  // Read in place: each byte inverted when negative, the first with its sign bit flipped back.
  let at = p;
  const group = (bytes: number): number => {
    let v = 0;
    for (let i = 0; i < bytes; i++, at++) v = v * 256 + ((buf[at] ^ mask ^ (at === p ? 0x80 : 0)) & 0xff);
    return v;
  };
  let integer = intg0x > 0 ? String(group(DIG2BYTES[intg0x])) : '';
  for (let i = 0; i < intg0; i++) integer += String(group(4)).padStart(9, '0');
  integer = integer.replace(/^0+/, '') || '0';
  let frac = '';
  for (let i = 0; i < frac0; i++) frac += String(group(4)).padStart(9, '0');
  if (frac0x > 0) frac += String(group(DIG2BYTES[frac0x])).padStart(frac0x, '0');
  const text = scale > 0 ? `${integer}.${frac}` : integer;
  return negative ? '-' + text : text;
}

/**
 * The length prefix of a string or blob column's values, in bytes: VARCHAR and CHAR (stored without its trailing
 * pad) by their maximum byte length; every TEXT/BLOB size, MariaDB's JSON (a LONGTEXT) and GEOMETRY (SRID + WKB)
 * by their metadata. The decoder and the width agree because both ask this.
 */
function lengthPrefixBytes(col: ColumnSpec): number {
  const { type, meta } = col;
  if (type === T.VARCHAR || type === T.VAR_STRING || type === T.STRING) return meta < 256 ? 1 : 2;
  if (meta < 1 || meta > 4) throw new RowImageError(`a BLOB column with a length prefix of ${meta} bytes`);
  return meta;
}

/** Length-prefixed bytes: a prefix of `width` little-endian bytes, then that many bytes (a view, not a copy). */
function prefixedBytes(width: number): ValueDecoder {
  return (c) => {
    const { buf } = c;
    const p = c.pos;
    const n = width === 1 ? buf[p] : width === 2 ? buf.readUInt16LE(p) : width === 3 ? buf.readUIntLE(p, 3) : buf.readUInt32LE(p);
    const start = p + width;
    c.pos = start + n;
    if (c.pos > buf.length) throw new RowImageError(`a value of ${n} bytes runs past the end of its rows event`);
    return buf.subarray(start, c.pos);
  };
}

/** An unsigned little-endian integer of `bytes` (1-8) as a bigint. */
function readUnsignedLE(buf: Buffer, p: number, bytes: number): bigint {
  if (bytes <= 6) return BigInt(buf.readUIntLE(p, bytes));
  const low = buf.readUInt32LE(p);
  const high = bytes === 8 ? buf.readUInt32LE(p + 4) : buf.readUIntLE(p + 4, bytes - 4);
  return (BigInt(high) << 32n) | BigInt(low);
}

/**
 * The decoder for one column. Throws for a type a MariaDB row image cannot hold or that shardworker does not
 * decode (MySQL's binary JSON), naming the type.
 */
export function valueDecoder(col: ColumnSpec): ValueDecoder {
  const { meta, unsigned } = col;
  switch (col.type) {
    case T.TINY:
      return unsigned ? (c) => BigInt(c.buf[c.pos++]) : (c) => BigInt(c.buf.readInt8(c.pos++));
    case T.SHORT:
      return (c) => {
        const v = unsigned ? c.buf.readUInt16LE(c.pos) : c.buf.readInt16LE(c.pos);
        c.pos += 2;
        return BigInt(v);
      };
    case T.INT24:
      return (c) => {
        const v = unsigned ? c.buf.readUIntLE(c.pos, 3) : c.buf.readIntLE(c.pos, 3);
        c.pos += 3;
        return BigInt(v);
      };
    case T.LONG:
      return (c) => {
        const v = unsigned ? c.buf.readUInt32LE(c.pos) : c.buf.readInt32LE(c.pos);
        c.pos += 4;
        return BigInt(v);
      };
    case T.LONGLONG:
      return (c) => {
        const v = unsigned ? c.buf.readBigUInt64LE(c.pos) : c.buf.readBigInt64LE(c.pos);
        c.pos += 8;
        return v;
      };
    case T.YEAR:
      // 0 is the year 0000 (written back as the number 0); 1..255 are 1901..2155.
      return (c) => {
        const v = c.buf[c.pos++];
        return BigInt(v === 0 ? 0 : 1900 + v);
      };
    case T.FLOAT:
      // A float32 read as a JavaScript number is widened exactly; written back it narrows to the same float.
      return (c) => {
        const v = c.buf.readFloatLE(c.pos);
        c.pos += 4;
        return v;
      };
    case T.DOUBLE:
      return (c) => {
        const v = c.buf.readDoubleLE(c.pos);
        c.pos += 8;
        return v;
      };
    case T.NEWDECIMAL: {
      const precision = meta & 0xff;
      const scale = meta >> 8;
      const size = decimalSize(precision, scale);
      return (c) => {
        const v = decodeDecimal(c.buf, c.pos, precision, scale);
        c.pos += size;
        return v;
      };
    }
    case T.BIT: {
      // Metadata: bits beyond whole bytes, then whole bytes. The value: big-endian bytes, a copy of the width.
      const bytes = (meta >> 8) + ((meta & 0xff) > 0 ? 1 : 0);
      return (c) => {
        const v = c.buf.subarray(c.pos, c.pos + bytes);
        c.pos += bytes;
        return v;
      };
    }
    case T.ENUM:
    case T.SET: {
      const bytes = meta;
      return (c) => {
        const v = readUnsignedLE(c.buf, c.pos, bytes);
        c.pos += bytes;
        return v;
      };
    }
    case T.VARCHAR:
    case T.VAR_STRING:
    case T.STRING:
    case T.BLOB:
    case T.TINY_BLOB:
    case T.MEDIUM_BLOB:
    case T.LONG_BLOB:
    case T.GEOMETRY:
      return prefixedBytes(lengthPrefixBytes(col));
    case T.DATE:
    case T.NEWDATE:
      return (c) => {
        const v = c.buf.readUIntLE(c.pos, 3);
        c.pos += 3;
        return `${four(v >> 9)}-${two((v >> 5) & 15)}-${two(v & 31)}`;
      };
    case T.TIMESTAMP:
      return (c) => {
        const s = c.buf.readUInt32LE(c.pos);
        c.pos += 4;
        return s === 0 ? '0000-00-00 00:00:00' : utcDateTime(s);
      };
    case T.TIMESTAMP2: {
      const fsp = meta;
      const fb = fractionBytes(fsp);
      return (c) => {
        const s = c.buf.readUInt32BE(c.pos);
        const usec = readFraction(c.buf, c.pos + 4, fsp);
        c.pos += 4 + fb;
        // The seconds are UTC; 0 is the zero timestamp (1970-01-01 00:00:00 UTC is outside TIMESTAMP's range).
        return (s === 0 && usec === 0 ? '0000-00-00 00:00:00' : utcDateTime(s)) + fraction(usec, fsp);
      };
    }
    case T.DATETIME2: {
      const fsp = meta;
      const fb = fractionBytes(fsp);
      return (c) => {
        // 40 bits, big-endian, offset by 2^39: sign, 17 bits year*13+month, 5 day, 5 hour, 6 minute, 6 second.
        const packed = c.buf.readUIntBE(c.pos, 5) - 0x8000000000;
        const usec = readFraction(c.buf, c.pos + 5, fsp);
        c.pos += 5 + fb;
        const ymdhms = packed;
        const ymd = Math.floor(ymdhms / 2 ** 17);
        const hms = ymdhms % 2 ** 17;
        const ym = ymd >> 5;
        const year = Math.floor(ym / 13);
        const month = ym % 13;
        return `${four(year)}-${two(month)}-${two(ymd & 31)} ${two(hms >> 12)}:${two((hms >> 6) & 63)}:${two(hms & 63)}` + fraction(usec, fsp);
      };
    }
    case T.TIME2: {
      const fsp = meta;
      const fb = fractionBytes(fsp);
      return (c) => {
        const { buf } = c;
        const p = c.pos;
        c.pos += 3 + fb;
        // The whole value is a signed number offset to unsigned: integer part (hours, minutes, seconds bits) and
        // fraction; a negative one with a fraction borrows one second from the integer part (my_time.cc).
        let intpart = buf.readUIntBE(p, 3) - 0x800000;
        let usec = 0;
        if (fb === 1) {
          let frac = buf[p + 3];
          if (intpart < 0 && frac) {
            intpart++;
            frac -= 0x100;
          }
          usec = frac * 10000;
        } else if (fb === 2) {
          let frac = buf.readUInt16BE(p + 3);
          if (intpart < 0 && frac) {
            intpart++;
            frac -= 0x10000;
          }
          usec = frac * 100;
        } else if (fb === 3) {
          const packed = buf.readUIntBE(p, 6) - 0x800000000000;
          intpart = Math.floor(packed / 2 ** 24);
          usec = packed - intpart * 2 ** 24;
          if (intpart < 0 && usec) {
            intpart++;
            usec -= 2 ** 24;
          }
        }
        // Now intpart and usec share a sign: the value is intpart seconds-bits plus usec microseconds.
        const negative = intpart < 0 || usec < 0;
        const hms = Math.abs(intpart);
        const micros = Math.abs(usec);
        const hours = (hms >> 12) & 0x3ff;
        return `${negative ? '-' : ''}${two(hours)}:${two((hms >> 6) & 63)}:${two(hms & 63)}` + fraction(micros, fsp);
      };
    }
    case T.DATETIME:
      // The old DATETIME: YYYYMMDDhhmmss as a little-endian 8-byte integer.
      return (c) => {
        const v = Number(c.buf.readBigUInt64LE(c.pos));
        c.pos += 8;
        const date = Math.floor(v / 1_000_000);
        const time = v % 1_000_000;
        return `${four(Math.floor(date / 10000))}-${two(Math.floor(date / 100) % 100)}-${two(date % 100)} ${two(Math.floor(time / 10000))}:${two(Math.floor(time / 100) % 100)}:${two(time % 100)}`;
      };
    case T.TIME:
      // The old TIME: a signed (h*10000 + m*100 + s) in 3 little-endian bytes.
      return (c) => {
        const v = c.buf.readIntLE(c.pos, 3);
        c.pos += 3;
        const a = Math.abs(v);
        return `${v < 0 ? '-' : ''}${two(Math.floor(a / 10000))}:${two(Math.floor(a / 100) % 100)}:${two(a % 100)}`;
      };
    case T.NULL:
      return () => null;
    default:
      throw new RowImageError(`column type ${col.type} is not one a MariaDB row image holds (or shardworker decodes)`);
  }
}

/** How many bytes a stored value takes: a constant, or read from its length prefix. */
export type ValueWidth = number | ((buf: Buffer, pos: number) => number);

function prefixedWidth(width: number): ValueWidth {
  switch (width) {
    case 1:
      return (buf, p) => 1 + buf[p];
    case 2:
      return (buf, p) => 2 + buf.readUInt16LE(p);
    case 3:
      return (buf, p) => 3 + buf.readUIntLE(p, 3);
    default:
      return (buf, p) => 4 + buf.readUInt32LE(p);
  }
}

/**
 * The width of one column's stored values, to step over a value without decoding it (routing decodes only the
 * sharding column of a row). Agrees with valueDecoder type for type; readRows checks that on every decoded image.
 */
export function valueWidth(col: ColumnSpec): ValueWidth {
  const { meta } = col;
  switch (col.type) {
    case T.TINY:
    case T.YEAR:
      return 1;
    case T.SHORT:
      return 2;
    case T.INT24:
    case T.DATE:
    case T.NEWDATE:
    case T.TIME:
      return 3;
    case T.LONG:
    case T.FLOAT:
    case T.TIMESTAMP:
      return 4;
    case T.LONGLONG:
    case T.DOUBLE:
    case T.DATETIME:
      return 8;
    case T.NEWDECIMAL:
      return decimalSize(meta & 0xff, meta >> 8);
    case T.BIT:
      return (meta >> 8) + ((meta & 0xff) > 0 ? 1 : 0);
    case T.ENUM:
    case T.SET:
      return meta;
    case T.VARCHAR:
    case T.VAR_STRING:
    case T.STRING:
    case T.BLOB:
    case T.TINY_BLOB:
    case T.MEDIUM_BLOB:
    case T.LONG_BLOB:
    case T.GEOMETRY:
      return prefixedWidth(lengthPrefixBytes(col));
    case T.TIMESTAMP2:
      return 4 + fractionBytes(meta);
    case T.DATETIME2:
      return 5 + fractionBytes(meta);
    case T.TIME2:
      return 3 + fractionBytes(meta);
    case T.NULL:
      return 0;
    default:
      throw new RowImageError(`column type ${col.type} is not one a MariaDB row image holds (or shardworker decodes)`);
  }
}
