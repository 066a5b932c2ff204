// SplitClone and SplitDiff: every table of the source shard(s), each row to the destination shard holding its
// keyspace id.

import { keyRangeCondition, quoteId } from '../mysql/sql.ts';
import { checkExactCover, intersects, keyRangeShare, keyRangeToString, parseShardName, type KeyRange } from '../keyrange/keyrange.ts';
import { notUint64 } from '../keyrange/keyspace-id.ts';
import { makeKeyspaceIdRouter, makeUint64HalvesRouter } from '../keyrange/row-router.ts';
import { integerWidth, isUnsigned, LENGTH_CODED } from '../mysql/wire/binary-row.ts';
import type { SchemaDefinition, TableDefinition } from '../mysql/schema.ts';
import { TopologyError } from '../topology/errors.ts';
import { findSplitShards, isServing, keyspaceOf, shardOf, sourceShardsOf, splitOnRecord } from '../topology/shards.ts';
import type { ShardingColumnType, SourceShard, Topology } from '../topology/types.ts';
import type { RowRouter } from '../pipeline/contracts.ts';
import type { CloneTargets, CopyStrategy, DestinationRows, ShardTarget } from './strategy.ts';
import { pickTablesAndViews, type IncludeFilter } from './table-pick.ts';

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

/** The part of `a` inside `b` (empty when they do not meet: start = end, a non-empty bound, as empty ones mean the ends). */
function intersection(a: KeyRange, b: KeyRange): KeyRange {
  if (!intersects(a, b)) {
    // Two ranges that do not meet cannot both start at the lowest id.
    const at = a.start.length > 0 ? a.start : b.start;
    return { start: at, end: at };
  }
  return { start: maxStart(a.start, b.start), end: minEnd(a.end, b.end) };
}

/** Which shard names the split: a source (SplitClone) or one destination (SplitDiff). */
export type NamedShard = 'source' | 'destination';

export class SplitStrategy implements CopyStrategy {
  readonly #keyspace: string;
  readonly #shard: string;
  readonly #excludeTables: string[];
  readonly #named: NamedShard;
  /** `--tables`: a filter (none when empty). */
  readonly #tables: string[];
  #column = '';
  #columnType: ShardingColumnType = 'uint64';
  /** Named by a destination: the tables and views its clone copied, from its sourceShards (empty: not on record). */
  #copied: string[] = [];

  constructor(keyspace: string, shard: string, excludeTables: string[], named: NamedShard = 'source', tables: string[] = []) {
    this.#keyspace = keyspace;
    this.#shard = shard;
    this.#excludeTables = excludeTables;
    this.#named = named;
    this.#tables = tables;
  }

  /**
   * Named by a source: every source and destination of the split. Named by a destination: that destination alone,
   * and the sources overlapping it (keeping the uids they have in the whole split).
   */
  resolveTargets(topo: Topology): CloneTargets {
    const { sources, destinations } = this.#split(topo);
    const ks = topo.keyspaces[this.#keyspace];
    if (!ks.shardingColumnName || !ks.shardingColumnType)
      throw new ShardingColumnError(`keyspace ${this.#keyspace} has no sharding column configured (shardingColumnName and shardingColumnType)`);
    this.#column = ks.shardingColumnName;
    this.#columnType = ks.shardingColumnType;
    const target = (shard: string, uid: number): ShardTarget => ({ keyspace: this.#keyspace, shard, keyRange: parseShardName(shard), uid });
    const all = { sources: sources.map(target), destinations: destinations.map(target) };
    if (this.#named === 'source') return all;
    const dest = all.destinations.find((d) => d.shard === this.#shard);
    if (!dest) throw new TopologyError(`shard ${this.#keyspace}/${this.#shard} is not a destination of the split of ${sources.join(', ')}`);
    // What the clone copied is on record with the shard (docs/topology.md "sourceShards"); a clone from before that,
    // or one run with -skip_set_source_shards, left none, and then every table is compared.
    this.#copied = [...new Set((ks.shards[this.#shard].sourceShards ?? []).flatMap((s) => s.tables))];
    return { sources: all.sources.filter((s) => intersects(s.keyRange, dest.keyRange)), destinations: [dest] };
  }

  /**
   * The whole split. Once a clone has recorded it, through sourceShards (the record holds while a cutover moves
   * rdonly and replica, when servedTypes no longer tell the destinations from the sources); before, by servedTypes
   * and key ranges.
   */
  #split(topo: Topology): { sources: string[]; destinations: string[] } {
    if (this.#named === 'source') return splitOnRecord(topo, this.#keyspace, this.#shard) ?? findSplitShards(topo, this.#keyspace, this.#shard);
    const listed = sourceShardsOf(topo, this.#keyspace, this.#shard);
    const onRecord = listed.length ? splitOnRecord(topo, this.#keyspace, listed[0]) : null;
    if (onRecord) {
      const serving = onRecord.destinations.filter((d) => shardOf(topo, this.#keyspace, d).servedTypes.includes('primary'));
      if (serving.length) throw new TopologyError(`shard ${this.#keyspace}/${serving[0]} serves primary, so it is no split destination to diff`);
      return onRecord;
    }
    return findSplitShards(topo, this.#keyspace, this.#servingShardOver(topo));
  }

  /** A serving shard overlapping the named destination, from which findSplitShards finds the whole split. */
  #servingShardOver(topo: Topology): string {
    const ks = keyspaceOf(topo, this.#keyspace);
    const shard = shardOf(topo, this.#keyspace, this.#shard);
    if (isServing(shard)) throw new TopologyError(`shard ${this.#keyspace}/${this.#shard} is serving, so it is no split destination to diff`);
    const range = parseShardName(this.#shard);
    const over = Object.keys(ks.shards).find((name) => isServing(ks.shards[name]) && intersects(parseShardName(name), range));
    if (over === undefined) throw new TopologyError(`shard ${this.#keyspace}/${this.#shard}: no serving shard overlaps it, so nothing is its source`);
    return over;
  }

  /**
   * A clone: every table of the source, or those --tables selects, minus --exclude-tables, and the views over them.
   * A diff: the same, from the tables its clone copied when they are on record.
   */
  pickTables(schema: SchemaDefinition): TableDefinition[] {
    const includes: IncludeFilter[] = [];
    if (this.#copied.length) includes.push({ patterns: this.#copied, from: 'of the source (it is on record as copied, in sourceShards)' });
    if (this.#tables.length) includes.push({ patterns: this.#tables, from: this.#copied.length ? 'the clone copied' : 'of the source' });
    const picked = pickTablesAndViews(schema, includes, this.#excludeTables);
    for (const table of picked) {
      if (table.kind === 'table' && !table.columns.some((c) => c.name === this.#column)) {
        throw new ShardingColumnError(`table ${table.name} has no sharding column ${this.#column}: add it, or leave the table out with --exclude-tables`);
      }
    }
    return picked;
  }

  sourceRowsCondition(_table: TableDefinition, targets: CloneTargets, sourceIndex: number): string {
    return targets.sources.length === 1 ? '' : keyRangeCondition(this.#column, this.#columnType, targets.sources[sourceIndex].keyRange);
  }

  destinationRows(_table: TableDefinition, targets: CloneTargets, sourceIndex: number): DestinationRows {
    const source = targets.sources[sourceIndex].keyRange;
    const ranges = targets.destinations.filter((d) => intersects(d.keyRange, source)).map((d) => intersection(d.keyRange, source));
    // The destinations hold the whole source range (a clone's --verify): every row is read anyway.
    if (checkExactCover([source], ranges) === null) return { condition: '', share: 1 };
    const terms = ranges.map((r) => keyRangeCondition(this.#column, this.#columnType, r)).filter((c) => c !== '');
    const whole = keyRangeShare(source);
    return {
      condition: `(${[...terms.map((t) => `(${t})`), `${quoteId(this.#column)} IS NULL`].join(' OR ')})`,
      share: whole > 0 ? Math.min(1, ranges.reduce((sum, r) => sum + keyRangeShare(r), 0) / whole) : 1,
    };
  }

  routerFor(table: TableDefinition, targets: CloneTargets, sourceIndex: number): RowRouter {
    const column = table.columns.findIndex((c) => c.name === this.#column);
    // A row outside its own source shard's range (left over from an earlier split) is not this copy's to move.
    const source = targets.sources[sourceIndex].keyRange;
    const ranges = targets.destinations.map((d) => intersection(d.keyRange, source));
    const route = makeKeyspaceIdRouter(this.#columnType, ranges);
    const nullKey = () => new ShardingColumnError(`table ${table.name} has a row whose sharding column ${this.#column} is NULL`);
    const router: RowRouter = (row) => {
      const value = row[column];
      if (value === null) throw nullKey();
      return route(value);
    };
    const halves = this.#columnType === 'uint64' ? makeUint64HalvesRouter(ranges) : null;
    router.raw = (row) => {
      const s = row.start[column];
      if (s < 0) throw nullKey();
      const layout = row.layout;
      if (layout === null || layout.widths[column] === LENGTH_CODED) return route(row.buffer, s, row.end[column]);
      const width = halves ? integerWidth(layout, column) : 0;
      if (width === 0) {
        // Not a binary integer, or not routed as one: as its text (slow, and not a keyspace id column's type).
        const text = row.value(column)!;
        return route(text, 0, text.length);
      }
      const buf = row.buffer;
      const unsigned = isUnsigned(layout, column);
      if (width === 8) {
        const hi = uint32At(buf, s + 4);
        if (!unsigned && hi >= 0x80000000) throw notUint64(row.value(column)!);
        return halves!(hi, uint32At(buf, s));
      }
      const v =
        width === 4
          ? unsigned
            ? uint32At(buf, s)
            : buf.readInt32LE(s)
          : width === 2
            ? unsigned
              ? buf.readUInt16LE(s)
              : buf.readInt16LE(s)
            : unsigned
              ? buf[s]
              : buf.readInt8(s);
      if (v < 0) throw notUint64(row.value(column)!);
      return halves!(0, v);
    };
    return router;
  }

  /** With the names of the tables and views copied, so that a SplitDiff (and the stream) take exactly those. */
  sourceShardsFor(targets: CloneTargets, destIndex: number, tables: TableDefinition[]): SourceShard[] {
    const dest = targets.destinations[destIndex].keyRange;
    const copied = tables.map((t) => t.name);
    return targets.sources.flatMap((s) =>
      intersects(s.keyRange, dest) ? [{ uid: s.uid, keyspace: s.keyspace, shard: s.shard, keyRange: keyRangeToString(s.keyRange), tables: [...copied] }] : [],
    );
  }
}

/** The little-endian uint32 at `i` (Buffer's readUInt32LE is not inlined here, and its result is boxed per row). */
function uint32At(buf: Buffer, i: number): number {
  return (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) >>> 0;
}
