// The applier writes one destination primary: source transactions as one destination transaction together with
// the stream's checkpoint row, so rows and position commit together (DESIGN.md "Filtered replication", Applying).
// It never reads the binlog and never decides what belongs to the destination: the stream and the filter do.
// Every statement goes through the destination's tablet client (src/mysql/tablet-client.ts), which retries, backs
// off and follows a failover; what makes a repeat exact is here: each transaction first locks the checkpoint row and
// applies only onto the position it follows.

import type { BinlogTable } from '../mysql/wire/binlog/events.ts';
import { describeTablet } from '../mysql/connection.ts';
import { classifyError, type FailureKind } from '../mysql/retry.ts';
import type { TabletClient, Transaction } from '../mysql/tablet-client.ts';
import { DENY_TRIGGER_PREFIX } from '../mysql/write-control.ts';
import type { ColumnShape, RowChange, TableShape } from './changes.ts';
import { lockPositionSql, positionOf, updatePositionSql } from './checkpoint-row.ts';
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

/** The stream cannot go on for a reason that retrying will not change (schema, DDL, a missing table, a trigger). */
export class StreamStopError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamStopError';
  }
}

/**
 * The checkpoint row is not at the position this session applied up to (a failover to a primary that lacks the last
 * commits, another writer): nothing was applied; a new session resumes from the row, which is exact.
 */
export class CheckpointMovedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointMovedError';
  }
}

/** The stream's own verdicts: never retried by the tablet client (a new session may follow a moved checkpoint). */
function classifyApply(err: unknown): FailureKind {
  if (err instanceof DivergenceError || err instanceof StreamStopError || err instanceof CheckpointMovedError) return 'fatal';
  return classifyError(err);
}

interface ColumnDbRow {
  name: string;
  generated: string;
  charset: string | null;
}
interface TriggerDbRow {
  name: string;
  table: string;
  timing: string;
  event: string;
}

/** SQL text per round trip while applying a group: several statements in one query, the replies checked one by one. */
const MAX_QUERY_BYTES = 4 << 20;

/** Errors of a DDL statement repeated after it had run (table exists, unknown table, duplicate column or key, can't drop). */
const DDL_REPEATED_ERRNOS = [1050, 1051, 1060, 1061, 1091];

export class Applier {
  readonly #client: TabletClient;
  readonly #uid: number;
  readonly #shardingColumn: string | null;
  /** The position the checkpoint row holds as far as this session knows: what the next transaction follows. */
  #position: string;
  /** Destination table shapes by source table name; read once per session, dropped after a DDL. */
  readonly #shapes = new Map<string, TableShape>();

  constructor(client: TabletClient, uid: number, shardingColumn: string | null, position: string) {
    this.#client = client;
    this.#uid = uid;
    this.#shardingColumn = shardingColumn;
    this.#position = position;
  }

  get #ref() {
    return this.#client.ref;
  }

  /** The destination table's shape if already read (the common case: no promise per rows event). */
  knownShape(table: BinlogTable): TableShape | undefined {
    return this.#shapes.get(table.table);
  }

  /** The destination table a source table's row images are written to, checked against the images' columns. */
  async shape(table: BinlogTable): Promise<TableShape> {
    const known = this.#shapes.get(table.table);
    if (known) return known;
    const database = this.#ref.tablet.dbName;
    const columns = await this.#client.query<ColumnDbRow[]>(
      `reading the columns of ${table.table}`,
      `SELECT COLUMN_NAME AS name, IS_GENERATED AS generated, CHARACTER_SET_NAME AS charset FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [database, table.table],
      { context: { table: table.table } },
    );
    const keys = await this.#client.query<{ name: string }[]>(
      `reading the primary key of ${table.table}`,
      `SELECT COLUMN_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`,
      [database, table.table],
      { context: { table: table.table } },
    );
    const where = `${table.table} on ${describeTablet(this.#ref)}`;
    if (columns.length === 0) throw new StreamStopError(`the streamed table ${where} does not exist`);
    if (columns.length !== table.columns.length) {
      throw new StreamStopError(`table ${where} has ${columns.length} columns but the source's row images have ${table.columns.length}: the schemas differ`);
    }
    const shapes: ColumnShape[] = columns.map((c, i) => {
      const sourceName = table.columns[i].name;
      if (sourceName !== null && sourceName !== c.name)
        throw new StreamStopError(`column ${i + 1} of ${where} is ${c.name} but the source's is ${sourceName}: the schemas differ`);
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
   * Stops the stream if a streamed destination table has a trigger. Applying the source's row events would fire it:
   * a BEFORE trigger rewrites the applied values, an AFTER trigger writes rows the source's binlog already carries
   * (ROW format logs a trigger's changes as row events of their own). Either is a silent divergence. `tables`: the
   * streamed tables (null: all). Checked at session start and after a DDL the stream ran.
   */
  async refuseTriggers(tables: ReadonlySet<string> | null): Promise<void> {
    const triggers = await this.#client.query<TriggerDbRow[]>(
      'listing the triggers of the streamed tables',
      `SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS \`table\`, ACTION_TIMING AS timing, EVENT_MANIPULATION AS event
        FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, TRIGGER_NAME`,
      [this.#ref.tablet.dbName],
    );
    // A vertical cutover's deny triggers (write-control.ts) let the stream's session through: they are no reason to stop.
    const streamed = triggers.filter((t) => (tables === null || tables.has(String(t.table))) && !String(t.name).startsWith(DENY_TRIGGER_PREFIX));
    if (streamed.length === 0) return;
    const found = streamed[0];
    const all = streamed.map((t) => `${t.name} on ${t.table}`);
    throw new StreamStopError(
      `the streamed table ${found.table} on ${describeTablet(this.#ref)} has trigger ${found.name} (${found.timing} ${found.event})`
        + (all.length > 1 ? `, and more (${all.join(', ')})` : '')
        + `: applying the source's row events would fire it on the destination, rewriting applied rows or writing rows the source's binlog already carries, a silent divergence; `
        + `a stream does not apply to a table with triggers: drop them on the destination (DROP TRIGGER) and create them again at cutover, then start the stream`,
    );
  }

  /**
   * Applies `transactions` (in order) and moves the checkpoint to the last one's position, all in one destination
   * transaction, retried by the tablet client as a whole. If a change does not apply, nothing of the group stays
   * and the careful pass names it.
   */
  async apply(transactions: readonly SourceTransaction[]): Promise<void> {
    if (transactions.length === 0) return;
    const last = transactions[transactions.length - 1];
    const from = this.#position;
    const planned = planStatements(transactions.flatMap((t) => t.changes));
    const doing = 'applying stream changes';
    const outcome = await this.#client.attempt(
      doing,
      (channel) =>
        channel
          .transaction(doing, async (tx) => {
            if ((await this.#lockAt(tx, from, last.position)) === 'landed') return 'applied';
            await this.#run(tx, planned);
            await this.#moveTo(tx, last);
            return 'applied';
          })
          .catch((err: unknown) => {
            // Rolled back: a change that does not apply is found and named one transaction at a time.
            if (err instanceof AffectedRowsError || (classifyApply(err) === 'fatal' && !isVerdict(err))) return 'careful' as const;
            throw err;
          }),
      { classify: classifyApply, message: 'stream apply failed; retrying', context: { transactions: transactions.length } },
    );
    if (outcome === 'careful') return this.#applyCarefully(transactions);
    this.#position = last.position;
  }

  /**
   * Locks the checkpoint row and checks where it stands: at `from`, the transaction applies; at `to`, an earlier
   * attempt whose outcome was unknown (the connection died at COMMIT) had landed; elsewhere, the session is stale.
   */
  async #lockAt(tx: Transaction, from: string, to: string): Promise<'apply' | 'landed'> {
    const rows = await tx.query<{ pos: Buffer | string | null }[]>('locking the stream checkpoint', lockPositionSql(this.#uid));
    if (rows.length === 0) throw new StreamStopError(`the _vt.blp_checkpoint row of source uid ${this.#uid} on ${describeTablet(this.#ref)} is gone`);
    const position = positionOf(rows[0].pos);
    if (position === from) return 'apply';
    if (position === to) return 'landed';
    throw new CheckpointMovedError(
      `the _vt.blp_checkpoint row of source uid ${this.#uid} on ${describeTablet(this.#ref)} is at ${position}, not at ${from} where the stream left it: resuming from the row`,
    );
  }

  /** Runs planned statements, several per round trip, checking that each affected exactly its rows. */
  async #run(tx: Transaction, planned: readonly PlannedStatement[]): Promise<void> {
    for (let i = 0; i < planned.length; ) {
      const batch: PlannedStatement[] = [];
      let bytes = 0;
      while (i < planned.length && (batch.length === 0 || bytes + planned[i].sql.length < MAX_QUERY_BYTES)) {
        bytes += planned[i].sql.length + 1;
        batch.push(planned[i++]);
      }
      const result = await tx.query<unknown>('applying stream changes', batch.map((p) => p.sql).join(';'));
      const replies = (batch.length === 1 ? [result] : result) as { affectedRows?: number }[];
      batch.forEach((p, k) => {
        const affected = replies[k]?.affectedRows;
        if (affected !== p.expectedRows) throw new AffectedRowsError(affected ?? -1, p.expectedRows);
      });
    }
  }

  /** Moves the checkpoint (locked by #lockAt) in the transaction of the rows: they land together or not at all. */
  async #moveTo(tx: Transaction, last: SourceTransaction): Promise<void> {
    const moved = await tx.query<{ affectedRows: number }>(
      'moving the stream checkpoint',
      updatePositionSql(this.#uid, last.position, Date.now() / 1000, last.timestamp),
    );
    if (moved.affectedRows !== 1) throw new StreamStopError(`the _vt.blp_checkpoint row of source uid ${this.#uid} on ${describeTablet(this.#ref)} is gone`);
  }

  /** One source transaction at a time, one change per statement: what applies commits, the first that does not is named. */
  async #applyCarefully(transactions: readonly SourceTransaction[]): Promise<void> {
    for (const txn of transactions) {
      const from = this.#position;
      const doing = `applying source transaction ${txn.gtid || txn.position}`;
      await this.#client.attempt(
        doing,
        (channel) =>
          channel.transaction(doing, async (tx) => {
            if ((await this.#lockAt(tx, from, txn.position)) === 'landed') return;
            for (const change of txn.changes) {
              const failure = await this.#tryOne(tx, change);
              if (failure === null) continue;
              const key = describeKey(change.table, change.kind === 'insert' ? change.after : change.before);
              throw new DivergenceError(
                `the destination diverged: ${change.kind} of ${change.table.name} (${key}) in source transaction ${txn.gtid} (position ${txn.position}) ${failure.reason}; the stream stopped before it`,
                failure.cause,
              );
            }
            await this.#moveTo(tx, txn);
          }),
        { classify: classifyApply, message: 'stream apply failed; retrying' },
      );
      this.#position = txn.position;
    }
  }

  async #tryOne(tx: Transaction, change: RowChange): Promise<{ reason: string; cause?: unknown } | null> {
    let result: { affectedRows: number };
    try {
      result = await tx.query<{ affectedRows: number }>(`applying a ${change.kind} of ${change.table.name}`, changeSql(change));
    } catch (err) {
      if (classifyError(err) !== 'fatal') throw err;
      return { reason: `failed: ${(err as Error).message}`, cause: err };
    }
    if (result.affectedRows === 1) return null;
    return {
      reason:
        change.kind === 'insert'
          ? `wrote ${result.affectedRows} rows`
          : `found ${result.affectedRows === 0 ? 'no row' : `${result.affectedRows} rows`} with that key`,
    };
  }

  /** Moves the checkpoint alone: source transactions that changed nothing here, or a position the source idles at. */
  async advance(position: string, timestamp: number): Promise<void> {
    await this.apply([{ gtid: '', position, timestamp, changes: [] }]);
  }

  /** `--on-ddl exec`: runs the statement in the destination database, then moves the checkpoint past it. */
  async exec(statement: string, position: string, timestamp: number): Promise<void> {
    // DDL commits implicitly, so it cannot share the checkpoint's transaction; a crash between the two repeats it.
    // The client's connections are in the destination database; a repeat after an unknown outcome is recognised by
    // the server's refusal.
    await this.#client.query('applying a DDL statement', statement, undefined, {
      repeat: { kind: 'error', errnos: DDL_REPEATED_ERRNOS },
      classify: classifyApply,
    });
    this.forgetShapes();
    await this.advance(position, timestamp);
  }
}

/** The stream's own decisions, which are never a reason for the careful pass. */
function isVerdict(err: unknown): boolean {
  return err instanceof DivergenceError || err instanceof StreamStopError || err instanceof CheckpointMovedError;
}

class AffectedRowsError extends Error {
  constructor(affected: number, expected: number) {
    super(`a statement affected ${affected} rows, not ${expected}`);
    this.name = 'AffectedRowsError';
  }
}
