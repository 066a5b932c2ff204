// Pure SQL builders for the applier: a row change as statements on the destination, values written with
// binlogValueLiteral (the one exact form), rows found by their key from the before image. Tested by comparing strings.

import { binlogValueLiteral, type BinlogValue } from '../mysql/binlog/events.ts';
import { quoteId, quoteTable } from '../mysql/sql.ts';
import type { RowChange, TableShape } from './changes.ts';

const CHARSET_RE = /^[a-z0-9_]+$/i;

/** The written columns of a table: every column but the generated ones. */
function writtenIndexes(table: TableShape): number[] {
  const out: number[] = [];
  table.columns.forEach((c, i) => {
    if (!c.generated) out.push(i);
  });
  return out;
}

/** `(a,b,c)`: the values of a row's written columns. */
function rowValues(table: TableShape, row: readonly BinlogValue[]): string {
  let out = '(';
  let first = true;
  for (let i = 0; i < table.columns.length; i++) {
    if (table.columns[i].generated) continue;
    if (!first) out += ',';
    out += binlogValueLiteral(row[i]);
    first = false;
  }
  return out + ')';
}

/** One multi-row INSERT of consecutive inserts into one table. */
export function insertSql(table: TableShape, rows: readonly (readonly BinlogValue[])[]): string {
  if (rows.length === 0) throw new Error('an INSERT needs at least one row');
  const columns = writtenIndexes(table).map((i) => quoteId(table.columns[i].name)).join(',');
  return `INSERT INTO ${quoteTable(table.database, table.name)} (${columns}) VALUES ${rows.map((r) => rowValues(table, r)).join(',')}`;
}

/** A key value as a literal that compares as the column does: a string in its charset takes its collation (and index). */
function keyLiteral(table: TableShape, index: number, value: BinlogValue): string {
  const charset = table.columns[index].charset;
  if (Buffer.isBuffer(value) && value.length > 0 && charset && CHARSET_RE.test(charset)) return `_${charset} X'${value.toString('hex')}'`;
  return binlogValueLiteral(value);
}

/** `WHERE k1 = v1 AND …` from a before image; NULL (only in a table without a primary key) compared with <=>. */
function whereKey(table: TableShape, before: readonly BinlogValue[]): string {
  const terms = table.keyIndexes.map((i) => `${quoteId(table.columns[i].name)} ${before[i] === null ? '<=>' : '='} ${keyLiteral(table, i, before[i])}`);
  // Without a primary key, identical rows may exist twice: a change is to one of them.
  return ` WHERE ${terms.join(' AND ')}${table.hasPrimaryKey ? '' : ' LIMIT 1'}`;
}

export function updateSql(table: TableShape, before: readonly BinlogValue[], after: readonly BinlogValue[]): string {
  const sets = writtenIndexes(table).map((i) => `${quoteId(table.columns[i].name)}=${binlogValueLiteral(after[i])}`);
  return `UPDATE ${quoteTable(table.database, table.name)} SET ${sets.join(',')}${whereKey(table, before)}`;
}

export function deleteSql(table: TableShape, before: readonly BinlogValue[]): string {
  return `DELETE FROM ${quoteTable(table.database, table.name)}${whereKey(table, before)}`;
}

/** A row's key for an error message: `id=5, name=0x616263`, short. */
export function describeKey(table: TableShape, row: readonly BinlogValue[]): string {
  return table.keyIndexes.map((i) => `${table.columns[i].name}=${describeValue(row[i])}`).join(', ');
}

function describeValue(value: BinlogValue): string {
  if (value === null) return 'NULL';
  if (Buffer.isBuffer(value)) {
    const shown = value.subarray(0, 32);
    const text = /^[\x20-\x7e]*$/.test(shown.toString('latin1')) ? JSON.stringify(shown.toString('latin1')) : `0x${shown.toString('hex')}`;
    return value.length > shown.length ? `${text}… (${value.length} bytes)` : text;
  }
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** One statement of a planned apply and the rows it must affect (each change exactly one row). */
export interface PlannedStatement {
  sql: string;
  expectedRows: number;
}

/**
 * Changes as few statements as their order allows: consecutive inserts into one table share a multi-row INSERT
 * (up to `maxRows` rows or about `maxBytes` of text); updates and deletes are one statement each, by key.
 */
export function planStatements(changes: readonly RowChange[], maxRows = 500, maxBytes = 1 << 20): PlannedStatement[] {
  const out: PlannedStatement[] = [];
  let pending: { table: TableShape; rows: (readonly BinlogValue[])[]; bytes: number } | null = null;
  const flush = () => {
    if (pending) out.push({ sql: insertSql(pending.table, pending.rows), expectedRows: pending.rows.length });
    pending = null;
  };
  for (const change of changes) {
    if (change.kind === 'insert') {
      if (pending && (pending.table !== change.table || pending.rows.length >= maxRows || pending.bytes >= maxBytes)) flush();
      pending ??= { table: change.table, rows: [], bytes: 0 };
      pending.rows.push(change.after);
      pending.bytes += approximateBytes(change.after);
      continue;
    }
    flush();
    out.push({ sql: change.kind === 'update' ? updateSql(change.table, change.before, change.after) : deleteSql(change.table, change.before), expectedRows: 1 });
  }
  flush();
  return out;
}

/** One change alone: what the careful pass runs to name the change that does not apply. */
export function changeSql(change: RowChange): string {
  switch (change.kind) {
    case 'insert':
      return insertSql(change.table, [change.after]);
    case 'update':
      return updateSql(change.table, change.before, change.after);
    case 'delete':
      return deleteSql(change.table, change.before);
  }
}

function approximateBytes(row: readonly BinlogValue[]): number {
  let n = 0;
  for (const v of row) n += Buffer.isBuffer(v) ? 2 * v.length + 3 : 24;
  return n;
}
