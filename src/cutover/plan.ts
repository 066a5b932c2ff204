// Which shards a MigrateServedTypes moves serving between, and the topology changes it makes. Pure: the job runs
// these inside TopologyServer.update, which validates and writes the result.
//
// The shards are found through `sourceShards`, the one record of a split that survives every step: before the
// primary moves, the destinations list the sources (forward streams); after, the sources list the destinations
// (reverse streams). So the operator names the same source shard in every step, forward and back.

import { intersects, parseShardName } from '../keyrange/keyrange.ts';
import { keyspaceOf, shardOf } from '../topology/shards.ts';
import type { SourceShard, Topology } from '../topology/types.ts';

export const SERVED_TYPES = ['rdonly', 'replica', 'primary'] as const;
export type ServedType = (typeof SERVED_TYPES)[number];

/** A refusal before anything changed: the operator's request does not fit the topology or the streams. */
export class CutoverRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CutoverRefusedError';
  }
}

export interface SplitPair {
  keyspace: string;
  /** The shards the split started from, in key order. */
  sources: string[];
  /** The shards they were split into. */
  destinations: string[];
  /** Whether the primary has moved: the sources list the destinations in sourceShards (reverse streams). */
  primaryMoved: boolean;
}

/** The shards that list any of `shards` in their sourceShards (same keyspace), sorted. */
function fedBy(topo: Topology, keyspace: string, shards: readonly string[]): string[] {
  const ks = keyspaceOf(topo, keyspace);
  return Object.keys(ks.shards)
    .filter((name) => ks.shards[name].sourceShards.some((s) => s.keyspace === keyspace && shards.includes(s.shard)))
    .sort(byStart);
}

function byStart(a: string, b: string): number {
  return Buffer.compare(parseShardName(a).start, parseShardName(b).start) || (a < b ? -1 : a > b ? 1 : 0);
}

/** The split the named source shard belongs to. A vertical split is refused (not supported yet). */
export function findSplitPair(topo: Topology, keyspace: string, shard: string): SplitPair {
  const ks = keyspaceOf(topo, keyspace);
  const named = shardOf(topo, keyspace, shard);
  if (ks.servedFrom || named.sourceShards.some((s) => s.keyspace !== keyspace)) {
    throw new CutoverRefusedError(`${keyspace}/${shard} is part of a vertical split: MigrateServedTypes supports horizontal splits only so far`);
  }
  const destinations = fedBy(topo, keyspace, [shard]);
  if (destinations.length > 0) {
    return { keyspace, sources: [...new Set(destinations.flatMap((d) => ks.shards[d].sourceShards.map((s) => s.shard)))].sort(byStart), destinations, primaryMoved: false };
  }
  if (named.sourceShards.length > 0) {
    const dests = [...new Set(named.sourceShards.map((s) => s.shard))].sort(byStart);
    return { keyspace, sources: fedBy(topo, keyspace, dests), destinations: dests, primaryMoved: true };
  }
  throw new CutoverRefusedError(`${keyspace}/${shard} is not the source of a split: no shard lists it in sourceShards (run SplitClone first, without -skip_set_source_shards)`);
}

/** Serving of `type` moves from every shard of `from` to every shard of `to`. Throws a refusal if it cannot. */
export function moveServedType(topo: Topology, keyspace: string, from: readonly string[], to: readonly string[], type: ServedType): void {
  for (const name of from) {
    const shard = shardOf(topo, keyspace, name);
    if (!shard.servedTypes.includes(type)) throw new CutoverRefusedError(`${keyspace}/${name} does not serve ${type}, so it cannot be moved from it`);
    shard.servedTypes = shard.servedTypes.filter((t) => t !== type);
  }
  for (const name of to) {
    const shard = shardOf(topo, keyspace, name);
    if (shard.servedTypes.includes(type)) throw new CutoverRefusedError(`${keyspace}/${name} serves ${type} already`);
    shard.servedTypes = [...shard.servedTypes, type].sort((a, b) => SERVED_TYPES.indexOf(b as ServedType) - SERVED_TYPES.indexOf(a as ServedType));
  }
}

/**
 * The sourceShards entries that make `to` follow `from` once `from` serves the primary: for each shard of `to`, the
 * shards of `from` overlapping it, numbered from 0 (the uid of its `_vt.blp_checkpoint` row), with the tables of
 * the entries they replace (none: every table).
 */
export function followEntries(keyspace: string, from: readonly string[], to: string, tables: readonly string[]): SourceShard[] {
  const range = parseShardName(to);
  return from
    .filter((f) => intersects(parseShardName(f), range))
    .map((f, uid) => ({ uid, keyspace, shard: f, keyRange: f, tables: [...tables] }));
}

/**
 * The primary's flip (step 4): `to` serves primary, `from` stops, and the streams turn round: `to` stops following
 * `from` and `from` follows `to` (sourceShards moves across, keeping the tables on record).
 */
export function flipPrimary(topo: Topology, keyspace: string, from: readonly string[], to: readonly string[]): void {
  moveServedType(topo, keyspace, from, to, 'primary');
  const tables = [...new Set(to.flatMap((t) => shardOf(topo, keyspace, t).sourceShards.flatMap((s) => s.tables)))];
  for (const t of to) shardOf(topo, keyspace, t).sourceShards = [];
  for (const f of from) shardOf(topo, keyspace, f).sourceShards = followEntries(keyspace, to, f, tables);
}
