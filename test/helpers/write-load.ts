// A write load on a source primary for stream tests: transactions of 1 to a few statements that insert rows of
// many types across every key range, update the sharding column (rows move between shards), update other columns,
// and delete; until stopped. One connection, so the source's order is the order written here.

import type { Connection } from 'mysql2/promise';
import { connect, waitForCatchUp, type Endpoint } from '../../src/sandbox/index.ts';

export const LOAD_TABLES = [
  `CREATE TABLE types (
  id BIGINT NOT NULL PRIMARY KEY,
  keyspace_id BIGINT UNSIGNED NOT NULL,
  name VARCHAR(40) CHARACTER SET utf8mb4,
  latin VARCHAR(20) CHARACTER SET latin1,
  bin VARBINARY(64),
  dec65 DECIMAL(65,30),
  dt6 DATETIME(6),
  ts TIMESTAMP(6) NULL DEFAULT NULL,
  zd DATE,
  tm TIME(6),
  yr YEAR,
  js JSON,
  b64 BIT(64),
  en ENUM('a','b','c'),
  st SET('x','y','z'),
  f FLOAT,
  d DOUBLE,
  u64 BIGINT UNSIGNED,
  i8 TINYINT,
  KEY ks (keyspace_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE pairs (a INT NOT NULL, b VARCHAR(20) NOT NULL, keyspace_id BIGINT UNSIGNED NOT NULL, v TEXT, PRIMARY KEY (a, b)) ENGINE=InnoDB`,
];

/** A deterministic pseudo-random source, so a failing run can be repeated. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class WriteLoad {
  readonly #at: Endpoint;
  readonly #db: string;
  readonly #random: () => number;
  #conn: Connection | null = null;
  #nextId = 1;
  #ids: number[] = [];
  #stop = false;
  #running: Promise<void> = Promise.resolve();
  transactions = 0;
  /** Errors met by the load (it goes on: a restarting destination is no business of the source). */
  errors: string[] = [];

  constructor(at: Endpoint, db: string, seed = 1) {
    this.#at = at;
    this.#db = db;
    this.#random = rng(seed);
  }

  #int(n: number): number {
    return Math.floor(this.#random() * n);
  }

  #ksid(): string {
    return ((BigInt(this.#int(2 ** 32)) << 32n) | BigInt(this.#int(2 ** 32))).toString();
  }

  #typesRow(id: number): string {
    const r = this.#int(1000);
    const hex = Buffer.from(Array.from({ length: 1 + this.#int(20) }, () => this.#int(256))).toString('hex');
    const extreme = r % 7 === 0;
    return `(${id}, ${extreme ? (r % 2 ? '18446744073709551615' : '0') : this.#ksid()}, ${r % 5 === 0 ? 'NULL' : `'row ${id} ✓ 😀 \\' "'`}, X'e9${hex.slice(0, 4)}', X'${hex}',
      '${r % 3 ? '-' : ''}${r}${'9'.repeat(r % 30)}.${String(r).padStart(30, '0')}', '2026-03-08 02:${String(r % 60).padStart(2, '0')}:00.${String(r).padStart(6, '0')}',
      ${r % 4 === 0 ? 'NULL' : `'2038-01-19 03:14:0${r % 8}.999999'`}, ${r % 6 === 0 ? "'0000-00-00'" : "'2028-02-29'"}, '-838:59:5${r % 9}.000001', ${1901 + (r % 255)},
      '{"n": ${r}, "a": [1, 2.5, "x"]}', b'${(r % 2 ? '1' : '0').repeat(64)}', '${'abc'[r % 3]}', '${['', 'x', 'x,z', 'x,y,z'][r % 4]}',
      ${extreme ? '3.40282e38' : `${r}.25`}, ${extreme ? '1.7976931348623157e308' : r % 11 === 0 ? '5e-324' : `${r}.1`}, ${extreme ? '18446744073709551615' : r}, ${(r % 256) - 128})`;
  }

  #pick(): number | null {
    return this.#ids.length ? this.#ids[this.#int(this.#ids.length)] : null;
  }

  /** The statements of one transaction. */
  #transaction(): string[] {
    const kind = this.#int(10);
    const id = this.#pick();
    if (kind < 4 || id === null) {
      const rows = Array.from({ length: 1 + this.#int(5) }, () => this.#nextId++);
      this.#ids.push(...rows);
      return [`INSERT INTO types VALUES ${rows.map((r) => this.#typesRow(r)).join(',')}`];
    }
    if (kind < 6) return [`UPDATE types SET keyspace_id = ${this.#ksid()}, name = 'moved ${this.transactions}' WHERE id = ${id}`];
    if (kind < 7) {
      this.#ids = this.#ids.filter((x) => x !== id);
      return [`DELETE FROM types WHERE id = ${id}`];
    }
    // Several statements across ranges in one transaction.
    const a = this.#nextId++;
    this.#ids.push(a);
    const other = this.#pick()!;
    return [
      `INSERT INTO types VALUES ${this.#typesRow(a)}`,
      `INSERT INTO pairs VALUES (${a}, 'b${a % 7}', ${this.#ksid()}, REPEAT('v', ${this.#int(500)})) ON DUPLICATE KEY UPDATE v = CONCAT(v, 'w')`,
      `UPDATE types SET d = d + 1, js = JSON_SET(js, '$.n', ${this.transactions}), keyspace_id = IF(id % 2, ${this.#ksid()}, keyspace_id) WHERE id IN (${id}, ${other})`,
      `UPDATE pairs SET keyspace_id = ${this.#ksid()} WHERE a = ${this.#pick()} LIMIT 1`,
      `DELETE FROM pairs WHERE a = ${this.#pick()}`,
    ];
  }

  async #connect(): Promise<Connection> {
    const conn = await connect(this.#at);
    await conn.query(`SET SESSION time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'; USE \`${this.#db}\``);
    return conn;
  }

  /**
   * Creates the tables with `rows` rows in them; with `replica`, waits until it has them too (a clone reads the
   * rdonly: started at once, it could find the database not there yet).
   */
  async seed(rows: number, replica?: Endpoint): Promise<void> {
    const conn = await connect(this.#at);
    try {
      await conn.query(`SET SESSION time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION';
        DROP DATABASE IF EXISTS \`${this.#db}\`; CREATE DATABASE \`${this.#db}\`; USE \`${this.#db}\`; ${LOAD_TABLES.join(';\n')}`);
      for (let done = 0; done < rows; ) {
        const ids = Array.from({ length: Math.min(200, rows - done) }, () => this.#nextId++);
        await conn.query(`INSERT INTO types VALUES ${ids.map((i) => this.#typesRow(i)).join(',')}`);
        this.#ids.push(...ids);
        done += ids.length;
      }
    } finally {
      await conn.end();
    }
    if (replica) await waitForCatchUp(this.#at, replica, 60_000);
  }

  /** Starts the load: one transaction after another, `pauseMs` apart. */
  start(pauseMs = 2): void {
    this.#stop = false;
    this.#running = (async () => {
      while (!this.#stop) {
        try {
          this.#conn ??= await this.#connect();
          await this.#conn.query(['BEGIN', ...this.#transaction(), 'COMMIT'].join(';\n'));
          this.transactions++;
        } catch (err) {
          this.errors.push((err as Error).message);
          await this.#conn?.end().catch(() => {});
          this.#conn = null;
          await new Promise((r) => setTimeout(r, 100));
        }
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#running;
    await this.#conn?.end().catch(() => {});
    this.#conn = null;
  }
}
