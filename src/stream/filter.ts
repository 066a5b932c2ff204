// Which of a source's row changes belong to one destination, and as what (DESIGN.md "Filtered replication",
// Filtering). Pure: the tables are decided by the stream's scope, the rows by their keyspace id.

import { contains, isFull, type KeyRange } from '../keyrange/keyrange.ts';
import { uint64KeyspaceId } from '../keyrange/keyspace-id.ts';
import { KeyRangeError } from '../keyrange/keyrange.ts';
import type { BinlogEvent, BinlogValue } from '../mysql/wire/binlog/events.ts';
import type { ShardingColumnType } from '../topology/types.ts';
import type { RowChange, TableShape } from './changes.ts';

export type RowsEvent = Extract<BinlogEvent, { type: 'rows' }>;

/** What a stream carries: tables of one source database, and for a split the rows of one key range. */
export interface StreamScope {
  sourceDatabase: string;
  /** The streamed tables; null for every table of the database (a split without a recorded list). */
  tables: ReadonlySet<string> | null;
  /** The destination's key range for a split; null when every row goes (a vertical stream). */
  keyRange: KeyRange | null;
  shardingColumnType: ShardingColumnType;
}

export function streamsTable(scope: StreamScope, database: string, table: string): boolean {
  if (database !== scope.sourceDatabase) return false;
  return scope.tables === null ? true : scope.tables.has(table);
}

/** The keyspace id of a sharding value as a row image carries it (as the copy's router: uint64 big-endian, bytes raw). */
export function keyspaceIdOf(type: ShardingColumnType, value: BinlogValue, column: string): Buffer {
  if (type === 'uint64') {
    if (typeof value === 'bigint') return uint64KeyspaceId(value);
    throw new KeyRangeError(`sharding column ${column} holds ${value === null ? 'NULL' : typeof value}, not an unsigned 64-bit integer`);
  }
  if (Buffer.isBuffer(value)) return value;
  throw new KeyRangeError(`sharding column ${column} holds ${value === null ? 'NULL' : typeof value}, not bytes`);
}

/** Routes one rows event to the changes the destination takes, in order. */
export function routeRows(scope: StreamScope, shape: TableShape, event: RowsEvent): RowChange[] {
  const range = scope.keyRange && !isFull(scope.keyRange) ? scope.keyRange : null;
  const inRange = (row: readonly BinlogValue[]): boolean => {
    if (range === null) return true;
    if (shape.shardingIndex === null) throw new KeyRangeError(`table ${shape.name} has no sharding column, so its rows cannot be routed`);
    return contains(range, keyspaceIdOf(scope.shardingColumnType, row[shape.shardingIndex], shape.columns[shape.shardingIndex].name));
  };
  const out: RowChange[] = [];
  for (const image of event.rows) {
    const { before, after } = image;
    switch (event.change) {
      case 'insert':
        if (!after) throw new Error(`an insert into ${shape.name} without an after image`);
        if (inRange(after)) out.push({ kind: 'insert', table: shape, after });
        break;
      case 'delete':
        if (!before) throw new Error(`a delete from ${shape.name} without a before image`);
        if (inRange(before)) out.push({ kind: 'delete', table: shape, before });
        break;
      case 'update': {
        if (!before || !after) throw new Error(`an update of ${shape.name} without both images`);
        const was = inRange(before);
        const is = inRange(after);
        // A row whose sharding value moves it across ranges leaves one destination and arrives at another.
        if (was && is) out.push({ kind: 'update', table: shape, before, after });
        else if (was) out.push({ kind: 'delete', table: shape, before });
        else if (is) out.push({ kind: 'insert', table: shape, after });
        break;
      }
    }
  }
  return out;
}
