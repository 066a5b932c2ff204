// SplitClone: every table of the source shard(s), each row to the destination shard holding its keyspace id.

import { intersects, keyRangeToString, parseShardName, type KeyRange } from '../keyrange/keyrange.ts';
import { makeKeyspaceIdRouter } from '../keyrange/row-router.ts';
import type { SchemaDefinition, TableDefinition } from '../mysql/schema.ts';
import { findSplitShards } from '../topology/shards.ts';
import type { ShardingColumnType, SourceShard, Topology } from '../topology/types.ts';
import type { RowRouter } from './copier.ts';
import type { CloneTargets, CopyStrategy } from './strategy.ts';
import { filterTables } from './table-filter.ts';

export class ShardingColumnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShardingColumnError';
  }
}

function maxStart(a: Buffer, b: Buffer): Buffer {
  return Buffer.compare(a, b) >= 0 ? a : b;
}

function minEnd(a: Buffer, b: Buffer): Buffer {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return Buffer.compare(a, b) <= 0 ? a : b;
}

/** The part of `a` inside `b` (empty when they do not meet: start = end). */
function intersection(a: KeyRange, b: KeyRange): KeyRange {
  if (!intersects(a, b)) return { start: a.start, end: a.start };
  return { start: maxStart(a.start, b.start), end: minEnd(a.end, b.end) };
}

export class SplitStrategy implements CopyStrategy {
  readonly #keyspace: string;
  readonly #shard: string;
  readonly #excludeTables: string[];
  #column = '';
  #columnType: ShardingColumnType = 'uint64';

  constructor(keyspace: string, shard: string, excludeTables: string[]) {
    this.#keyspace = keyspace;
    this.#shard = shard;
    this.#excludeTables = excludeTables;
  }

  resolveTargets(topo: Topology): CloneTargets {
    const { sources, destinations } = findSplitShards(topo, this.#keyspace, this.#shard);
    const ks = topo.keyspaces[this.#keyspace];
    if (!ks.shardingColumnName || !ks.shardingColumnType) throw new ShardingColumnError(`keyspace ${this.#keyspace} has no sharding column configured (shardingColumnName and shardingColumnType)`);
    this.#column = ks.shardingColumnName;
    this.#columnType = ks.shardingColumnType;
    const target = (shard: string) => ({ keyspace: this.#keyspace, shard, keyRange: parseShardName(shard) });
    return { sources: sources.map(target), destinations: destinations.map(target) };
  }

  pickTables(schema: SchemaDefinition): TableDefinition[] {
    const names = filterTables(schema.tables.map((t) => t.name), null, this.#excludeTables);
    const picked = schema.tables.filter((t) => names.includes(t.name));
    for (const table of picked) {
      if (table.kind === 'table' && !table.columns.some((c) => c.name === this.#column)) {
        throw new ShardingColumnError(`table ${table.name} has no sharding column ${this.#column}: add it, or leave the table out with --exclude-tables`);
      }
    }
    return picked;
  }

  routerFor(table: TableDefinition, targets: CloneTargets, sourceIndex: number): RowRouter {
    const column = table.columns.findIndex((c) => c.name === this.#column);
    // A row outside its own source shard's range (left over from an earlier split) is not this copy's to move.
    const source = targets.sources[sourceIndex].keyRange;
    const route = makeKeyspaceIdRouter(this.#columnType, targets.destinations.map((d) => intersection(d.keyRange, source)));
    return (row) => {
      const value = row[column];
      if (value === null) throw new ShardingColumnError(`table ${table.name} has a row whose sharding column ${this.#column} is NULL`);
      return route(value);
    };
  }

  sourceShardsFor(targets: CloneTargets, destIndex: number): SourceShard[] {
    const dest = targets.destinations[destIndex].keyRange;
    return targets.sources.flatMap((s, uid) =>
      intersects(s.keyRange, dest) ? [{ uid, keyspace: s.keyspace, shard: s.shard, keyRange: keyRangeToString(s.keyRange), tables: [] }] : [],
    );
  }
}
