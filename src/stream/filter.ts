// Which of a source's row changes belong to one destination, and as what (DESIGN.md "Filtered replication",
// Filtering). Pure: the tables are decided by the stream's scope, the rows by their keyspace id.

import { contains, isFull, type KeyRange } from '../keyrange/keyrange.ts';
import { UINT64_MAX, uint64KeyspaceId } from '../keyrange/keyspace-id.ts';
import { KeyRangeError } from '../keyrange/keyrange.ts';
import type { BinlogEvent, BinlogValue, RowImage } from '../mysql/wire/binlog/events.ts';
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

/**
 * Whether a sharding value's keyspace id is in `range`. For uint64 the bounds become numbers once, so a row costs a
 * comparison, not an 8-byte buffer; bounds longer than 8 bytes (never a uint64 shard's) take the general path.
 */
function keyTest(type: ShardingColumnType, range: KeyRange, column: string): (value: BinlogValue) => boolean {
  const general = (value: BinlogValue) => contains(range, keyspaceIdOf(type, value, column));
  if (type !== 'uint64' || range.start.length > 8 || range.end.length > 8) return general;
  // Padded with zeros to 8 bytes, as contains() compares: `80` is 0x8000000000000000.
  const padded = (b: Buffer) => (b.length === 0 ? null : BigInt(`0x${b.toString('hex').padEnd(16, '0')}`));
  const start = padded(range.start) ?? 0n;
  const end = padded(range.end);
  return (value) => {
    if (typeof value !== 'bigint' || value < 0n || value > UINT64_MAX) return general(value); // its error
    return value >= start && (end === null || value < end);
  };
}

/** Routes one rows event to the changes the destination takes, in order. */
export function routeRows(scope: StreamScope, shape: TableShape, event: RowsEvent): RowChange[] {
  const range = scope.keyRange && !isFull(scope.keyRange) ? scope.keyRange : null;
  let test: ((value: BinlogValue) => boolean) | null = null;
  if (range !== null) {
    const index = shape.shardingIndex;
    if (index === null) throw new KeyRangeError(`table ${shape.name} has no sharding column, so its rows cannot be routed`);
    test = keyTest(scope.shardingColumnType, range, shape.columns[index].name);
  }
  // Only the sharding column is decoded to decide; the rest of an image only for the rows that stay.
  const inRange = (image: RowImage, side: 'before' | 'after'): boolean => {
    if (test === null) return true;
    const index = shape.shardingIndex as number;
    if (image.column) return test(image.column(side, index));
    return test(images(image, side)[index]);
  };
  const images = (image: RowImage, side: 'before' | 'after'): BinlogValue[] => {
    const values = image[side];
    if (!values)
      throw new Error(`${event.change === 'insert' ? 'an' : 'a'} ${event.change} of ${shape.name} without ${side === 'after' ? 'an after' : 'a before'} image`);
    return values;
  };
  const out: RowChange[] = [];
  for (const image of event.rows) {
    switch (event.change) {
      case 'insert':
        if (inRange(image, 'after')) out.push({ kind: 'insert', table: shape, after: images(image, 'after') });
        break;
      case 'delete':
        if (inRange(image, 'before')) out.push({ kind: 'delete', table: shape, before: images(image, 'before') });
        break;
      case 'update': {
        const was = inRange(image, 'before');
        const is = inRange(image, 'after');
        // A row whose sharding value moves it across ranges leaves one destination and arrives at another.
        if (was && is) out.push({ kind: 'update', table: shape, before: images(image, 'before'), after: images(image, 'after') });
        else if (was) out.push({ kind: 'delete', table: shape, before: images(image, 'before') });
        else if (is) out.push({ kind: 'insert', table: shape, after: images(image, 'after') });
        break;
      }
    }
  }
  return out;
}
