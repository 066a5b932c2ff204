// A write load that routes each write as a proxy would: it reads the topology (again before every write), sends
// the write to the primary of the shard serving `primary` for the row's keyspace id, and when a write fails (the
// shard turned read-only, its connection was ended) it waits a moment, reads the topology again and retries it.
// A vertical split's destination keyspace (servedFrom another) is routed to the keyspace it is served from until its
// own shard serves primary. Each tablet is written in its own database (the topology's dbName).
// Writes are idempotent (an insert that may have landed is re-sent as an upsert of the same values), so the
// acknowledged state is exactly known: `expected` holds, per row, the last write a client was told succeeded.
// It writes as an application user without SUPER / READ_ONLY ADMIN, which read_only stops.

import { readFileSync } from 'node:fs';
import mysql, { type Connection } from 'mysql2/promise';
import { contains, parseShardName } from '../../src/keyrange/keyrange.ts';
import { uint64KeyspaceId } from '../../src/keyrange/keyspace-id.ts';
import type { Endpoint } from '../../src/sandbox/index.ts';
import type { Topology } from '../../src/topology/types.ts';
import { sql } from './cluster.ts';
import { readRows } from './rows.ts';
import { rng } from './write-load.ts';

export const APP_USER = 'swapp';

/** The load's table, named `name`. */
export const routedTable = (name: string): string => `CREATE TABLE \`${name}\` (
  id BIGINT NOT NULL PRIMARY KEY,
  keyspace_id BIGINT UNSIGNED NOT NULL,
  v VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL,
  bin VARBINARY(32),
  amount DECIMAL(30,10),
  at DATETIME(6),
  js JSON,
  n INT NOT NULL
) ENGINE=InnoDB`;
export const ROUTED_TABLE = routedTable('acct');

/** Creates the application user on every instance (not binlogged: no stream or replica should see it). */
export async function createAppUser(instances: Endpoint[]): Promise<void> {
  for (const at of instances) {
    await sql(
      at,
      `SET SESSION sql_log_bin = 0; CREATE USER IF NOT EXISTS '${APP_USER}'@'%'; CREATE USER IF NOT EXISTS '${APP_USER}'@'localhost'; CREATE USER IF NOT EXISTS '${APP_USER}'@'127.0.0.1';
      GRANT SELECT, INSERT, UPDATE, DELETE ON *.* TO '${APP_USER}'@'%'; GRANT SELECT, INSERT, UPDATE, DELETE ON *.* TO '${APP_USER}'@'localhost'; GRANT SELECT, INSERT, UPDATE, DELETE ON *.* TO '${APP_USER}'@'127.0.0.1'`,
    );
  }
}

interface RowState {
  ksid: bigint;
  sql: string;
}

export class RoutedLoad {
  readonly #topoFile: string;
  readonly #keyspace: string;
  readonly #db: string;
  readonly #table: string;
  readonly #random: () => number;
  /** By `port/db`. */
  readonly #conns = new Map<string, Connection>();
  /** id → the row's last acknowledged values (as the SQL tuple written). */
  readonly expected = new Map<number, RowState>();
  #nextId = 1;
  #stop = false;
  #running: Promise<void> = Promise.resolve();
  acknowledged = 0;
  /** Failed attempts (each retried until acknowledged), by message. */
  readonly refusals = new Map<string, number>();
  /** Writes acknowledged per port: where the load went. */
  readonly byPort = new Map<number, number>();
  /** Longest time a single write took from its first attempt to its acknowledgement (ms): what a client saw. */
  longestWriteMs = 0;

  /** `db`: the database seed() creates the table in; `idBase`: where this load's ids start, so several loads can write one table side by side; `table`: what it writes. */
  constructor(topoFile: string, keyspace: string, db: string, seed = 1, idBase = 0, table = 'acct') {
    this.#table = table;
    this.#nextId = idBase + 1;
    this.#topoFile = topoFile;
    this.#keyspace = keyspace;
    this.#db = db;
    this.#random = rng(seed);
  }

  #int(n: number): number {
    return Math.floor(this.#random() * n);
  }

  #tuple(id: number, ksid: bigint, n: number): string {
    const r = this.#int(1_000_000);
    const hex = Buffer.from(Array.from({ length: 1 + (r % 31) }, (_v, i) => (r * (i + 7)) & 255)).toString('hex');
    return `(${id}, ${ksid}, 'v${r} ✓ 😀 \\' "', X'${hex}', '${r % 2 ? '-' : ''}${r}.${String(r).padStart(10, '0')}', '2026-03-08 02:${String(r % 60).padStart(2, '0')}:00.${String(r).padStart(6, '0').slice(0, 6)}', '{"r": ${r}, "n": ${n}}', ${n})`;
  }

  /** The primary (port and database) serving the keyspace id now, as the topology file says. */
  #route(ksid: bigint): { port: number; db: string } {
    const topo = JSON.parse(readFileSync(this.#topoFile, 'utf8')) as Topology;
    let keyspace = this.#keyspace;
    const own = topo.keyspaces[keyspace];
    // A vertical destination serves primary itself once its shard lists it; until then its source keyspace does.
    if (own.servedFrom && !Object.values(own.shards).some((s) => s.servedTypes.includes('primary'))) keyspace = own.servedFrom.keyspace;
    const ks = topo.keyspaces[keyspace];
    const id = uint64KeyspaceId(ksid);
    const shard = Object.keys(ks.shards).find((s) => ks.shards[s].servedTypes.includes('primary') && contains(parseShardName(s), id));
    if (shard === undefined) throw new Error(`no shard of ${keyspace} serves primary for keyspace id ${ksid}`);
    const tablet = Object.values(topo.tablets).find((t) => t.keyspace === keyspace && t.shard === shard && t.type === 'primary');
    if (!tablet) throw new Error(`shard ${keyspace}/${shard} has no primary`);
    return { port: tablet.port, db: tablet.dbName };
  }

  async #conn(port: number, db: string): Promise<Connection> {
    let conn = this.#conns.get(`${port}/${db}`);
    if (!conn) {
      conn = await mysql.createConnection({ host: '127.0.0.1', port, user: APP_USER, password: '', database: db, charset: 'utf8mb4' });
      await conn.query("SET SESSION time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'");
      this.#conns.set(`${port}/${db}`, conn);
    }
    return conn;
  }

  /** One write, retried (re-routed) until acknowledged or the load is stopped and it has failed once more. */
  async #write(id: number, ksid: bigint, text: string): Promise<void> {
    const started = performance.now();
    for (;;) {
      let port = 0;
      let key = '';
      try {
        const to = this.#route(ksid);
        port = to.port;
        key = `${to.port}/${to.db}`;
        const conn = await this.#conn(to.port, to.db);
        // Idempotent: re-sent after an unknown outcome it leaves the same row.
        await conn.query(
          `INSERT INTO \`${this.#table}\` VALUES ${text} ON DUPLICATE KEY UPDATE keyspace_id = VALUES(keyspace_id), v = VALUES(v), bin = VALUES(bin), amount = VALUES(amount), at = VALUES(at), js = VALUES(js), n = VALUES(n)`,
        );
        this.expected.set(id, { ksid, sql: text });
        this.acknowledged++;
        this.byPort.set(port, (this.byPort.get(port) ?? 0) + 1);
        this.longestWriteMs = Math.max(this.longestWriteMs, performance.now() - started);
        return;
      } catch (err) {
        const message = String((err as { code?: string }).code ?? (err as Error).message);
        this.refusals.set(message, (this.refusals.get(message) ?? 0) + 1);
        const conn = this.#conns.get(key);
        this.#conns.delete(key);
        await conn?.end().catch(() => {});
        if (performance.now() - started > 60_000) throw new Error(`a write of id ${id} failed for a minute: ${message}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }

  /** Creates the table with `rows` rows where it is routed now: in a new database, or beside what `keepDatabase` keeps. */
  async seed(rows: number, { keepDatabase = false } = {}): Promise<void> {
    const tuples: string[] = [];
    for (let i = 0; i < rows; i++) {
      const id = this.#nextId++;
      const ksid = this.#ksid();
      const text = this.#tuple(id, ksid, 0);
      tuples.push(text);
      this.expected.set(id, { ksid, sql: text });
    }
    const source = this.#route(0n);
    const db = `\`${this.#db}\``;
    const fresh = keepDatabase
      ? `CREATE DATABASE IF NOT EXISTS ${db}; USE ${db}; DROP TABLE IF EXISTS \`${this.#table}\``
      : `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db}`;
    await sql({ port: source.port }, `${fresh}; ${routedTable(this.#table)}; INSERT INTO \`${this.#table}\` VALUES ${tuples.join(',')}`);
  }

  #ksid(): bigint {
    return (BigInt(this.#int(2 ** 32)) << 32n) | BigInt(this.#int(2 ** 32));
  }

  /** Starts writing: inserts and updates across every key range, `perSecond` writes a second at most (0: flat out). */
  start(perSecond = 0): void {
    this.#stop = false;
    const gap = perSecond > 0 ? 1000 / perSecond : 0;
    this.#running = (async () => {
      let next = performance.now();
      while (!this.#stop) {
        const ids = [...this.expected.keys()];
        if (this.#int(3) === 0 || ids.length === 0) {
          const id = this.#nextId++;
          const ksid = this.#ksid();
          await this.#write(id, ksid, this.#tuple(id, ksid, 0));
        } else {
          const id = ids[this.#int(ids.length)];
          const row = this.expected.get(id)!;
          await this.#write(id, row.ksid, this.#tuple(id, row.ksid, Number(/(\d+)\)$/.exec(row.sql)![1]) + 1));
        }
        if (gap) {
          next += gap;
          const wait = next - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          else if (wait < -1000) next = performance.now();
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#running;
    for (const conn of this.#conns.values()) await conn.end().catch(() => {});
    this.#conns.clear();
  }

  /** The acknowledged rows (of this load and `others`), as readRows shows them: read back from a scratch table on `at`. */
  async expectedRows(at: Endpoint, scratchDb: string, others: RoutedLoad[] = []): Promise<Map<string, string>> {
    const tuples = [this, ...others].flatMap((l) => [...l.expected.values()].map((r) => r.sql));
    await sql(
      at,
      `SET SESSION sql_log_bin = 0; DROP DATABASE IF EXISTS \`${scratchDb}\`; CREATE DATABASE \`${scratchDb}\`; USE \`${scratchDb}\`; ${routedTable(this.#table)}`,
    );
    for (let i = 0; i < tuples.length; i += 500)
      await sql(at, `SET SESSION sql_log_bin = 0; INSERT INTO \`${scratchDb}\`.\`${this.#table}\` VALUES ${tuples.slice(i, i + 500).join(',')}`);
    const rows = await readRows(at, scratchDb, this.#table);
    await sql(at, `SET SESSION sql_log_bin = 0; DROP DATABASE \`${scratchDb}\``);
    return rows;
  }
}
