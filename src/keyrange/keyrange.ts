// Key ranges: half-open [start, end) intervals of keyspace ids, compared bytewise (DESIGN.md "Vocabulary").
// An empty start is the lowest id, an empty end the highest. A shard's name is its key range in hex.

export interface KeyRange {
  start: Buffer;
  end: Buffer;
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

/** `-80`, `80-c0`, `c0-`, `4000-8000`; `-` and `0` are the whole range. Throws KeyRangeError naming the name. */
export function parseShardName(name: string): KeyRange {
  if (typeof name !== 'string') throw new KeyRangeError(`shard name ${String(name)} is not a string`);
  if (name === '0' || name === '-') return { start: EMPTY, end: EMPTY };
  const bad = (why: string) => new KeyRangeError(`shard name ${JSON.stringify(name)} is not a key range: ${why}`);
  if (name === '') throw bad('it is empty');
  const dash = name.indexOf('-');
  if (dash < 0 || name.indexOf('-', dash + 1) >= 0) throw bad('expected START-END in hex (e.g. -80, 80-c0, c0-) or 0 / - for the whole range');
  const startHex = name.slice(0, dash);
  const endHex = name.slice(dash + 1);
  for (const [which, hex] of [['start', startHex], ['end', endHex]] as const) {
    if (!HEX_RE.test(hex)) {
      throw bad(hex.length % 2 === 1 && /^[0-9a-fA-F]*$/.test(hex) ? `${which} "${hex}" has an odd number of hex digits` : `${which} "${hex}" is not hex`);
    }
  }
  const start = Buffer.from(startHex, 'hex');
  const end = Buffer.from(endHex, 'hex');
  if (start.length > 0 && end.length > 0 && Buffer.compare(start, end) >= 0) throw bad(`start ${startHex} is not below end ${endHex}`);
  return { start, end };
}

/** Canonical lowercase name: `-80`, `80-c0`, `-` for the whole range. */
export function keyRangeToString(kr: KeyRange): string {
  return `${kr.start.toString('hex')}-${kr.end.toString('hex')}`;
}

export function isFull(kr: KeyRange): boolean {
  return kr.start.length === 0 && kr.end.length === 0;
}

export function equal(a: KeyRange, b: KeyRange): boolean {
  return a.start.equals(b.start) && a.end.equals(b.end);
}

/** start <= id < end, bytewise: `80` vs id `80 00…` is contained in `80-`, id `7f ff…` is not. */
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
      problems.push(`${[...strayParts].join(', ')} cover${strayParts.size === 1 ? 's' : ''} ${pointName(strayFrom, '')}-${pointName(p, '')}, outside the range to cover`);
      strayFrom = undefined;
      strayParts = new Set();
    }
    if (p === null) break;
    if (inTarget && covering.length === 0 && gapFrom === undefined) gapFrom = p;
    if (!inTarget && covering.length > 0) {
      strayFrom ??= p;
      for (const kr of covering) strayParts.add(`shard ${keyRangeToString(kr)}`);
    }
    if (covering.length > 1) {
      const key = `shards ${covering.map(keyRangeToString).join(' and ')} overlap`;
      if (!overlaps.has(key)) {
        overlaps.add(key);
        problems.push(key);
      }
    }
  }
  return problems.length === 0 ? null : problems.join('; ');
}
