// Pure SQL builders for the applier: a row change as statements on the destination, values written with
// binlogValueLiteral (the one exact form), rows found by their key from the before image. Tested by comparing strings.

import { binlogValueLiteral, type BinlogValue } from '../mysql/wire/binlog/events.ts';
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
  const columns = writtenIndexes(table)
    .map((i) => quoteId(table.columns[i].name))
    .join(',');
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
 * Changes as few statements as `batchOrder` allows, each statement's row count proving every change found exactly
 * its row: consecutive inserts into one table share a multi-row INSERT; consecutive deletes from a table with a
 * primary key share a DELETE by their keys, and consecutive updates that keep their key share a joined UPDATE
 * (`batchableUpdate`), both only over distinct keys, so that the count they must affect is one per key. Up to
 * `maxRows` rows or about `maxBytes` of text a statement; anything else is one statement, by key.
 */
export function planStatements(changes: readonly RowChange[], maxRows = 500, maxBytes = 1 << 20): PlannedStatement[] {
  return planInOrder(batchOrder(changes), maxRows, maxBytes);
}

/** Kinds in the order an epoch runs them: what frees a unique value comes before what may take it. */
const PHASE: Record<RowChange['kind'], number> = { delete: 0, update: 1, insert: 2 };

/** Adds the keys (before and after) a change touches to its table's set; whether one was in it already. */
function touch(keys: Map<TableShape, Set<string | number | bigint>>, change: RowChange): boolean {
  let set = keys.get(change.table);
  if (!set) keys.set(change.table, (set = new Set()));
  const add = (row: readonly BinlogValue[]) => {
    const key = keyOf(change.table, row);
    const seen = set.has(key);
    set.add(key);
    return seen;
  };
  switch (change.kind) {
    case 'insert':
      return add(change.after);
    case 'delete':
      return add(change.before);
    case 'update': {
      const before = add(change.before);
      return keyOf(change.table, change.before) === keyOf(change.table, change.after) ? before : add(change.after) || before;
    }
  }
}

/**
 * The group's changes in an order that batches well and lands the same rows: cut into epochs, each the longest run
 * of changes that touch distinct keys (a key touched again starts the next epoch, so every key's changes keep
 * their order); inside an epoch, deletes, then updates, then inserts, each kind by table in order of first
 * appearance, source order kept within. Changes to distinct primary keys commute, but for unique secondary keys:
 * deletes first and inserts last keep any order the source could commit; what else collides fails the batch and
 * the applier's careful pass (source order, one change at a time) applies it exactly or names it. A change to a
 * table without a primary key is an epoch of its own (identical rows cannot be told apart).
 */
export function batchOrder(changes: readonly RowChange[]): RowChange[] {
  const out: RowChange[] = [];
  let epoch: RowChange[] = [];
  const keys = new Map<TableShape, Set<string | number | bigint>>();
  const tables = new Map<TableShape, number>();
  const close = () => {
    if (epoch.length === 0) return;
    for (const c of epoch) if (!tables.has(c.table)) tables.set(c.table, tables.size);
    const rank = (c: RowChange) => PHASE[c.kind] * 1_000_000 + tables.get(c.table)!;
    // Array.prototype.sort is stable: source order stays within a (kind, table).
    out.push(...epoch.sort((a, b) => rank(a) - rank(b)));
    epoch = [];
    keys.clear();
    tables.clear();
  };
  for (const change of changes) {
    if (!change.table.hasPrimaryKey) {
      close();
      out.push(change);
      continue;
    }
    if (touch(keys, change)) {
      // A key seen in this epoch: the epoch ends before the change, which opens the next one.
      close();
      touch(keys, change);
    }
    epoch.push(change);
  }
  close();
  return out;
}

/** `planStatements` without the reordering: changes batched as they come. */
export function planInOrder(changes: readonly RowChange[], maxRows = 500, maxBytes = 1 << 20): PlannedStatement[] {
  const out: PlannedStatement[] = [];
  let pending: {
    kind: RowChange['kind'];
    table: TableShape;
    rows: (readonly BinlogValue[])[];
    afters: (readonly BinlogValue[])[];
    keys: Set<string | number | bigint>;
    bytes: number;
  } | null = null;
  const flush = () => {
    if (!pending) return;
    const { kind, table, rows, afters } = pending;
    const sql = kind === 'insert' ? insertSql(table, rows) : kind === 'delete' ? deleteManySql(table, rows) : updateManySql(table, rows, afters);
    out.push({ sql, expectedRows: rows.length });
    pending = null;
  };
  for (const change of changes) {
    const alone =
      change.kind === 'update' ? !batchableUpdate(change.table, change.before, change.after) : change.kind === 'delete' && !change.table.hasPrimaryKey;
    if (alone) {
      flush();
      out.push({ sql: changeSql(change), expectedRows: 1 });
      continue;
    }
    const image = change.kind === 'insert' ? change.after : change.before;
    const key = change.kind === 'insert' ? '' : keyOf(change.table, image);
    if (
      pending
      && (pending.kind !== change.kind
        || pending.table !== change.table
        || pending.rows.length >= maxRows
        || pending.bytes >= maxBytes
        || pending.keys.has(key))
    )
      flush();
    pending ??= { kind: change.kind, table: change.table, rows: [], afters: [], keys: new Set(), bytes: 0 };
    pending.rows.push(image);
    if (change.kind === 'update') pending.afters.push(change.after);
    if (change.kind !== 'insert') pending.keys.add(key);
    pending.bytes += approximateBytes(image) * (change.kind === 'update' ? 2 : 1);
  }
  flush();
  return out;
}

/**
 * Whether an update can share a joined UPDATE: a primary key that it keeps (no row changes its key while others are
 * looked up by theirs), on columns without a collation (numbers, binary), so the join compares keys exactly as
 * the index does.
 */
export function batchableUpdate(table: TableShape, before: readonly BinlogValue[], after: readonly BinlogValue[]): boolean {
  if (!table.hasPrimaryKey || table.keyIndexes.length >= writtenIndexes(table).length) return false;
  for (const i of table.keyIndexes) if (table.columns[i].charset !== null || table.columns[i].generated) return false;
  return keyOf(table, before) === keyOf(table, after);
}

/**
 * Updates rows by key in one statement: the table joined on its key with a derived table of the new values
 * (`SELECT … UNION ALL SELECT …`). Each value is the same literal a single UPDATE would write, assigned to its
 * column from the derived table, so it lands as exactly.
 */
export function updateManySql(table: TableShape, befores: readonly (readonly BinlogValue[])[], afters: readonly (readonly BinlogValue[])[]): string {
  if (befores.length === 1) return updateSql(table, befores[0], afters[0]);
  const keys = new Set(table.keyIndexes);
  const written = writtenIndexes(table).filter((i) => !keys.has(i));
  const selects = befores.map((before, r) => {
    const keyValues = table.keyIndexes.map((i) => binlogValueLiteral(before[i]) + (r === 0 ? ` AS \`k${i}\`` : ''));
    const values = written.map((i) => binlogValueLiteral(afters[r][i]) + (r === 0 ? ` AS \`c${i}\`` : ''));
    return `SELECT ${[...keyValues, ...values].join(',')}`;
  });
  const on = table.keyIndexes.map((i) => `\`_t\`.${quoteId(table.columns[i].name)} = \`_v\`.\`k${i}\``).join(' AND ');
  const sets = written.map((i) => `\`_t\`.${quoteId(table.columns[i].name)}=\`_v\`.\`c${i}\``).join(',');
  return `UPDATE ${quoteTable(table.database, table.name)} AS \`_t\` JOIN (${selects.join(' UNION ALL ')}) AS \`_v\` ON ${on} SET ${sets}`;
}

/** Deletes rows of a table with a primary key by their keys, in one statement. */
export function deleteManySql(table: TableShape, befores: readonly (readonly BinlogValue[])[]): string {
  if (befores.length === 1) return deleteSql(table, befores[0]);
  const one = (before: readonly BinlogValue[]) =>
    table.keyIndexes.map((i) => `${quoteId(table.columns[i].name)} = ${keyLiteral(table, i, before[i])}`).join(' AND ');
  const where =
    table.keyIndexes.length === 1
      ? `${quoteId(table.columns[table.keyIndexes[0]].name)} IN (${befores.map((b) => keyLiteral(table, table.keyIndexes[0], b[table.keyIndexes[0]])).join(',')})`
      : befores.map((b) => `(${one(b)})`).join(' OR ');
  return `DELETE FROM ${quoteTable(table.database, table.name)} WHERE ${where}`;
}

/**
 * A key's identity within one table, cheap to make and to compare in a Set: a one-column number key is its value,
 * anything else its text.
 */
function keyOf(table: TableShape, row: readonly BinlogValue[]): string | number | bigint {
  if (table.keyIndexes.length === 1) {
    const v = row[table.keyIndexes[0]];
    if (typeof v === 'bigint' || typeof v === 'number') return v;
  }
  return keyText(table, row);
}

/** A key's identity within one statement plan (distinct keys are what make a shared DELETE's count exact). */
function keyText(table: TableShape, row: readonly BinlogValue[]): string {
  return table.keyIndexes
    .map((i) => {
      const v = row[i];
      return Buffer.isBuffer(v) ? `x${v.toString('hex')}` : `${typeof v}:${String(v)}`;
    })
    .join('|');
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
