// Which shards a MigrateServedTypes moves serving between, and the topology changes it makes. Pure: the job runs
// these inside TopologyServer.update, which validates and writes the result.
//
// The shards are found through `sourceShards`, the one record of a split that survives every step: before the
// primary moves, the destinations list the sources (forward streams); after, the sources list the destinations
// (reverse streams). So the operator names the same shard in every step, forward and back: a horizontal split's
// source shard, or a vertical split's destination shard.
//
// Horizontal: serving of a type moves from the source shards' servedTypes to the destinations'.
// Vertical (the destination keyspace is `servedFrom` the source keyspace): the destination shard's servedTypes say
// which types it serves itself; a type it does not list is still served from the source keyspace (Vitess's
// ServedFrom entries, one per type not yet migrated). The source shard's servedTypes never change: it goes on
// serving its other tables. Only the destination side moves, and the moved tables are those on record in the
// sourceShards entries.

import { intersects, parseShardName } from '../keyrange/keyrange.ts';
import { byRangeStart, keyspaceOf, shardOf, shardsFedBy, sourceShardsOf } from '../topology/shards.ts';
import type { SourceShard, TabletType, Topology } from '../topology/types.ts';

export const SERVED_TYPES = ['rdonly', 'replica', 'primary'] as const;
export type ServedType = (typeof SERVED_TYPES)[number];

/** A refusal before anything changed: the operator's request does not fit the topology or the streams. */
export class CutoverRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CutoverRefusedError';
  }
}

export interface ShardRef {
  keyspace: string;
  shard: string;
}

export const shardName = (ref: ShardRef): string => `${ref.keyspace}/${ref.shard}`;

export interface SplitPair {
  kind: 'horizontal' | 'vertical';
  /** The shards the split started from, in key order (a vertical split: the source keyspace's one shard). */
  sources: ShardRef[];
  /** The shards they were split into (a vertical split: the named destination shard). */
  destinations: ShardRef[];
  /** A vertical split's moved tables, as on record in sourceShards (names and /regexps/); empty for a horizontal one. */
  tables: string[];
  /** Whether the primary has moved: the sources list the destinations in sourceShards (reverse streams). */
  primaryMoved: boolean;
}

/** The split the named shard belongs to: a horizontal split's source shard, or a vertical split's destination. */
export function findSplitPair(topo: Topology, keyspace: string, shard: string): SplitPair {
  const ks = keyspaceOf(topo, keyspace);
  const named = shardOf(topo, keyspace, shard);
  if (ks.servedFrom) return findVerticalPair(topo, keyspace, shard, ks.servedFrom.keyspace);
  // A vertical source lists its destination after the primary's flip; before it, the destination lists it.
  const verticalDests = [...named.sourceShards.filter((s) => s.keyspace !== keyspace), ...verticalFedBy(topo, keyspace, shard)].map(shardName);
  if (verticalDests.length)
    throw new CutoverRefusedError(
      `${keyspace}/${shard} is the source of a vertical split: MigrateServedTypes names a vertical split by its destination (${[...new Set(verticalDests)].join(', ')})`,
    );
  const sources = (list: string[]) => list.map((s) => ({ keyspace, shard: s }));
  const destinations = shardsFedBy(topo, keyspace, [shard]);
  if (destinations.length > 0) {
    return {
      kind: 'horizontal',
      sources: sources([...new Set(destinations.flatMap((d) => sourceShardsOf(topo, keyspace, d)))].sort(byRangeStart)),
      destinations: sources(destinations),
      tables: [],
      primaryMoved: false,
    };
  }
  if (named.sourceShards.length > 0) {
    const dests = sourceShardsOf(topo, keyspace, shard);
    return { kind: 'horizontal', sources: sources(shardsFedBy(topo, keyspace, dests)), destinations: sources(dests), tables: [], primaryMoved: true };
  }
  throw new CutoverRefusedError(
    `${keyspace}/${shard} is not the source of a split: no shard lists it in sourceShards (run SplitClone first, without -skip_set_source_shards)`,
  );
}

/** Shards of other keyspaces whose sourceShards name `keyspace/shard` (the destinations of its vertical splits). */
function verticalFedBy(topo: Topology, keyspace: string, shard: string): ShardRef[] {
  return Object.entries(topo.keyspaces).flatMap(([name, ks]) =>
    name === keyspace
      ? []
      : Object.keys(ks.shards)
          .filter((s) => (ks.shards[s].sourceShards ?? []).some((e) => e.keyspace === keyspace && e.shard === shard))
          .map((s) => ({ keyspace: name, shard: s })),
  );
}

function findVerticalPair(topo: Topology, keyspace: string, shard: string, from: string): SplitPair {
  const dest = { keyspace, shard };
  const own = shardOf(topo, keyspace, shard).sourceShards.filter((s) => s.keyspace === from);
  if (own.length > 0) {
    const sources = [...new Set(own.map((s) => s.shard))];
    if (sources.length !== 1)
      throw new CutoverRefusedError(
        `${keyspace}/${shard} lists ${sources.length} shards of ${from} in sourceShards (${sources.join(', ')}); a vertical split has one source shard`,
      );
    return { kind: 'vertical', sources: [{ keyspace: from, shard: sources[0] }], destinations: [dest], tables: tablesOf(own), primaryMoved: false };
  }
  // After the primary's flip the source shard lists the destination (its reverse stream).
  const fromKs = keyspaceOf(topo, from);
  const following = Object.keys(fromKs.shards).filter((s) => fromKs.shards[s].sourceShards.some((e) => e.keyspace === keyspace && e.shard === shard));
  if (following.length === 1) {
    const entries = fromKs.shards[following[0]].sourceShards.filter((e) => e.keyspace === keyspace && e.shard === shard);
    return { kind: 'vertical', sources: [{ keyspace: from, shard: following[0] }], destinations: [dest], tables: tablesOf(entries), primaryMoved: true };
  }
  if (following.length > 1)
    throw new CutoverRefusedError(
      `${following.map((s) => `${from}/${s}`).join(', ')} all list ${keyspace}/${shard} in sourceShards; a vertical split has one source shard`,
    );
  throw new CutoverRefusedError(
    `${keyspace}/${shard} is not the destination of a vertical split: it lists no shard of ${from} (which ${keyspace} is servedFrom) in sourceShards, and none lists it (run VerticalSplitClone first, without -skip_set_source_shards)`,
  );
}

function tablesOf(entries: readonly SourceShard[]): string[] {
  const tables = [...new Set(entries.flatMap((e) => e.tables))];
  if (tables.length === 0)
    throw new CutoverRefusedError(
      `the sourceShards entry of the vertical split (${entries.map((e) => `${e.keyspace}/${e.shard}`).join(', ')}) names no tables, so what moves is not known`,
    );
  return tables;
}

const sortTypes = (types: TabletType[]): TabletType[] => types.sort((a, b) => SERVED_TYPES.indexOf(b as ServedType) - SERVED_TYPES.indexOf(a as ServedType));

/** Serving of `type` moves from every shard of `from` to every shard of `to`. Throws a refusal if it cannot. */
export function moveServedType(topo: Topology, from: readonly ShardRef[], to: readonly ShardRef[], type: ServedType): void {
  for (const ref of from) {
    const shard = shardOf(topo, ref.keyspace, ref.shard);
    if (!shard.servedTypes.includes(type)) throw new CutoverRefusedError(`${shardName(ref)} does not serve ${type}, so it cannot be moved from it`);
    shard.servedTypes = shard.servedTypes.filter((t) => t !== type);
  }
  for (const ref of to) {
    const shard = shardOf(topo, ref.keyspace, ref.shard);
    if (shard.servedTypes.includes(type)) throw new CutoverRefusedError(`${shardName(ref)} serves ${type} already`);
    shard.servedTypes = sortTypes([...shard.servedTypes, type]);
  }
}

/**
 * A vertical split's move of `type`: the destination serves it itself (forward), or serves it from the source
 * keyspace again (reverse). The source shard keeps serving every type for its other tables.
 */
export function moveVerticalServedType(topo: Topology, destination: ShardRef, type: ServedType, reverse: boolean): void {
  const shard = shardOf(topo, destination.keyspace, destination.shard);
  const serves = shard.servedTypes.includes(type);
  if (!reverse && serves) throw new CutoverRefusedError(`${shardName(destination)} serves ${type} already`);
  if (reverse && !serves) throw new CutoverRefusedError(`${shardName(destination)} does not serve ${type}, so it cannot be moved from it`);
  shard.servedTypes = reverse ? shard.servedTypes.filter((t) => t !== type) : sortTypes([...shard.servedTypes, type]);
}

/** The pair's move of a served type, forward or back, as one topology change. */
export function movePairServedType(topo: Topology, pair: SplitPair, type: ServedType, reverse: boolean): void {
  if (pair.kind === 'vertical') moveVerticalServedType(topo, pair.destinations[0], type, reverse);
  else if (reverse) moveServedType(topo, pair.destinations, pair.sources, type);
  else moveServedType(topo, pair.sources, pair.destinations, type);
}

/** Does the pair's destination side serve `type` (every destination shard)? */
export function destinationsServe(topo: Topology, pair: SplitPair, type: ServedType): ShardRef[] {
  return pair.destinations.filter((d) => shardOf(topo, d.keyspace, d.shard).servedTypes.includes(type));
}

/**
 * The sourceShards entries that make `to` follow `from` once `from` serves the primary: the shards of `from`
 * overlapping it (every one, for a vertical split, whose shards are in two keyspaces), numbered from 0 (the uid of
 * its `_vt.blp_checkpoint` row), with the tables on record (none for a split: every table it copied).
 */
export function followEntries(from: readonly ShardRef[], to: ShardRef, tables: readonly string[], kind: SplitPair['kind']): SourceShard[] {
  const range = parseShardName(to.shard);
  return from
    .filter((f) => kind === 'vertical' || intersects(parseShardName(f.shard), range))
    .map((f, uid) => ({ uid, keyspace: f.keyspace, shard: f.shard, keyRange: kind === 'vertical' ? '-' : f.shard, tables: [...tables] }));
}

/** The tables recorded on `to`'s entries that name `from` (what their streams carry). */
export function tablesOnRecord(topo: Topology, from: readonly ShardRef[], to: readonly ShardRef[]): string[] {
  const entries = to.flatMap((t) =>
    shardOf(topo, t.keyspace, t.shard).sourceShards.filter((s) => from.some((f) => f.keyspace === s.keyspace && f.shard === s.shard)),
  );
  return [...new Set(entries.flatMap((s) => s.tables))];
}

/**
 * The entries that make `f` (a shard giving up the primary) follow the shards receiving it, numbered after any
 * entries `f` keeps (a vertical source may be fed by other splits). Read from the topology before the flip.
 */
export function reverseEntries(topo: Topology, pair: SplitPair, reverse: boolean, f: ShardRef): SourceShard[] {
  const from = reverse ? pair.destinations : pair.sources;
  const to = reverse ? pair.sources : pair.destinations;
  const names = new Set(to.map(shardName));
  const kept = pair.kind === 'vertical' ? shardOf(topo, f.keyspace, f.shard).sourceShards.filter((s) => !names.has(shardName(s))) : [];
  const base = kept.length ? Math.max(...kept.map((s) => s.uid)) + 1 : 0;
  return followEntries(to, f, tablesOnRecord(topo, from, to), pair.kind).map((e) => ({ ...e, uid: e.uid + base }));
}

/**
 * The primary's flip (step 4): `to` serves primary, `from` stops, and the streams turn round: `to` stops following
 * `from` and `from` follows `to` (sourceShards moves across, keeping the tables on record). A vertical split moves
 * only the destination's primary, and only the entries of this split.
 */
export function flipPrimary(topo: Topology, pair: SplitPair, reverse: boolean): void {
  const from = reverse ? pair.destinations : pair.sources;
  const to = reverse ? pair.sources : pair.destinations;
  const following = from.map((f) => reverseEntries(topo, pair, reverse, f));
  movePairServedType(topo, pair, 'primary', reverse);
  const fromNames = new Set(from.map(shardName));
  const toNames = new Set(to.map(shardName));
  for (const t of to) {
    const shard = shardOf(topo, t.keyspace, t.shard);
    shard.sourceShards = pair.kind === 'vertical' ? shard.sourceShards.filter((s) => !fromNames.has(shardName(s))) : [];
  }
  for (const [i, f] of from.entries()) {
    const shard = shardOf(topo, f.keyspace, f.shard);
    const kept = pair.kind === 'vertical' ? shard.sourceShards.filter((s) => !toNames.has(shardName(s))) : [];
    shard.sourceShards = [...kept, ...following[i]];
  }
}
