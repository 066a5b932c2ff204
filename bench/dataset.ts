// The bench data: table definitions, their generation on the source rdonly, and per-shard checksums that every
// contender's result is verified against.

import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { AdminConnection as Connection } from '../src/mysql/admin-connection.ts';
import { parseShardName } from '../src/keyrange/keyrange.ts';
import { uint64Threshold } from '../src/keyrange/row-router.ts';
import { quoteId } from '../src/mysql/sql.ts';
import { withConnection, type Endpoint } from '../src/sandbox/index.ts';
import type { BenchMode } from './args.ts';

export interface BenchTable {
  name: string;
  rows: number;
  /** Column name → checksum expression (exact text for numbers, hex for the rest). */
  columns: [string, 'number' | 'bytes'][];
  /** CREATE TABLE without the secondary index, and the ALTER that adds it (what the ingest-limit load does). */
  createBase: string;
  addIndex: string | null;
  /** INSERT … SELECT of ids [from, to]. */
  insert(from: number, to: number): string;
}

export interface Dataset {
  /** The dataset's name: a mode, or a shape of the shapes mode (names its saved checksums). */
  mode: string;
  db: string;
  rows: number;
  tables: BenchTable[];
}

const ksid = (expr: string): string => `CAST(CONV(SUBSTRING(MD5(${expr}), 1, 16), 16, 10) AS UNSIGNED)`;
// About 100 bytes of text; every 97th row also carries the bytes LOAD DATA must escape (tab, backslash, newline,
// NUL) and multi-byte UTF-8.
const text = (label: string, expr: string): string =>
  `CONCAT('${label} ', ${expr}, ' ', REPEAT(SUBSTRING(MD5(${expr}), 1, 16), 5), IF(${expr} % 97 = 0, CHAR(9, 92, 10, 0, 195, 169, 240, 159, 152, 128 USING utf8mb4), ''))`;
const micros = (expr: string): string =>
  `TIMESTAMP('2020-01-01 00:00:00') + INTERVAL (${expr} * 7919) % 157680000 SECOND + INTERVAL (${expr} * 104729) % 1000000 MICROSECOND`;

export function dataset(mode: BenchMode, rows: number): Dataset {
  if (mode === 'flat') {
    return {
      mode,
      rows,
      db: 'bench_flat',
      tables: [
        {
          name: 'events',
          rows,
          columns: [
            ['id', 'number'],
            ['keyspace_id', 'number'],
            ['kind', 'number'],
            ['payload', 'bytes'],
            ['at', 'bytes'],
          ],
          createBase: `CREATE TABLE events (id BIGINT NOT NULL, keyspace_id BIGINT UNSIGNED NOT NULL, kind TINYINT NOT NULL,
          payload VARCHAR(200) CHARACTER SET utf8mb4 NOT NULL, at DATETIME(6) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
          addIndex: 'ALTER TABLE events ADD KEY idx_at (at)',
          insert: (from, to) => `INSERT INTO events SELECT seq, ${ksid('seq')}, seq % 7, ${text('event', 'seq')}, ${micros('seq')} FROM seq_${from}_to_${to}`,
        },
      ],
    };
  }
  const customers = Math.floor(rows / 2);
  const orders = rows - customers;
  return {
    mode,
    rows,
    db: 'bench',
    tables: [
      {
        name: 'customer',
        rows: customers,
        columns: [
          ['id', 'number'],
          ['keyspace_id', 'number'],
          ['email', 'bytes'],
          ['note', 'bytes'],
          ['created', 'bytes'],
        ],
        createBase: `CREATE TABLE customer (id BIGINT NOT NULL, keyspace_id BIGINT UNSIGNED NOT NULL, email VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL,
          note VARCHAR(200) CHARACTER SET utf8mb4 NOT NULL, created DATETIME(6) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
        addIndex: 'ALTER TABLE customer ADD KEY idx_email (email)',
        insert: (from, to) =>
          `INSERT INTO customer SELECT seq, ${ksid('seq')}, CONCAT('user', seq, '@example.com'), ${text('note', 'seq')}, ${micros('seq')} FROM seq_${from}_to_${to}`,
      },
      {
        name: 'corder',
        rows: orders,
        columns: [
          ['id', 'number'],
          ['keyspace_id', 'number'],
          ['customer_id', 'number'],
          ['amount', 'number'],
          ['descr', 'bytes'],
        ],
        createBase: `CREATE TABLE corder (id BIGINT NOT NULL, keyspace_id BIGINT UNSIGNED NOT NULL, customer_id BIGINT NOT NULL,
          amount DECIMAL(12,2) NOT NULL, descr TEXT CHARACTER SET utf8mb4 NULL, PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
        addIndex: 'ALTER TABLE corder ADD KEY idx_customer (customer_id)',
        // An order shares its customer's keyspace id, as sharded data does.
        insert: (from, to) => `INSERT INTO corder SELECT o.seq, ${ksid('o.c')}, o.c, ((o.seq * 131) % 100000) / 100 - 100,
          IF(o.seq % 50 = 0, NULL, ${text('order', 'o.seq')}) FROM (SELECT seq, 1 + (seq * 7919) % ${Math.max(1, customers)} AS c FROM seq_${from}_to_${to}) o`,
      },
      {
        name: 'region',
        rows: 1000,
        columns: [
          ['id', 'number'],
          ['keyspace_id', 'number'],
          ['name', 'bytes'],
        ],
        createBase: `CREATE TABLE region (id INT NOT NULL, keyspace_id BIGINT UNSIGNED NOT NULL, name VARCHAR(50) CHARACTER SET utf8mb4 NOT NULL,
          PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
        addIndex: null,
        insert: (from, to) => `INSERT INTO region SELECT seq, ${ksid("CONCAT('r', seq)")}, CONCAT('region ', seq) FROM seq_${from}_to_${to}`,
      },
    ],
  };
}

// A random-looking UUID whose order says nothing of the row's keyspace id (ksid hashes the bare number): with the
// same MD5 for both, the key order was the keyspace id order, each chunk went to one destination, and the two
// destinations took turns (see docs/performance.md, "Shapes").
const uuid = (expr: string): string => {
  const h = `MD5(CONCAT('uuid-', ${expr}))`;
  return `CONCAT_WS('-', SUBSTRING(${h}, 1, 8), SUBSTRING(${h}, 9, 4), SUBSTRING(${h}, 13, 4), SUBSTRING(${h}, 17, 4), SUBSTRING(${h}, 21, 12))`;
};

/** A shape of the shapes mode: a dataset, and what it is measured against. */
export interface Shape {
  name: string;
  label: string;
  dataset: Dataset;
  /** The anchor it runs side by side with: the ingest limit, or the dump pipe (many small tables). */
  against: 'load' | 'dump';
}

/**
 * The shapes mode's tables, `rows` each (the split set: `rows` over its two sharded tables): the split set, a
 * CHAR(36) UUID key, a composite (VARCHAR, INT) key, an integer key with three secondary indexes in random order,
 * and 2,000 tables of 500 rows.
 */
export function shapes(rows: number, smallTables = 2000, smallRows = 500): Shape[] {
  const split = dataset('split', rows);
  const one = (mode: string, table: BenchTable): Dataset => ({ mode, rows, db: `bench_${mode}`, tables: [table] });
  const small: BenchTable[] = Array.from({ length: smallTables }, (_, i) => {
    const name = `t${String(i).padStart(4, '0')}`;
    return {
      name,
      rows: smallRows,
      columns: [
        ['id', 'number'],
        ['keyspace_id', 'number'],
        ['name', 'bytes'],
        ['at', 'bytes'],
      ],
      createBase: `CREATE TABLE ${name} (id INT NOT NULL, keyspace_id BIGINT UNSIGNED NOT NULL, name VARCHAR(60) CHARACTER SET utf8mb4 NOT NULL,
        at DATETIME(6) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      addIndex: null,
      insert: (from, to) =>
        `INSERT INTO ${name} SELECT seq, ${ksid(`CONCAT('${name}', seq)`)}, CONCAT('${name} row ', seq), ${micros('seq')} FROM seq_${from}_to_${to}`,
    };
  });
  return [
    { name: 'split', label: 'the split set', dataset: { ...split, mode: 'shape-split', db: 'bench_split' }, against: 'load' },
    {
      name: 'uuid',
      label: 'CHAR(36) UUID key',
      against: 'load',
      dataset: one('uuid', {
        name: 'account',
        rows,
        columns: [
          ['id', 'bytes'],
          ['keyspace_id', 'number'],
          ['payload', 'bytes'],
          ['created', 'bytes'],
        ],
        createBase: `CREATE TABLE account (id CHAR(36) CHARACTER SET ascii NOT NULL, keyspace_id BIGINT UNSIGNED NOT NULL,
          payload VARCHAR(200) CHARACTER SET utf8mb4 NOT NULL, created DATETIME(6) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
        addIndex: null,
        insert: (from, to) =>
          `INSERT INTO account SELECT ${uuid('seq')}, ${ksid('seq')}, ${text('account', 'seq')}, ${micros('seq')} FROM seq_${from}_to_${to}`,
      }),
    },
    {
      name: 'composite',
      label: 'composite (VARCHAR, INT) key',
      against: 'load',
      dataset: one('composite', {
        name: 'visit',
        rows,
        columns: [
          ['site', 'bytes'],
          ['n', 'number'],
          ['keyspace_id', 'number'],
          ['payload', 'bytes'],
        ],
        createBase: `CREATE TABLE visit (site VARCHAR(40) CHARACTER SET utf8mb4 NOT NULL, n INT NOT NULL, keyspace_id BIGINT UNSIGNED NOT NULL,
          payload VARCHAR(200) CHARACTER SET utf8mb4 NOT NULL, PRIMARY KEY (site, n)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
        addIndex: null,
        insert: (from, to) =>
          `INSERT INTO visit SELECT CONCAT('site-', SUBSTRING(MD5(seq % 5000), 1, 10)), seq, ${ksid('seq')}, ${text('visit', 'seq')} FROM seq_${from}_to_${to}`,
      }),
    },
    {
      name: 'indexes',
      label: 'three random-order secondary indexes',
      against: 'load',
      dataset: one('indexes', {
        name: 'item',
        rows,
        columns: [
          ['id', 'number'],
          ['keyspace_id', 'number'],
          ['a', 'number'],
          ['b', 'bytes'],
          ['c', 'bytes'],
          ['payload', 'bytes'],
        ],
        createBase: `CREATE TABLE item (id BIGINT NOT NULL, keyspace_id BIGINT UNSIGNED NOT NULL, a BIGINT UNSIGNED NOT NULL, b CHAR(32) CHARACTER SET ascii NOT NULL,
          c DATETIME(6) NOT NULL, payload VARCHAR(200) CHARACTER SET utf8mb4 NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
        addIndex: 'ALTER TABLE item ADD KEY ia (a), ADD KEY ib (b), ADD KEY ic (c)',
        insert: (from, to) =>
          `INSERT INTO item SELECT seq, ${ksid('seq')}, ${ksid("CONCAT('a', seq)")}, MD5(CONCAT('b', seq)), ${micros('seq * 31')}, ${text('item', 'seq')} FROM seq_${from}_to_${to}`,
      }),
    },
    {
      name: 'small',
      label: `${smallTables.toLocaleString('en-US')} tables of ${smallRows} rows`,
      against: 'dump',
      dataset: { mode: 'small', rows: smallTables * smallRows, db: 'bench_small', tables: small },
    },
  ];
}

export const totalRows = (d: Dataset): number => d.tables.reduce((s, t) => s + t.rows, 0);

/** SQL condition selecting one shard's rows of a uint64 keyspace_id. */
export function shardWhere(shard: string): string {
  const kr = parseShardName(shard);
  const parts: string[] = [];
  if (kr.start.length) parts.push(`keyspace_id >= ${uint64Threshold(kr.start)}`);
  if (kr.end.length) parts.push(`keyspace_id < ${uint64Threshold(kr.end)}`);
  return parts.length ? parts.join(' AND ') : '1';
}

export interface Checksum {
  rows: number;
  sum: string;
}

/** Row count and sum of per-row CRC32s over every column, for the rows matching `where`. */
export async function checksum(conn: Connection, db: string, table: BenchTable, where = '1'): Promise<Checksum> {
  const cols = table.columns.map(([c, kind]) => (kind === 'number' ? quoteId(c) : `IFNULL(HEX(${quoteId(c)}), 'N')`));
  const [rows] = await conn.query(`SELECT COUNT(*) AS n, CAST(IFNULL(SUM(CRC32(CONCAT_WS('|', ${cols.join(', ')}))), 0) AS CHAR) AS s
    FROM ${quoteId(db)}.${quoteId(table.name)} WHERE ${where}`);
  const r = (rows as { n: string | number; s: string }[])[0];
  return { rows: Number(r.n), sum: String(r.s) };
}

/** shard → table → checksum: what each destination must hold. */
export type Expected = Record<string, Record<string, Checksum>>;

interface DatasetFile {
  mode: string;
  rows: number;
  /** The tables' SQL when generated: a changed definition generates the data again. */
  definition?: string;
  expected: Expected;
}

const definitionOf = (d: Dataset): string => d.tables.map((t) => `${t.createBase}\n${t.addIndex ?? ''}\n${t.insert(1, 2)}`).join('\n');

const parallel = async <T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> => {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
};

/**
 * Makes sure the rdonly holds the dataset (generating it when missing or different) and returns the per-shard
 * checksums, recomputed from the source each time: that proves the data is intact and warms its buffer pool.
 * Generated on the rdonly alone with sql_log_bin=0: only the rdonly is read, and replication stays clean.
 */
export async function ensureDataset(rdonly: Endpoint, d: Dataset, shards: string[], dir: string, log: (m: string) => void): Promise<Expected> {
  const file = path.join(dir, `dataset-${d.mode}.json`);
  const saved = existsSync(file) ? (JSON.parse(await fsp.readFile(file, 'utf8')) as DatasetFile) : undefined;
  const session = "SET SESSION sql_log_bin = 0, time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES'";
  const compute = async (): Promise<Expected> =>
    withConnection(rdonly, async (conn) => {
      const expected: Expected = {};
      for (const shard of shards) {
        expected[shard] = {};
        for (const t of d.tables) expected[shard][t.name] = await checksum(conn, d.db, t, shardWhere(shard));
      }
      return expected;
    });
  if (saved && saved.mode === d.mode && saved.rows === d.rows && saved.definition === definitionOf(d)) {
    log(`checking the ${d.rows.toLocaleString('en-US')}-row ${d.mode} dataset on the source`);
    const expected = await compute().catch(() => undefined);
    if (expected && JSON.stringify(expected) === JSON.stringify(saved.expected)) return expected;
    log('the source data differs from the last generation: generating again');
  }
  const started = Date.now();
  log(`generating ${d.rows.toLocaleString('en-US')} rows (${d.mode}) on the source rdonly`);
  await fsp.rm(file, { force: true });
  await withConnection(rdonly, async (conn) => {
    await conn.query(session);
    await conn.query(`DROP DATABASE IF EXISTS ${quoteId(d.db)}`);
    await conn.query(`CREATE DATABASE ${quoteId(d.db)} CHARACTER SET utf8mb4`);
    for (const t of d.tables) await conn.query(`USE ${quoteId(d.db)}; ${t.createBase}`);
  });
  // Rows first, indexes after (fast), in 100k-row statements spread over two sessions (two cores).
  const BATCH = 100_000;
  const jobs: { t: BenchTable; from: number; to: number }[] = [];
  for (const t of d.tables) for (let from = 1; from <= t.rows; from += BATCH) jobs.push({ t, from, to: Math.min(t.rows, from + BATCH - 1) });
  await Promise.all(
    [0, 1].map((lane) =>
      withConnection(rdonly, async (conn) => {
        await conn.query(session + `; USE ${quoteId(d.db)}`);
        for (let i = lane; i < jobs.length; i += 2) await conn.query(jobs[i].t.insert(jobs[i].from, jobs[i].to));
      }),
    ),
  );
  await parallel(
    d.tables.filter((t) => t.addIndex),
    2,
    (t) =>
      withConnection(rdonly, async (conn) => {
        await conn.query(session + `; USE ${quoteId(d.db)}; ${t.addIndex!}; ANALYZE TABLE ${quoteId(t.name)}`);
      }),
  );
  await withConnection(rdonly, (conn) => conn.query(session + `; USE ${quoteId(d.db)}; ANALYZE TABLE ${d.tables.map((t) => quoteId(t.name)).join(', ')}`));
  const expected = await compute();
  await fsp.writeFile(file, JSON.stringify({ mode: d.mode, rows: d.rows, definition: definitionOf(d), expected } satisfies DatasetFile, null, 2));
  log(`generated in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return expected;
}
