// Key ranges: half-open [start, end) intervals of keyspace ids (docs/topology.md "Key ranges").
// An empty start is the lowest id, an empty end the highest. A shard's name is its key range in hex.
//
// Vitess's rule for trailing zeros: a bound compares as if padded with zero bytes, so `80`, `8000` and
// `8000000000000000` are one bound. Bounds are stored with their trailing zero bytes cut off (normalized) when
// parsed; then a plain bytewise comparison of an id with a bound is Vitess's comparison of both normalized (an id
// differs from its normalized self only by trailing zeros, which can only turn "above the bound" into "equal to
// it", and start <= id < end reads the same either way). So `contains` and the row routers need no padding.

export interface KeyRange {
  /** Normalized: no trailing zero bytes (an all-zero start is empty, the lowest id). */
  start: Buffer;
  /** Normalized: no trailing zero bytes; empty is past the highest id. */
  end: Buffer;
  /** The shard name as the operator wrote it, when parsed from one: messages name shards this way. */
  name?: string;
}

export class KeyRangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyRangeError';
  }
}

const EMPTY = Buffer.alloc(0);
const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

export const FULL_RANGE: Readonly<KeyRange> = Object.freeze({ start: EMPTY, end: EMPTY });

/** Cuts trailing zero bytes off (a view of `id`, no copy): Vitess's `key.Normalize`. */
export function normalizeId(id: Buffer): Buffer {
  let n = id.length;
  while (n > 0 && id[n - 1] === 0) n--;
  return n === id.length ? id : id.subarray(0, n);
}

/** Vitess's `key.Compare`: bytewise, as if the shorter were padded with zero bytes (-1, 0 or 1). */
export function compareIds(a: Buffer, b: Buffer): number {
  return Math.sign(Buffer.compare(normalizeId(a), normalizeId(b)));
}

/**
 * `-80`, `80-c0`, `c0-`, `4000-8000`, `8000000000000000-`; `-` and `0` are the whole range. Bounds are normalized
 * (`-8000` is `-80`); the name is kept as written. Throws KeyRangeError naming the name.
 */
export function parseShardName(name: string): KeyRange {
  if (typeof name !== 'string') throw new KeyRangeError(`shard name ${String(name)} is not a string`);
  if (name === '0' || name === '-') return { start: EMPTY, end: EMPTY, name };
  const bad = (why: string) => new KeyRangeError(`shard name ${JSON.stringify(name)} is not a key range: ${why}`);
  if (name === '') throw bad('it is empty');
  const dash = name.indexOf('-');
  if (dash < 0 || name.indexOf('-', dash + 1) >= 0) throw bad('expected START-END in hex (e.g. -80, 80-c0, c0-) or 0 / - for the whole range');
  const startHex = name.slice(0, dash);
  const endHex = name.slice(dash + 1);
  for (const [which, hex] of [
    ['start', startHex],
    ['end', endHex],
  ] as const) {
    if (!HEX_RE.test(hex)) {
      throw bad(hex.length % 2 === 1 && /^[0-9a-fA-F]*$/.test(hex) ? `${which} "${hex}" has an odd number of hex digits` : `${which} "${hex}" is not hex`);
    }
  }
  const start = normalizeId(Buffer.from(startHex, 'hex'));
  const end = normalizeId(Buffer.from(endHex, 'hex'));
  // An end of zero bytes only would be the lowest id: a range holding nothing (Vitess would read it as no end at all).
  if (endHex.length > 0 && end.length === 0) throw bad(`end ${endHex} is the lowest id, so the range holds nothing`);
  if (end.length > 0 && Buffer.compare(start, end) >= 0) throw bad(`start ${startHex} is not below end ${endHex}`);
  return { start, end, name };
}

/** Canonical lowercase name, bounds without trailing zeros: `-80` (also for `-8000`), `80-c0`, `-` for the whole range. */
export function keyRangeToString(kr: KeyRange): string {
  return `${kr.start.toString('hex')}-${kr.end.toString('hex')}`;
}

export function isFull(kr: KeyRange): boolean {
  return kr.start.length === 0 && kr.end.length === 0;
}

/** Same ids, whatever the spelling: `-80`, `-8000` and `-8000000000000000` are equal. */
export function equal(a: KeyRange, b: KeyRange): boolean {
  return a.start.equals(b.start) && a.end.equals(b.end);
}

/**
 * The part of the id line `kr` spans, from 0 to 1 (by the first 8 bytes of its bounds): with keyspace ids spread
 * evenly, as hashes are, the part of a table's rows whose ids it contains.
 */
export function keyRangeShare(kr: KeyRange): number {
  const width = (kr.end.length ? boundHead(kr.end) : 1n << 64n) - boundHead(kr.start);
  return width <= 0n ? 0 : Number(width) / 2 ** 64;
}

/** A bound's first 8 bytes as a number (zero-padded, as bounds compare): where it cuts the uint64 id line. */
export function boundHead(bound: Buffer): bigint {
  const head = Buffer.alloc(8);
  bound.copy(head, 0, 0, Math.min(8, bound.length));
  return head.readBigUInt64BE(0);
}

/** Does `a` end exactly where `b` starts (Vitess's KeyRangeContiguous: `40-80` then `8000000000000000-c0`)? */
export function contiguous(a: KeyRange, b: KeyRange): boolean {
  if (isFull(a) || isFull(b)) return false;
  return a.end.length > 0 && a.end.equals(b.start);
}

/** Does `outer` hold every id of `inner`? */
export function containsRange(outer: KeyRange, inner: KeyRange): boolean {
  return Buffer.compare(outer.start, inner.start) <= 0 && (outer.end.length === 0 || (inner.end.length > 0 && Buffer.compare(inner.end, outer.end) <= 0));
}

/**
 * start <= id < end, as if padded with zeros: `80` vs id `80 00…` is contained in `80-`, id `7f ff…` is not; a
 * 1-byte id `80` is in `8000-`, not in `-8000`.
 */
export function contains(kr: KeyRange, id: Buffer): boolean {
  // An empty start compares below (or equal to) every id, so it needs no special case.
  return Buffer.compare(kr.start, id) <= 0 && (kr.end.length === 0 || Buffer.compare(id, kr.end) < 0);
}

/** Do the two ranges share at least one id? */
export function intersects(a: KeyRange, b: KeyRange): boolean {
  return startBeforeEnd(a.start, b.end) && startBeforeEnd(b.start, a.end);
}

/** Is `start` below `end`, where an empty end is the highest? */
function startBeforeEnd(start: Buffer, end: Buffer): boolean {
  return end.length === 0 || Buffer.compare(start, end) < 0;
}

// A boundary point on the id line; `null` is the point past the highest id (an empty end).
type Point = Buffer | null;

function comparePoints(a: Point, b: Point): number {
  if (a === null) return b === null ? 0 : 1;
  if (b === null) return -1;
  return Buffer.compare(a, b);
}

const endPoint = (kr: KeyRange): Point => (kr.end.length === 0 ? null : kr.end);

/** Does `kr` hold the elementary interval starting at `p` (p being any boundary point of the ranges involved)? */
function holds(kr: KeyRange, p: Buffer): boolean {
  return Buffer.compare(kr.start, p) <= 0 && comparePoints(p, endPoint(kr)) < 0;
}

const pointName = (p: Point, edge: string): string => (p === null || p.length === 0 ? edge : p.toString('hex'));
const shardName = (kr: KeyRange): string => kr.name ?? keyRangeToString(kr);

/**
 * Do `parts` cover exactly the union of `target`, with no gap and no overlap?
 * Returns null, or a message naming every gap, overlap and stray part ("gap between 80 and c0", "shards -80 and 40- overlap").
 */
export function checkExactCover(target: readonly KeyRange[], parts: readonly KeyRange[]): string | null {
  // Cut the id line at every boundary; coverage is constant between two consecutive cuts.
  const cuts: Point[] = [EMPTY, null];
  for (const kr of [...target, ...parts]) cuts.push(kr.start, endPoint(kr));
  cuts.sort(comparePoints);
  const points = cuts.filter((p, i) => i === 0 || comparePoints(cuts[i - 1], p) !== 0);

  const problems: string[] = [];
  const overlaps = new Set<string>();
  let gapFrom: Point | undefined;
  let strayFrom: Point | undefined;
  let strayParts = new Set<string>();
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    const inTarget = p !== null && target.some((kr) => holds(kr, p));
    const covering = p === null ? [] : parts.filter((kr) => holds(kr, p));
    // Close runs that end here.
    if (gapFrom !== undefined && !(inTarget && covering.length === 0)) {
      problems.push(`gap between ${pointName(gapFrom, 'the lowest id')} and ${pointName(p, 'the highest id')}`);
      gapFrom = undefined;
    }
    if (strayFrom !== undefined && !(!inTarget && covering.length > 0)) {
      problems.push(
        `${[...strayParts].join(', ')} cover${strayParts.size === 1 ? 's' : ''} ${pointName(strayFrom, '')}-${pointName(p, '')}, outside the range to cover`,
      );
      strayFrom = undefined;
      strayParts = new Set();
    }
    if (p === null) break;
    if (inTarget && covering.length === 0 && gapFrom === undefined) gapFrom = p;
    if (!inTarget && covering.length > 0) {
      strayFrom ??= p;
      for (const kr of covering) strayParts.add(`shard ${shardName(kr)}`);
    }
    if (covering.length > 1) {
      const key = `shards ${covering.map(shardName).join(' and ')} overlap`;
      if (!overlaps.has(key)) {
        overlaps.add(key);
        problems.push(key);
      }
    }
  }
  return problems.length === 0 ? null : problems.join('; ');
}
