// The applier writes one destination primary: source transactions as one destination transaction together with
// the stream's checkpoint row, so rows and position commit together (DESIGN.md "Filtered replication", Applying).
// It never reads the binlog and never decides what belongs to the destination: the stream and the filter do.

import type { BinlogTable } from '../mysql/binlog/events.ts';
import { describeTablet, TabletError, type PoolConnection, type TabletRef } from '../mysql/connection.ts';
import { classifyError } from '../mysql/retry.ts';
import type { ColumnShape, RowChange, TableShape } from './changes.ts';
import { lockPositionSql, updatePositionSql } from './checkpoint-row.ts';
import { changeSql, describeKey, planStatements, type PlannedStatement } from './statements.ts';

/** A source transaction that reached its commit, with the changes of it the destination takes (maybe none). */
export interface SourceTransaction {
  gtid: string;
  /** The source's position once it is applied. */
  position: string;
  /** The source commit time (seconds since the epoch). */
  timestamp: number;
  changes: RowChange[];
}

/** The destination does not hold what the source changed, or refused it: the stream stops; nothing is skipped. */
export class DivergenceError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'DivergenceError';
  }
}

/** The stream cannot go on for a reason that retrying will not change (schema, DDL, a missing table). */
export class StreamStopError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamStopError';
  }
}

/**
 * The checkpoint row moved under the stream (another writer committed from the same position: a daemon that took
 * the stream over while this one had lost its lease, or an operator): this group is rolled back and a new session
 * resumes from where the row stands (or stops, if it is gone).
 */
export class CheckpointMovedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointMovedError';
  }
}

interface ColumnDbRow { name: string; generated: string; charset: string | null }

/** SQL text per round trip while applying a group: several statements in one query, the replies checked one by one. */
const MAX_QUERY_BYTES = 4 << 20;

export class Applier {
  readonly #conn: PoolConnection;
  readonly #ref: TabletRef;
  readonly #uid: number;
  readonly #shardingColumn: string | null;
  /** Where the checkpoint row stands: each commit moves it only from there (one writer per row, whoever owns it). */
  #position: string | undefined;
  /** Destination table shapes by source table name; read once per session, dropped after a DDL. */
  readonly #shapes = new Map<string, TableShape>();

  constructor(conn: PoolConnection, ref: TabletRef, uid: number, shardingColumn: string | null, from?: string) {
    this.#position = from;
    this.#conn = conn;
    this.#ref = ref;
    this.#uid = uid;
    this.#shardingColumn = shardingColumn;
  }

  async #query(sql: string, doing: string): Promise<unknown> {
    try {
      const [result] = await this.#conn.query(sql);
      return result;
    } catch (err) {
      throw new TabletError(this.#ref, doing, err);
    }
  }

  /** The destination table a source table's row images are written to, checked against the images' columns. */
  async shape(table: BinlogTable): Promise<TableShape> {
    const known = this.#shapes.get(table.table);
    if (known) return known;
    const database = this.#ref.tablet.dbName;
    const [columns] = (await this.#conn.query(
      `SELECT COLUMN_NAME AS name, IS_GENERATED AS generated, CHARACTER_SET_NAME AS charset FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, [database, table.table])) as unknown as [ColumnDbRow[]];
    const [keys] = (await this.#conn.query(
      `SELECT COLUMN_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`,
      [database, table.table])) as unknown as [{ name: string }[]];
    const where = `${table.table} on ${describeTablet(this.#ref)}`;
    if (columns.length === 0) throw new StreamStopError(`the streamed table ${where} does not exist`);
    if (columns.length !== table.columns.length) {
      throw new StreamStopError(`table ${where} has ${columns.length} columns but the source's row images have ${table.columns.length}: the schemas differ`);
    }
    const shapes: ColumnShape[] = columns.map((c, i) => {
      const sourceName = table.columns[i].name;
      if (sourceName !== null && sourceName !== c.name) throw new StreamStopError(`column ${i + 1} of ${where} is ${c.name} but the source's is ${sourceName}: the schemas differ`);
      return { name: c.name, generated: c.generated === 'ALWAYS', charset: c.charset === null ? null : String(c.charset) };
    });
    const keyIndexes = keys.map((k) => shapes.findIndex((c) => c.name === k.name));
    const stored = shapes.flatMap((c, i) => (c.generated ? [] : [i]));
    const shardingIndex = this.#shardingColumn === null ? null : shapes.findIndex((c) => c.name === this.#shardingColumn);
    const shape: TableShape = {
      database,
      name: table.table,
      columns: shapes,
      keyIndexes: keyIndexes.length ? keyIndexes : stored,
      hasPrimaryKey: keyIndexes.length > 0,
      shardingIndex: shardingIndex === null || shardingIndex < 0 ? null : shardingIndex,
    };
    this.#shapes.set(table.table, shape);
    return shape;
  }

  /** After a DDL the tables are read again. */
  forgetShapes(): void {
    this.#shapes.clear();
  }

  /**
   * Applies `transactions` (in order) and moves the checkpoint to the last one's position, all in one destination
   * transaction. If a change does not apply, nothing of the group stays and the careful pass names it.
   */
  async apply(transactions: readonly SourceTransaction[]): Promise<void> {
    if (transactions.length === 0) return;
    const last = transactions[transactions.length - 1];
    const planned = planStatements(transactions.flatMap((t) => t.changes));
    await this.#begin();
    try {
      await this.#run(planned);
    } catch (err) {
      await this.#rollback();
      if (err instanceof AffectedRowsError || classifyError(err) === 'fatal') return this.#applyCarefully(transactions);
      throw err;
    }
    await this.#commitAt(last);
  }

  /**
   * Starts a destination transaction holding the checkpoint row, checked to stand where this stream left it: a
   * second writer from the same position (another daemon that took the stream over) waits here, then finds the
   * row moved and applies nothing.
   */
  async #begin(): Promise<void> {
    await this.#query('START TRANSACTION', 'starting a stream transaction');
    if (this.#position === undefined) return;
    const rows = (await this.#query(lockPositionSql(this.#uid), 'locking the stream checkpoint')) as { pos: Buffer | string | null }[];
    const now = rows[0] ? String(rows[0].pos ?? '') : undefined;
    if (now === this.#position) return;
    await this.#rollback();
    const row = `the _vt.blp_checkpoint row of source uid ${this.#uid} on ${describeTablet(this.#ref)}`;
    if (now === undefined) throw new StreamStopError(`${row} is gone`);
    throw new CheckpointMovedError(`${row} is at ${now}, not at ${this.#position} where this stream left it (another daemon may have run the stream meanwhile); resuming from the row`);
  }

  /** Runs planned statements, several per round trip, checking that each affected exactly its rows. */
  async #run(planned: readonly PlannedStatement[]): Promise<void> {
    for (let i = 0; i < planned.length; ) {
      const batch: PlannedStatement[] = [];
      let bytes = 0;
      while (i < planned.length && (batch.length === 0 || bytes + planned[i].sql.length < MAX_QUERY_BYTES)) {
        bytes += planned[i].sql.length + 1;
        batch.push(planned[i++]);
      }
      const result = await this.#query(batch.map((p) => p.sql).join(';'), 'applying stream changes');
      const replies = (batch.length === 1 ? [result] : result) as { affectedRows?: number }[];
      batch.forEach((p, k) => {
        const affected = replies[k]?.affectedRows;
        if (affected !== p.expectedRows) throw new AffectedRowsError(affected ?? -1, p.expectedRows);
      });
    }
  }

  /** Moves the checkpoint (the row must be there) and commits: the rows and the position land together or not at all. */
  async #commitAt(last: SourceTransaction): Promise<void> {
    const moved = (await this.#query(updatePositionSql(this.#uid, last.position, Date.now() / 1000, last.timestamp, this.#position), 'moving the stream checkpoint')) as { affectedRows: number };
    if (moved.affectedRows !== 1) {
      await this.#rollback();
      const row = `the _vt.blp_checkpoint row of source uid ${this.#uid} on ${describeTablet(this.#ref)}`;
      if (this.#position === undefined) throw new StreamStopError(`${row} is gone`);
      throw new CheckpointMovedError(`${row} is no longer at ${this.#position} (another daemon may have run the stream meanwhile); resuming from the row`);
    }
    await this.#query('COMMIT', 'committing stream changes');
    if (this.#position !== undefined) this.#position = last.position;
  }

  /** One source transaction at a time, one change per statement: what applies commits, the first that does not is named. */
  async #applyCarefully(transactions: readonly SourceTransaction[]): Promise<void> {
    for (const txn of transactions) {
      await this.#begin();
      for (const change of txn.changes) {
        const failure = await this.#tryOne(change);
        if (failure !== null) {
          await this.#rollback();
          const key = describeKey(change.table, change.kind === 'insert' ? change.after : change.before);
          throw new DivergenceError(`the destination diverged: ${change.kind} of ${change.table.name} (${key}) in source transaction ${txn.gtid} (position ${txn.position}) ${failure.reason}; the stream stopped before it`, failure.cause);
        }
      }
      await this.#commitAt(txn);
    }
  }

  async #tryOne(change: RowChange): Promise<{ reason: string; cause?: unknown } | null> {
    let result: { affectedRows: number };
    try {
      result = (await this.#query(changeSql(change), `applying a ${change.kind} of ${change.table.name}`)) as { affectedRows: number };
    } catch (err) {
      if (classifyError(err) !== 'fatal') throw err;
      return { reason: `failed: ${(err as Error).message}`, cause: err };
    }
    if (result.affectedRows === 1) return null;
    return { reason: change.kind === 'insert' ? `wrote ${result.affectedRows} rows` : `found ${result.affectedRows === 0 ? 'no row' : `${result.affectedRows} rows`} with that key` };
  }

  async #rollback(): Promise<void> {
    // A failed rollback means a dead connection, which rolls back by itself; the caller's error is the one to report.
    await this.#conn.query('ROLLBACK').catch(() => {});
  }

  /** Moves the checkpoint alone: source transactions that changed nothing here, or a position the source idles at. */
  async advance(position: string, timestamp: number): Promise<void> {
    await this.apply([{ gtid: '', position, timestamp, changes: [] }]);
  }

  /** `--on-ddl exec`: runs the statement in the destination database, then moves the checkpoint past it. */
  async exec(statement: string, position: string, timestamp: number): Promise<void> {
    // DDL commits implicitly, so it cannot share the checkpoint's transaction; a crash between the two repeats it.
    await this.#query(`USE \`${this.#ref.tablet.dbName.replace(/`/g, '``')}\``, 'selecting the destination database');
    await this.#query(statement, 'applying a DDL statement');
    this.forgetShapes();
    await this.advance(position, timestamp);
  }
}

class AffectedRowsError extends Error {
  constructor(affected: number, expected: number) {
    super(`a statement affected ${affected} rows, not ${expected}`);
    this.name = 'AffectedRowsError';
  }
}
