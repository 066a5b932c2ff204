// Demo data: a few tables of varied column types, all routed by a server-computed keyspace_id, and a view.

import type { AdminConnection as Connection } from '../mysql/admin-connection.ts';
import { quoteId } from '../mysql/sql.ts';

export const DEMO_TABLES = ['customer', 'corder', 'product'] as const;
export const DEMO_VIEWS = ['customer_emails'] as const;
export const DEFAULT_SEED_ROWS = 200_000;
const PRODUCT_ROWS = 100;
// Rows per INSERT … SELECT: big enough to be fast, small enough that each binlog transaction stays a few MB.
const BATCH = 50_000;

export interface SeedResult {
  dbName: string;
  /** Rows inserted per table. */
  rows: Record<string, number>;
  ms: number;
}

/** keyspace_id of an expression: the first 8 bytes of its MD5, so ids spread uniformly over all of uint64. */
const ksid = (expr: string): string => `CAST(CONV(SUBSTRING(MD5(${expr}), 1, 16), 16, 10) AS UNSIGNED)`;

const SCHEMA = [
  `CREATE TABLE customer (
    customer_id BIGINT NOT NULL AUTO_INCREMENT,
    keyspace_id BIGINT UNSIGNED NOT NULL,
    email VARCHAR(255) CHARACTER SET utf8mb4 NOT NULL,
    name VARCHAR(100) CHARACTER SET utf8mb4 NULL,
    created DATETIME(6) NOT NULL,
    balance DECIMAL(12,2) NOT NULL DEFAULT 0.00,
    PRIMARY KEY (customer_id),
    KEY idx_email (email)
  ) ENGINE=InnoDB`,
  `CREATE TABLE corder (
    order_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    keyspace_id BIGINT UNSIGNED NOT NULL,
    sku VARBINARY(64) NOT NULL,
    price DECIMAL(10,2) NOT NULL,
    status ENUM('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new',
    note TEXT CHARACTER SET utf8mb4 NULL,
    PRIMARY KEY (order_id),
    KEY idx_customer (customer_id),
    KEY idx_status_price (status, price)
  ) ENGINE=InnoDB`,
  `CREATE TABLE product (
    product_id INT UNSIGNED NOT NULL,
    keyspace_id BIGINT UNSIGNED NOT NULL,
    sku VARBINARY(32) NOT NULL,
    name VARCHAR(100) CHARACTER SET utf8mb4 NOT NULL,
    description TEXT CHARACTER SET utf8mb4 NULL,
    attrs JSON NULL,
    price DECIMAL(10,2) NOT NULL,
    PRIMARY KEY (product_id),
    UNIQUE KEY uk_sku (sku)
  ) ENGINE=InnoDB`,
  `CREATE VIEW customer_emails AS SELECT customer_id, keyspace_id, email FROM customer`,
];

// utf8mb4 (accents, CJK, emoji), NULLs, negative decimals and microseconds, all derived from seq.
const customerInsert = (from: number, to: number): string => `
  INSERT INTO customer (customer_id, keyspace_id, email, name, created, balance)
  SELECT seq, ${ksid('seq')},
    CASE seq % 10
      WHEN 0 THEN CONCAT('josé.', seq, '@exämple.com')
      WHEN 5 THEN CONCAT('用户', seq, '@例子.com')
      WHEN 7 THEN CONCAT('smile', seq, '😀@example.com')
      ELSE CONCAT('user', seq, '@example.com') END,
    IF(seq % 4 = 0, NULL, CONCAT('Customer ', seq)),
    TIMESTAMP('2020-01-01 00:00:00') + INTERVAL (seq * 7919) % 157680000 SECOND
      + INTERVAL (seq * 104729) % 1000000 MICROSECOND,
    ((seq * 7907) % 2000000) / 100 - 5000
  FROM seq_${from}_to_${to}`;

// Orders share their customer's keyspace_id, so a customer and its orders land on the same shard.
// sku carries raw bytes (0x00, quotes, backslashes happen) after a readable prefix.
const orderInsert = (from: number, to: number, customers: number): string => `
  INSERT INTO corder (order_id, customer_id, keyspace_id, sku, price, status, note)
  SELECT o.seq, o.c, ${ksid('o.c')},
    CONCAT('SKU-', LPAD(o.seq % 1000, 4, '0'), '-', UNHEX(SUBSTRING(MD5(o.seq), 1, 8))),
    ((o.seq * 131) % 100000) / 100,
    ELT(1 + o.seq % 4, 'new', 'paid', 'shipped', 'cancelled'),
    CASE WHEN o.seq % 5 = 0 THEN CONCAT('gift wrap ', o.seq, ' 🎁')
         WHEN o.seq % 13 = 0 THEN ''
         ELSE NULL END
  FROM (SELECT seq, 1 + (seq * 7919) % ${customers} AS c FROM seq_${from}_to_${to}) o`;

const productInsert = (rows: number): string => `
  INSERT INTO product (product_id, keyspace_id, sku, name, description, attrs, price)
  SELECT seq, ${ksid("CONCAT('product', seq)")},
    CONCAT('SKU-', LPAD(seq, 4, '0')),
    CONCAT(ELT(1 + seq % 4, 'Widget', 'Gadget', 'Gizmo', 'Ding'), ' ', seq, IF(seq % 9 = 0, ' ★', '')),
    IF(seq % 3 = 0, NULL, REPEAT(CONCAT('Product ', seq, ' description. '), 1 + seq % 5)),
    IF(seq % 10 = 0, NULL,
       JSON_OBJECT('color', ELT(1 + seq % 3, 'red', 'green', 'blue'), 'weight', seq * 1.5, 'tags', JSON_ARRAY('demo', seq))),
    (seq * 250) / 100 + 0.99
  FROM seq_1_to_${rows}`;

async function batched(conn: Connection, total: number, sql: (from: number, to: number) => string): Promise<void> {
  for (let from = 1; from <= total; from += BATCH) {
    await conn.query(sql(from, Math.min(total, from + BATCH - 1)));
  }
}

/**
 * (Re)creates database `dbName` with the demo schema and `rows` customers and `rows` orders
 * (plus 100 products). Drops the database first. Leaves the connection's default database changed.
 */
export async function seedDemo(conn: Connection, dbName: string, rows = DEFAULT_SEED_ROWS): Promise<SeedResult> {
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`seed rows must be a positive integer, got ${rows}`);
  const started = Date.now();
  const db = quoteId(dbName);
  await conn.query(`DROP DATABASE IF EXISTS ${db}`);
  await conn.query(`CREATE DATABASE ${db} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
  await conn.query(`USE ${db}`);
  for (const ddl of SCHEMA) await conn.query(ddl);
  await batched(conn, rows, customerInsert);
  await batched(conn, rows, (from, to) => orderInsert(from, to, rows));
  await conn.query(productInsert(PRODUCT_ROWS));
  // Fresh statistics: the worker sizes its chunks from information_schema row estimates.
  await conn.query(`ANALYZE TABLE ${DEMO_TABLES.join(', ')}`);
  return {
    dbName,
    rows: { customer: rows, corder: rows, product: PRODUCT_ROWS },
    ms: Date.now() - started,
  };
}
