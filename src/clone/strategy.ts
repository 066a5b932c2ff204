// What makes the one pipeline SplitClone or VerticalSplitClone (and the diffs SplitDiff or VerticalSplitDiff):
// which shards, which tables, where each row goes.

import type { KeyRange } from '../keyrange/keyrange.ts';
import type { SchemaDefinition, TableDefinition } from '../mysql/schema.ts';
import type { SourceShard, Topology } from '../topology/types.ts';
import type { RowRouter } from '../pipeline/contracts.ts';

export interface ShardTarget {
  keyspace: string;
  shard: string;
  keyRange: KeyRange;
  /**
   * For a source: its uid in `_vt.blp_checkpoint` and `sourceShards`, its place among all the split's sources
   * (a diff of one destination reads only some of them, and must still find their checkpoint rows).
   */
  uid: number;
}

export interface CloneTargets {
  sources: ShardTarget[];
  destinations: ShardTarget[];
}

export interface DestinationRows {
  /**
   * SQL condition on the source's rows that keeps them ('' when every row may be the destinations'). Rows the
   * router would refuse (a NULL sharding column) must still pass, so that the refusal happens.
   */
  condition: string;
  /** The part of the source's rows that are expected to pass, 0 to 1: what a diff's progress counts on reading. */
  share: number;
}

export interface CopyStrategy {
  /** Source and destination shards, as the topology has them now. Throws naming what is wrong. */
  resolveTargets(topo: Topology): CloneTargets;
  /** The tables and views to copy, from the source schema. Throws naming a table that cannot be copied. */
  pickTables(schema: SchemaDefinition): TableDefinition[];
  /** The router for rows of `table` read from source `sourceIndex`, over `targets.destinations`. */
  routerFor(table: TableDefinition, targets: CloneTargets, sourceIndex: number): RowRouter;
  /**
   * SQL condition on a destination table's rows that came from source `sourceIndex` ('' when every row did): a
   * resumed copy removes a chunk's rows of that source only, leaving the other sources' rows of the same keys.
   */
  sourceRowsCondition(table: TableDefinition, targets: CloneTargets, sourceIndex: number): string;
  /**
   * The rows of source `sourceIndex` the destinations may hold: a diff of one destination of a split reads only
   * those, as vtworker's SplitDiff did (TableScanByKeyRange), rather than reading every row and dropping the rest.
   */
  destinationRows(table: TableDefinition, targets: CloneTargets, sourceIndex: number): DestinationRows;
  /** What to record as `sourceShards` on destination `destIndex`. */
  sourceShardsFor(targets: CloneTargets, destIndex: number, tables: TableDefinition[]): SourceShard[];
}
