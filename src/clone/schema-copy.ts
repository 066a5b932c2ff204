// Destination schema: database, tables (per strategy), views; the delayed ALTERs; the final comparison.

import PQueue from 'p-queue';
import type { TabletDb } from '../mysql/tablet-client.ts';
import { readCreateStatements, type SchemaDefinition, type TableDefinition } from '../mysql/schema.ts';
import { quoteId, quoteTable } from '../mysql/sql.ts';
import { normalizeCreateTable, normalizeView, rewriteCreateView, splitCreateTable } from './create-sql.ts';
import type { StrategyFlags } from './strategy-flags.ts';

/** A destination's database; its client retries every statement (mysql/tablet-client.ts). */
export type DestinationDb = TabletDb;

export class DestinationNotEmptyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DestinationNotEmptyError';
  }
}

const ER_BAD_TABLE = 1051;
/** CREATE TABLE round trips at once per destination (on its writers' pool, which has as many connections or more). */
const CREATE_CONCURRENCY = 4;
/** CREATE TABLE statements a round trip. */
const CREATE_BATCH = 25;

/** The ALTERs to run after the copy, per table, for one destination. */
export type DelayedAlters = Map<string, string>;

/**
 * Tables of at least this many (estimated) rows get their secondary indexes after the copy even without
 * -delay_secondary_indexes: building an index by sorting once is faster than maintaining it row by row (measured
 * with the bench: about 1.2× on the whole copy of 1M-row tables), and small tables gain nothing.
 */
export const AUTO_DELAY_MIN_ROWS = 100_000;

// Lines that keep a table's indexes where they are: a foreign key needs its index while the table is created (the
// server would make one of its own), and InnoDB adds one FULLTEXT index per ALTER at most.
const KEEPS_INDEXES = /^\s*(CONSTRAINT\s.*FOREIGN KEY|FOREIGN KEY|FULLTEXT|SPATIAL)\s/im;

/** The strategy flags for one table: the job's, plus delayed secondary indexes where they pay. */
export function tableFlags(table: TableDefinition, flags: StrategyFlags): StrategyFlags {
  if (flags.delaySecondaryIndexes || table.rowsEstimate < AUTO_DELAY_MIN_ROWS || KEEPS_INDEXES.test(table.createSql)) return flags;
  return { ...flags, delaySecondaryIndexes: true };
}

/**
 * Creates the database and tables on one destination. A table that already exists empty is recreated; one that
 * holds rows is an error naming it: copying into it would duplicate or mix data.
 */
export async function createTables(dest: DestinationDb, tables: TableDefinition[], flags: StrategyFlags, resume = false): Promise<DelayedAlters> {
  const { client, dbName } = dest;
  const { ref } = client;
  await client.query('creating the database', `CREATE DATABASE IF NOT EXISTS ${quoteId(dbName)}`);
  const existing = new Set(
    (await client.query<{ name: string }[]>('listing tables', 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [dbName])).map(
      (r) => String(r.name),
    ),
  );
  const alters: DelayedAlters = new Map();
  const creates: { table: string; create: string }[] = [];
  for (const table of tables) {
    const { create, alter } = splitCreateTable(table.createSql, dbName, table.name, tableFlags(table, flags));
    if (existing.has(table.name) && resume) {
      // Created by the job being resumed, as this one would: its rows are sorted out chunk by chunk (copy-state.ts).
      // Its delayed indexes may be there already (that job built them once the table was copied): not twice.
      if (alter && !(await hasFullDefinition(dest, table, flags))) alters.set(table.name, alter);
      continue;
    }
    if (existing.has(table.name)) {
      const rows = await client.query<unknown[]>(`checking ${table.name}`, `SELECT 1 FROM ${quoteTable(dbName, table.name)} LIMIT 1`);
      if (rows.length > 0) {
        throw new DestinationNotEmptyError(
          `destination ${ref.alias} already has rows in ${dbName}.${table.name}; empty or drop it before cloning, or pass --resume to finish the interrupted copy that wrote them`,
        );
      }
      // A repeat after a lost connection that finds no table: the first attempt dropped it.
      await client.query(`dropping empty ${table.name}`, `DROP TABLE ${quoteTable(dbName, table.name)}`, undefined, {
        repeat: { kind: 'error', errnos: [ER_BAD_TABLE] },
      });
    }
    creates.push({ table: table.name, create });
    if (alter) alters.set(table.name, alter);
  }
  // Several CREATE TABLEs a round trip, and a few round trips at once: a CREATE waits on the server's file work
  // more than it uses a core, and each round trip costs the worker (2,000 small tables on two destinations, one at
  // a time 8.0 s; four at a time 5.5 s; four round trips at a time of 25 each 3.3-4.0 s, two of 50 4.7 s, eight
  // of 10 3.7-3.9 s). None of these tables is there (just checked, and the shards' lock keeps other jobs away), so
  // IF NOT EXISTS only makes a batch safe to repeat after a lost connection left some of it done. After a failure
  // no more are started; the first in table order is the one reported.
  const queue = new PQueue({ concurrency: CREATE_CONCURRENCY });
  const failures: { index: number; err: unknown }[] = [];
  for (let index = 0; index < creates.length; index += CREATE_BATCH) {
    const batch = creates.slice(index, index + CREATE_BATCH);
    const names = batch.length > 1 ? `tables ${batch[0].table} to ${batch[batch.length - 1].table}` : `table ${batch[0].table}`;
    const sql = batch.map((c) => c.create.replace(/^CREATE TABLE /, 'CREATE TABLE IF NOT EXISTS ')).join(';\n');
    void queue.add(async () => {
      try {
        await client.query(`creating ${names}`, sql);
      } catch (err) {
        failures.push({ index, err });
        queue.clear();
      }
    });
  }
  await queue.onIdle();
  if (failures.length) throw failures.sort((a, b) => a.index - b.index)[0].err;
  return alters;
}

/** Whether the destination's table already has the source's whole definition (its delayed indexes included). */
export async function hasFullDefinition(dest: DestinationDb, table: TableDefinition, flags: StrategyFlags): Promise<boolean> {
  const rows = await dest.client.query<Record<string, string>[]>(
    `reading ${table.name}'s definition`,
    `SHOW CREATE TABLE ${quoteTable(dest.dbName, table.name)}`,
  );
  const have = rows[0]?.['Create Table'];
  return have !== undefined && normalizeCreateTable(have, table.name, flags) === normalizeCreateTable(table.createSql, table.name, flags);
}

export async function createViews(dest: DestinationDb, sourceDb: string, views: TableDefinition[]): Promise<void> {
  // A view may select from another view: retry the failures until no progress, then report the first.
  let pending = [...views];
  while (pending.length) {
    const failed: { view: TableDefinition; err: unknown }[] = [];
    for (const view of pending) {
      try {
        await dest.client.query(`creating view ${view.name}`, `USE ${quoteId(dest.dbName)}; ${rewriteCreateView(view.createSql, sourceDb, dest.dbName)}`);
      } catch (err) {
        failed.push({ view, err });
      }
    }
    if (failed.length === pending.length) throw failed[0].err;
    pending = failed.map((f) => f.view);
  }
}

/**
 * Checks each destination table and view matches the source's definition (modulo the AUTO_INCREMENT counter,
 * the strategy's removals and the database name). Returns the differences, one line each.
 */
export async function compareSchema(source: SchemaDefinition, dest: DestinationDb, tables: TableDefinition[], flags: StrategyFlags): Promise<string[]> {
  const actual = await readCreateStatements(dest.client, dest.dbName);
  const byName = new Map(actual.map((t) => [t.name, t]));
  const problems: string[] = [];
  for (const table of tables) {
    const got = byName.get(table.name);
    if (!got) {
      problems.push(`${dest.client.ref.alias}: ${table.kind} ${table.name} is missing`);
      continue;
    }
    const want = table.kind === 'view' ? normalizeView(table.createSql, source.dbName) : normalizeCreateTable(table.createSql, table.name, flags);
    const have = table.kind === 'view' ? normalizeView(got.createSql, dest.dbName) : normalizeCreateTable(got.createSql, table.name, flags);
    if (want !== have) problems.push(`${dest.client.ref.alias}: ${table.kind} ${table.name} differs from the source:\n  source: ${want}\n  dest:   ${have}`);
  }
  return problems;
}
