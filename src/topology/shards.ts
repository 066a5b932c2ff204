// Questions and changes about shards and tablets on a Topology object. Pure: mutations are meant
// to run inside TopologyServer.update, which validates and writes the result.

import { checkExactCover, intersects, parseShardName, type KeyRange } from '../keyrange/keyrange.ts';
import { TopologyError } from './errors.ts';
import type { Keyspace, Shard, SourceShard, Tablet, TabletType, Topology } from './types.ts';

export function keyspaceOf(topo: Topology, keyspace: string): Keyspace {
  if (!Object.hasOwn(topo.keyspaces, keyspace)) throw new TopologyError(`unknown keyspace ${JSON.stringify(keyspace)}`);
  return topo.keyspaces[keyspace];
}

export function shardOf(topo: Topology, keyspace: string, shard: string): Shard {
  const ks = keyspaceOf(topo, keyspace);
  if (!Object.hasOwn(ks.shards, shard)) throw new TopologyError(`unknown shard ${JSON.stringify(shard)} in keyspace ${keyspace}`);
  return ks.shards[shard];
}

export const isServing = (shard: Shard): boolean => shard.servedTypes.length > 0;

export interface SplitShards {
  /** Serving shards being split or merged, in key order. */
  sources: string[];
  /** Non-serving shards that together cover exactly the sources' range, in key order. */
  destinations: string[];
}

/**
 * The shards of a horizontal split named by one source shard. Destinations are the non-serving shards
 * overlapping the sources; sources are the serving shards overlapping the destinations; both grow until
 * stable, so a merge is found from any one of its sources. Their ranges must match exactly.
 */
export function findSplitShards(topo: Topology, keyspace: string, shard: string): SplitShards {
  const ks = keyspaceOf(topo, keyspace);
  const named = shardOf(topo, keyspace, shard);
  if (!ks.shardingColumnName) throw new TopologyError(`keyspace ${keyspace} has no shardingColumnName, so it cannot be split by key range`);
  if (!isServing(named)) throw new TopologyError(`shard ${keyspace}/${shard} is not serving (its servedTypes is empty), so it cannot be a split source`);

  const range = new Map<string, KeyRange>(Object.keys(ks.shards).map((name) => [name, parseShardName(name)]));
  const serving = [...range.keys()].filter((name) => isServing(ks.shards[name]));
  const idle = [...range.keys()].filter((name) => !isServing(ks.shards[name]));
  const overlapsAny = (name: string, others: string[]) => others.some((o) => intersects(range.get(name)!, range.get(o)!));

  let sources = [shard];
  let destinations: string[] = [];
  for (;;) {
    // Both sets only grow, so this ends after at most one round per shard.
    destinations = idle.filter((d) => overlapsAny(d, sources));
    const grown = serving.filter((s) => s === shard || overlapsAny(s, destinations));
    if (grown.length === sources.length) break;
    sources = grown;
  }
  if (destinations.length === 0)
    throw new TopologyError(`shard ${keyspace}/${shard}: no destination shards (non-serving shards overlapping it) in keyspace ${keyspace}`);

  const byKey = (a: string, b: string) => Buffer.compare(range.get(a)!.start, range.get(b)!.start) || (a < b ? -1 : a > b ? 1 : 0);
  sources.sort(byKey);
  destinations.sort(byKey);
  const problem = checkExactCover(
    sources.map((s) => range.get(s)!),
    destinations.map((d) => range.get(d)!),
  );
  if (problem) {
    throw new TopologyError(
      `keyspace ${keyspace}: destination shards ${destinations.join(', ')} do not cover source shard(s) ${sources.join(', ')} exactly: ${problem}`,
    );
  }
  return { sources, destinations };
}

// Numeric-aware so zone1-99 sorts before zone1-100.
const aliasOrder = new Intl.Collator('en', { numeric: true });

/** The tablets of one shard (of one type if given), sorted by alias. */
export function tabletsOf(topo: Topology, keyspace: string, shard: string, type?: TabletType): [string, Tablet][] {
  return Object.entries(topo.tablets)
    .filter(([, t]) => t.keyspace === keyspace && t.shard === shard && (type === undefined || t.type === type))
    .sort(([a], [b]) => aliasOrder.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0));
}

export function tabletOf(topo: Topology, alias: string): Tablet {
  if (!Object.hasOwn(topo.tablets, alias)) throw new TopologyError(`unknown tablet ${JSON.stringify(alias)}`);
  return topo.tablets[alias];
}

/**
 * Sets a tablet's type and returns the one it had. `workerJob` records who took it (with type `worker`);
 * leaving it out clears it, as when the tablet is given back.
 */
export function setTabletType(topo: Topology, alias: string, type: TabletType, workerJob?: Tablet['workerJob']): TabletType {
  const tablet = tabletOf(topo, alias);
  const previous = tablet.type;
  tablet.type = type;
  if (workerJob) tablet.workerJob = { ...workerJob };
  else delete tablet.workerJob;
  return previous;
}

/** Records which source shards feed a destination shard (replacing what was there). */
export function setSourceShards(topo: Topology, keyspace: string, shard: string, sourceShards: readonly SourceShard[]): void {
  shardOf(topo, keyspace, shard).sourceShards = sourceShards.map((s) => ({ ...s, tables: [...s.tables] }));
}

/** Shard names in key order (by range start, then name). */
export function byRangeStart(a: string, b: string): number {
  return Buffer.compare(parseShardName(a).start, parseShardName(b).start) || (a < b ? -1 : a > b ? 1 : 0);
}

/** The shards of `keyspace` that list any of `shards` (of the same keyspace) in their sourceShards, in key order. */
export function shardsFedBy(topo: Topology, keyspace: string, shards: readonly string[]): string[] {
  const ks = keyspaceOf(topo, keyspace);
  return Object.keys(ks.shards)
    .filter((name) => (ks.shards[name].sourceShards ?? []).some((s) => s.keyspace === keyspace && shards.includes(s.shard)))
    .sort(byRangeStart);
}

/** The shards of `keyspace` a shard's sourceShards name (same keyspace only), in key order. */
export function sourceShardsOf(topo: Topology, keyspace: string, shard: string): string[] {
  return [...new Set((shardOf(topo, keyspace, shard).sourceShards ?? []).filter((s) => s.keyspace === keyspace).map((s) => s.shard))].sort(byRangeStart);
}

/**
 * A horizontal split as its clone recorded it, found from a source shard: the shards whose sourceShards list it, and
 * every source they list. This holds however much serving has moved (servedTypes no longer tells sources from
 * destinations once rdonly has moved), until the primary's flip turns sourceShards round. Null when nothing lists
 * the shard; an error when the record does not cover one range exactly.
 */
export function splitOnRecord(topo: Topology, keyspace: string, source: string): SplitShards | null {
  let sources = [source];
  let destinations = shardsFedBy(topo, keyspace, sources);
  if (destinations.length === 0) return null;
  for (;;) {
    // Both only grow (a merge lists two sources), so this ends.
    const grown = [...new Set([...sources, ...destinations.flatMap((d) => sourceShardsOf(topo, keyspace, d))])].sort(byRangeStart);
    destinations = shardsFedBy(topo, keyspace, grown);
    if (grown.length === sources.length) break;
    sources = grown;
  }
  const problem = checkExactCover(sources.map(parseShardName), destinations.map(parseShardName));
  if (problem)
    throw new TopologyError(
      `keyspace ${keyspace}: shards ${destinations.join(', ')} list ${sources.join(', ')} in their sourceShards but do not cover the same range: ${problem}`,
    );
  return { sources, destinations };
}
