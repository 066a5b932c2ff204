// Reads a database's schema from a tablet: tables and views, their columns, primary keys and size estimates.

import { encodingForType, quoteId, quoteTable, type ValueEncoding } from './sql.ts';
import type { TabletClient } from './tablet-client.ts';

export interface ColumnDefinition {
  name: string;
  /** information_schema DATA_TYPE, lower case: `bigint`, `varchar`, … */
  dataType: string;
  /** Full COLUMN_TYPE: `bigint(20) unsigned`, `enum('a','b')`, … */
  columnType: string;
  encoding: ValueEncoding;
  /** Character set of a string column (null for others): a key literal must be in it to compare as the column does. */
  charset?: string | null;
}

export interface TableDefinition {
  name: string;
  kind: 'table' | 'view';
  /** SHOW CREATE TABLE / VIEW text as the source has it. */
  createSql: string;
  /** A view's definition with every table qualified `db`.`name` (information_schema.VIEWS), for what it reads. */
  viewDefinition?: string;
  /** Stored (non-generated) columns, in table order: what is read and written. */
  columns: ColumnDefinition[];
  /** Select-list expressions for `columns`, in the same order. */
  selectList: string[];
  primaryKey: string[];
  rowsEstimate: number;
  dataLength: number;
  indexLength: number;
}

/**
 * Tables in the order a copy or a diff takes them: the most bytes first (data and indexes: a table's copy and the
 * build of its delayed indexes grow with them), then the most rows, so that a small table, not a big one, is the
 * last to finish.
 */
export function largestFirst(tables: readonly TableDefinition[]): TableDefinition[] {
  return [...tables].sort((a, b) => b.dataLength + b.indexLength - (a.dataLength + a.indexLength) || b.rowsEstimate - a.rowsEstimate);
}

export interface SchemaDefinition {
  dbName: string;
  tables: TableDefinition[];
}

interface TableRow {
  name: string;
  type: string;
  rows: string | number | null;
  dataLength: string | number | null;
  indexLength: string | number | null;
}
interface ColumnRow {
  tableName: string;
  name: string;
  dataType: string;
  columnType: string;
  generated: string;
  charset: string | null;
}
interface KeyRow {
  tableName: string;
  name: string;
}

/**
 * FLOAT travels as text with 6 significant digits, which loses bits: read it as the DOUBLE it widens to exactly,
 * which the destination narrows back to the very same FLOAT.
 */
function selectExpression(column: ColumnDefinition): string {
  return column.dataType === 'float' ? `CAST(${quoteId(column.name)} AS DOUBLE)` : quoteId(column.name);
}

function readTableList(client: TabletClient, dbName: string): Promise<TableRow[]> {
  return client.query<TableRow[]>(
    'reading the table list',
    `SELECT TABLE_NAME AS name, TABLE_TYPE AS type, TABLE_ROWS AS \`rows\`, DATA_LENGTH AS dataLength, INDEX_LENGTH AS indexLength
       FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME`,
    [dbName],
  );
}

/** A table's or view's name and SHOW CREATE text. */
export interface CreateStatement {
  name: string;
  kind: 'table' | 'view';
  createSql: string;
}

/**
 * Every table's and view's definition, and nothing else readSchema reads (columns, keys): what a check of a copied
 * schema compares, at a fraction of the garbage (2,000 tables: the whole schema twice at once was the copy's peak of
 * memory).
 */
export async function readCreateStatements(client: TabletClient, dbName: string): Promise<CreateStatement[]> {
  const tables = await readTableList(client, dbName);
  const definitions = await showCreate(client, dbName, tables);
  return tables.map((t, i) => ({ name: t.name, kind: t.type === 'VIEW' ? 'view' : 'table', createSql: definitions[i] }));
}

export async function readSchema(client: TabletClient, dbName: string): Promise<SchemaDefinition> {
  const tables = await readTableList(client, dbName);
  const columns = await client.query<ColumnRow[]>(
    'reading columns',
    `SELECT TABLE_NAME AS tableName, COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, IS_GENERATED AS generated, CHARACTER_SET_NAME AS charset
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    [dbName],
  );
  const keys = await client.query<KeyRow[]>(
    'reading primary keys',
    `SELECT TABLE_NAME AS tableName, COLUMN_NAME AS name
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND INDEX_NAME = 'PRIMARY' ORDER BY TABLE_NAME, SEQ_IN_INDEX`,
    [dbName],
  );

  // SHOW CREATE VIEW leaves out the database of tables in the current one; this text never does.
  const viewDefinitions = new Map(
    (
      await client.query<{ name: string; definition: string }[]>(
        'reading view definitions',
        'SELECT TABLE_NAME AS name, VIEW_DEFINITION AS definition FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?',
        [dbName],
      )
    ).map((v) => [String(v.name), String(v.definition)]),
  );

  // By table once: filtering the whole list per table is quadratic (2,000 tables: 16 million comparisons).
  const columnsOf = groupBy(columns, (c) => c.tableName);
  const keysOf = groupBy(keys, (k) => k.tableName);
  const definitions = await showCreate(client, dbName, tables);
  const result: TableDefinition[] = [];
  for (const [i, t] of tables.entries()) {
    const kind = t.type === 'VIEW' ? 'view' : 'table';
    const createSql = definitions[i];
    const cols: ColumnDefinition[] = (columnsOf.get(t.name) ?? [])
      .filter((c) => c.generated !== 'ALWAYS')
      .map((c) => ({
        name: c.name,
        dataType: c.dataType.toLowerCase(),
        columnType: c.columnType,
        encoding: encodingForType(c.dataType),
        charset: c.charset === null ? null : String(c.charset),
      }));
    result.push({
      name: t.name,
      kind,
      createSql,
      ...(kind === 'view' ? { viewDefinition: viewDefinitions.get(t.name) ?? '' } : {}),
      columns: cols,
      selectList: cols.map(selectExpression),
      primaryKey: (keysOf.get(t.name) ?? []).map((k) => k.name),
      rowsEstimate: Number(t.rows ?? 0),
      dataLength: Number(t.dataLength ?? 0),
      indexLength: Number(t.indexLength ?? 0),
    });
  }
  return { dbName, tables: result };
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** SHOW CREATE statements per round trip: a schema of 2,000 tables is 20 round trips, not 2,000. */
const SHOW_CREATE_BATCH = 100;

/** Each table's or view's SHOW CREATE text, in the order of `tables`. */
async function showCreate(client: TabletClient, dbName: string, tables: readonly TableRow[]): Promise<string[]> {
  const out: string[] = [];
  for (let from = 0; from < tables.length; from += SHOW_CREATE_BATCH) {
    const batch = tables.slice(from, from + SHOW_CREATE_BATCH);
    const sql = batch.map((t) => `SHOW CREATE ${t.type === 'VIEW' ? 'VIEW' : 'TABLE'} ${quoteTable(dbName, t.name)}`).join('; ');
    const what =
      batch.length === 1 ? `reading the definition of ${batch[0].name}` : `reading the definitions of ${batch[0].name} … ${batch[batch.length - 1].name}`;
    const results = await client.query<Record<string, Buffer | string>[] | Record<string, Buffer | string>[][]>(what, sql);
    // One statement gives its rows; several give one result set each.
    const sets = (batch.length === 1 ? [results] : results) as Record<string, Buffer | string>[][];
    for (const rows of sets) out.push(String(Object.values(rows[0])[1]));
  }
  return out;
}

/** Live row count: the estimate can be far off for small or freshly loaded tables. */
export async function countRows(client: TabletClient, dbName: string, table: string): Promise<number> {
  const rows = await client.query<{ n: string | number }[]>(`counting rows of ${table}`, `SELECT COUNT(*) AS n FROM ${quoteTable(dbName, table)}`);
  return Number(rows[0].n);
}
