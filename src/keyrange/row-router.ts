// Routes a copied row to the destination whose key range holds its keyspace id.
// Runs once per row (millions), so it allocates nothing per row: bounds are precomputed,
// uint64 values are parsed from their ASCII digits into two exact numbers and compared as such.

import type { ShardingColumnType } from '../topology/types.ts';
import { normalizeId, type KeyRange } from './keyrange.ts';
import { notUint64 } from './keyspace-id.ts';

/**
 * Index of the first range holding the row's keyspace id, or -1. The value is bytes [start, end) of `raw` (all of
 * it by default), as the text protocol sends it: the copy passes the packet a row was read in, copying nothing.
 */
export type KeyspaceIdRouter = (raw: Buffer, start?: number, end?: number) => number;

const TWO_64 = 1n << 64n;

export function makeKeyspaceIdRouter(type: ShardingColumnType, ranges: readonly KeyRange[]): KeyspaceIdRouter {
  return type === 'uint64' ? uint64Router(ranges) : bytesRouter(ranges);
}

/**
 * The smallest uint64 whose 8-byte id is >= `bound` bytewise (2^64 when none is):
 * a bound of up to 8 bytes is its zero-padded value; a longer one sorts after its own
 * 8-byte prefix, so the first id at or above it is that prefix + 1.
 */
export function uint64Threshold(raw: Buffer): bigint {
  // Trailing zeros do not move a bound (Vitess): `800000000000000000` is `80`, not past `8000000000000000`.
  const bound = normalizeId(raw);
  if (bound.length <= 8) {
    const padded = Buffer.alloc(8);
    bound.copy(padded);
    return padded.readBigUInt64BE();
  }
  return bound.readBigUInt64BE(0) + 1n;
}

// A uint64 as (q, r) with value = q * 10^10 + r: both halves are exact doubles, ordered pairs order like
// the values, and the text-protocol digits split into them with no division (twice as fast as 32-bit halves).
const TEN_10 = 10_000_000_000n;
const MAX_Q = Number(((1n << 64n) - 1n) / TEN_10);
const MAX_R = Number(((1n << 64n) - 1n) % TEN_10);

function uint64Router(ranges: readonly KeyRange[]): KeyspaceIdRouter {
  const n = ranges.length;
  // [startQ, startR, endQ, endR] per range; an id is in range k when start <= id < end.
  const b = new Float64Array(n * 4);
  ranges.forEach((kr, k) => {
    const start = kr.start.length === 0 ? 0n : uint64Threshold(kr.start);
    const end = kr.end.length === 0 ? TWO_64 : uint64Threshold(kr.end);
    b[k * 4] = Number(start / TEN_10);
    b[k * 4 + 1] = Number(start % TEN_10);
    b[k * 4 + 2] = Number(end / TEN_10);
    b[k * 4 + 3] = Number(end % TEN_10);
  });

  return (raw: Buffer, start = 0, end = raw.length): number => {
    const len = end - start;
    // No closure for the error: this runs per row, and every allocation there shows.
    if (len <= 0 || len > 20) throw notUint64(raw.subarray(start, end));
    let q = 0;
    let r = 0;
    let i = start;
    for (const split = end - 10; i < split; i++) {
      const d = raw[i] - 0x30;
      if (d < 0 || d > 9) throw notUint64(raw.subarray(start, end));
      q = q * 10 + d;
    }
    for (; i < end; i++) {
      const d = raw[i] - 0x30;
      if (d < 0 || d > 9) throw notUint64(raw.subarray(start, end));
      r = r * 10 + d;
    }
    if (q > MAX_Q || (q === MAX_Q && r > MAX_R)) throw notUint64(raw.subarray(start, end));
    for (let k = 0, o = 0; k < n; k++, o += 4) {
      const sQ = b[o];
      const eQ = b[o + 2];
      if ((q > sQ || (q === sQ && r >= b[o + 1])) && (q < eQ || (q === eQ && r < b[o + 3]))) return k;
    }
    return -1;
  };
}

function bytesRouter(ranges: readonly KeyRange[]): KeyspaceIdRouter {
  // Bounds without trailing zeros (as parsed shard names have them): then comparing the raw id bytewise is
  // Vitess's comparison of both padded with zeros, with no per-row work.
  const starts = ranges.map((kr) => Buffer.from(normalizeId(kr.start)));
  const ends = ranges.map((kr) => Buffer.from(normalizeId(kr.end)));
  const n = ranges.length;
  return (raw: Buffer, start = 0, end = raw.length): number => {
    for (let k = 0; k < n; k++) {
      const lo = starts[k];
      const hi = ends[k];
      if (compareBound(lo, raw, start, end) <= 0 && (hi.length === 0 || compareBound(hi, raw, start, end) > 0)) return k;
    }
    return -1;
  };
}

/**
 * Buffer.compare(bound, id) in plain JS: bounds are a byte or two, and a loop over them is several
 * times cheaper than a call into native code, which dominates the routing of each row.
 */
function compareBound(bound: Buffer, id: Buffer, start: number, end: number): number {
  const bl = bound.length;
  const il = end - start;
  const m = bl < il ? bl : il;
  for (let i = 0; i < m; i++) {
    const d = bound[i] - id[start + i];
    if (d !== 0) return d;
  }
  return bl - il;
}

/**
 * Index of the first range holding the uint64 `hi` * 2^32 + `lo` (two uint32 halves), or -1: for a keyspace id
 * read as a binary integer, compared as such (bounds split the same way, the open end as hi = 2^32).
 */
export type Uint64HalvesRouter = (hi: number, lo: number) => number;

export function makeUint64HalvesRouter(ranges: readonly KeyRange[]): Uint64HalvesRouter {
  const n = ranges.length;
  // [startHi, startLo, endHi, endLo] per range.
  const b = new Float64Array(n * 4);
  const halves = (v: bigint, k: number) => {
    b[k] = Number(v >> 32n);
    b[k + 1] = Number(v & 0xffffffffn);
  };
  ranges.forEach((kr, k) => {
    halves(kr.start.length === 0 ? 0n : uint64Threshold(kr.start), k * 4);
    halves(kr.end.length === 0 ? TWO_64 : uint64Threshold(kr.end), k * 4 + 2);
  });
  return (hi: number, lo: number): number => {
    for (let k = 0, o = 0; k < n; k++, o += 4) {
      const sH = b[o];
      const eH = b[o + 2];
      if ((hi > sH || (hi === sH && lo >= b[o + 1])) && (hi < eH || (hi === eH && lo < b[o + 3]))) return k;
    }
    return -1;
  };
}
