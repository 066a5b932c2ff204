// Reads a table back for byte-for-byte comparison, independently of the worker's own reading code:
// each value as hex of its bytes (strings, binary, temporal, BIT, JSON, ENUM/SET) or as exact text (numbers).

import type { Endpoint } from '../../src/sandbox/index.ts';
import { sql } from './cluster.ts';

const NUMERIC = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'bigint', 'decimal', 'double', 'year']);

function expression(column: string, dataType: string): string {
  const q = '`' + column.replace(/`/g, '``') + '`';
  if (dataType === 'float') return `IFNULL(CAST(${q} AS DOUBLE), 'NULL')`;
  if (NUMERIC.has(dataType)) return `IFNULL(${q}, 'NULL')`;
  return `IFNULL(HEX(${q}), 'NULL')`;
}

/** Every row of the table as one string, keyed by its primary key text; sorted. */
export async function readRows(at: Endpoint, db: string, table: string): Promise<Map<string, string>> {
  const cols = (await sql(
    at,
    'SELECT COLUMN_NAME AS c, DATA_TYPE AS t, COLUMN_KEY AS k FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [db, table],
  )) as {
    c: string;
    t: string;
    k: string;
  }[];
  if (cols.length === 0) throw new Error(`${db}.${table} does not exist on port ${at.port}`);
  const pk = cols.filter((c) => c.k === 'PRI').map((c) => expression(c.c, c.t));
  const all = cols.map((c) => expression(c.c, c.t));
  const rows = await sql(
    at,
    `SELECT CONCAT_WS('|', ${pk.length ? pk.join(',') : all.join(',')}) AS k, CONCAT_WS('|', ${all.join(',')}) AS v FROM \`${db}\`.\`${table.replace(/`/g, '``')}\``,
  );
  const out = new Map<string, string>();
  for (const r of rows) {
    const key = String(r.k);
    if (out.has(key)) throw new Error(`duplicate key ${key} in ${db}.${table} on port ${at.port}`);
    out.set(key, String(r.v));
  }
  return out;
}
