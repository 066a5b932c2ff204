// The stream bench's write load: N row changes on the source primary in transactions of 1 to 10 rows (inserts,
// updates, some of them moving a row to the other shard by changing its keyspace id, deletes, and transactions of
// several statements across tables and ranges), generated in the server from the split bench's row expressions so
// every value type of those tables goes through the binlog. Deterministic: the same N gives the same binlog.

import type { Connection } from 'mysql2/promise';
import { quoteId } from '../src/mysql/sql.ts';
import { dataset, type BenchTable } from './dataset.ts';

/** The stream bench's database, and the rows each table holds before the load (it updates and deletes among them). */
export const STREAM_DB = 'bench_stream';
export const SEED_ROWS = 50_000;
/** The session every load and seed connection runs in. */
export const LOAD_SESSION = "SET SESSION time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES'";

/** The sequence number of a one-domain MariaDB position (`0-100-42` or `MariaDB/0-100-42`): the bench source has one. */
export function seqOf(position: string): number {
  const m = /^(?:MariaDB\/)?\d+-\d+-(\d+)$/.exec(position);
  if (!m) throw new Error(`expected a one-domain MariaDB GTID position, got ${JSON.stringify(position)}`);
  return Number(m[1]);
}

/** The split bench's sharded tables (not the small unsharded one). */
export function streamBenchTables(): BenchTable[] {
  return dataset('split', 2 * SEED_ROWS).tables.filter((t) => t.name !== 'region');
}

/** Live ids of a table: a contiguous range, inserted at the top and deleted from the bottom. */
interface Live {
  table: BenchTable;
  lo: number;
  hi: number;
}

/** A small deterministic PRNG (mulberry32): the load must be the same from run to run. Its state is one number. */
class Prng {
  constructor(public state: number) {}

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** What one statement changes, as SQL that changes exactly `rows` rows. */
function statement(live: Live, kind: 'insert' | 'update' | 'move' | 'delete', rows: number, pick: number): string {
  const t = quoteId(live.table.name);
  switch (kind) {
    case 'insert': {
      const from = live.hi + 1;
      live.hi += rows;
      return live.table.insert(from, live.hi);
    }
    case 'delete': {
      const from = live.lo;
      live.lo += rows;
      return `DELETE FROM ${t} WHERE id BETWEEN ${from} AND ${from + rows - 1}`;
    }
    case 'update':
    case 'move': {
      // A window of live ids; every row in it changes (the binlog logs only rows that change).
      const from = live.lo + Math.floor(pick * (live.hi - live.lo + 1 - rows));
      const sets =
        live.table.name === 'customer'
          ? "created = created + INTERVAL 1 SECOND, email = CONCAT(LEFT(email, 40), '.')"
          : "amount = amount + 1.01, descr = IF(descr IS NULL, 'was null', NULL)";
      // A move flips the keyspace id's top bit: the row leaves its shard for the other one (1→2 split at 80).
      const move = kind === 'move' ? ', keyspace_id = keyspace_id ^ 0x8000000000000000' : '';
      return `UPDATE ${t} SET ${sets}${move} WHERE id BETWEEN ${from} AND ${from + rows - 1}`;
    }
  }
}

/** Where a TransactionSource stands: enough to continue its sequence in another process. */
export interface TransactionSourceState {
  random: number;
  transactions: number;
  /** Each table's live ids [lo, hi], in the order of the tables. */
  lives: [number, number][];
}

/** The load's transactions, one at a time: the same sequence for the same tables and seed rows. */
export class TransactionSource {
  readonly #random: Prng;
  readonly #lives: Live[];
  #transactions: number;

  constructor(tables: BenchTable[], seedRows: number, from?: TransactionSourceState) {
    this.#random = new Prng(from?.random ?? 18);
    this.#transactions = from?.transactions ?? 0;
    this.#lives = tables.map((table, i) => ({ table, lo: from?.lives[i][0] ?? 1, hi: from?.lives[i][1] ?? seedRows }));
  }

  get state(): TransactionSourceState {
    return { random: this.#random.state, transactions: this.#transactions, lives: this.#lives.map((l) => [l.lo, l.hi]) };
  }

  /** The next transaction (at most `maxRows` row changes) as one SQL text, and how many rows it changes. */
  next(maxRows = 10): { sql: string; rows: number } {
    const random = () => this.#random.next();
    const rows = Math.min(maxRows, 1 + Math.floor(random() * 10));
    // Most transactions are one statement; a third spread their rows over two statements, two tables.
    const parts = rows >= 2 && random() < 0.33 ? [Math.ceil(rows / 2), Math.floor(rows / 2)] : [rows];
    const statements = parts.map((k, i) => {
      const live = this.#lives[(this.#transactions + i) % this.#lives.length];
      const r = random();
      // Deletes never take the live range below 1,000 rows, so updates always find their window.
      const kind = r < 0.45 ? 'insert' : r < 0.72 ? 'update' : r < 0.8 ? 'move' : live.hi - live.lo > 1000 ? 'delete' : 'insert';
      return statement(live, kind, k, random());
    });
    this.#transactions++;
    return { sql: `START TRANSACTION; ${statements.join('; ')}; COMMIT`, rows };
  }
}

export interface LoadResult {
  rowChanges: number;
  transactions: number;
  seconds: number;
}

/**
 * Writes `rowChanges` row changes from `source` on `conn`, a connection in the bench database, a few hundred
 * transactions per round trip.
 */
export async function runStreamLoad(conn: Connection, source: TransactionSource, rowChanges: number, log: (m: string) => void): Promise<LoadResult> {
  const started = Date.now();
  let done = 0;
  let transactions = 0;
  let lastLog = started;
  while (done < rowChanges) {
    const batch: string[] = [];
    for (let n = 0; n < 200 && done < rowChanges; n++) {
      const t = source.next(rowChanges - done);
      batch.push(t.sql);
      done += t.rows;
      transactions++;
    }
    await conn.query(batch.join('; '));
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      log(`  load: ${done.toLocaleString('en-US')} of ${rowChanges.toLocaleString('en-US')} row changes`);
    }
  }
  return { rowChanges: done, transactions, seconds: (Date.now() - started) / 1000 };
}
