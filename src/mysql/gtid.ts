// Replication positions as `_vt.blp_checkpoint` keeps them (`MariaDB/<gtid list>`), and how two of them compare.
// Pure: no server involved.

export class PositionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PositionError';
  }
}

export interface Position {
  flavor: 'MariaDB' | 'MySQL56' | 'FilePos';
  /** The text after the flavor: a GTID list, a GTID set, or `file:offset`. */
  value: string;
}

export function parsePosition(text: string): Position {
  const slash = text.indexOf('/');
  const flavor = slash < 0 ? '' : text.slice(0, slash);
  if (flavor !== 'MariaDB' && flavor !== 'MySQL56' && flavor !== 'FilePos') {
    throw new PositionError(`position ${JSON.stringify(text)} does not start with MariaDB/, MySQL56/ or FilePos/`);
  }
  return { flavor, value: text.slice(slash + 1).trim() };
}

/** A MariaDB GTID list: the last sequence number applied in each replication domain. */
export type GtidList = Map<number, { serverId: number; seq: bigint }>;

const GTID_RE = /^(\d+)-(\d+)-(\d+)$/;

/** Parses `0-100-57,1-2-9` (whitespace and an empty list allowed). */
export function parseGtidList(text: string): GtidList {
  const list: GtidList = new Map();
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = GTID_RE.exec(part);
    if (!m) throw new PositionError(`${JSON.stringify(part)} in ${JSON.stringify(text)} is not a MariaDB GTID (domain-server-sequence)`);
    const domain = Number(m[1]);
    if (list.has(domain)) throw new PositionError(`GTID list ${JSON.stringify(text)} names domain ${domain} twice`);
    list.set(domain, { serverId: Number(m[2]), seq: BigInt(m[3]) });
  }
  return list;
}

export function formatGtidList(list: GtidList): string {
  return [...list.entries()]
    .sort(([a], [b]) => a - b)
    .map(([domain, g]) => `${domain}-${g.serverId}-${g.seq}`)
    .join(',');
}

export type Relation =
  | { kind: 'equal' }
  | { kind: 'behind' }
  /** `domain` is one where `current` has applied more than `target`. */
  | { kind: 'past'; domain: number };

/**
 * Where `current` stands relative to `target`. Within a domain, sequence numbers only grow, so a domain is ahead,
 * level or behind by its sequence number alone; a domain missing from a list counts as sequence 0.
 * Past in any domain is past (what was applied cannot be unapplied), even when behind in another.
 */
export function compareGtidLists(current: GtidList, target: GtidList): Relation {
  let behind = false;
  for (const domain of new Set([...current.keys(), ...target.keys()])) {
    const c = current.get(domain)?.seq ?? 0n;
    const t = target.get(domain)?.seq ?? 0n;
    if (c > t) return { kind: 'past', domain };
    if (c < t) behind = true;
  }
  return behind ? { kind: 'behind' } : { kind: 'equal' };
}
