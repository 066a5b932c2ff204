// Checkpoints of a copy on each destination, so a job whose process died can be finished by the next one (--resume):
// `_vt.copy_job`, one row per unfinished clone job (what it copies from, its snapshot positions), and
// `_vt.copy_state`, one row per table plan (chunk -1, the chunk ranges as JSON, so a resume cuts the very same
// chunks) and one per finished chunk, written once every batch of the chunk is written. A job that ends well clears
// its rows (finishJob); one that fails leaves them, for --resume.

import type { Logger } from 'pino';
import { LANDED_IF_DUPLICATE_KEY, type TabletDb } from '../mysql/tablet-client.ts';
import { chunkCondition, parseChunkPlan, type ChunkPlan, type ChunkRange } from '../mysql/chunker.ts';
import type { TableDefinition } from '../mysql/schema.ts';
import { quoteTable } from '../mysql/sql.ts';
import type { ChunkMarks } from '../pipeline/contracts.ts';

export const CREATE_COPY_STATE = [
  'CREATE DATABASE IF NOT EXISTS `_vt`',
  `CREATE TABLE IF NOT EXISTS \`_vt\`.\`copy_job\` (
    job_id VARBINARY(64) NOT NULL PRIMARY KEY,
    command VARBINARY(64) NOT NULL,
    keyspace VARBINARY(255) NOT NULL,
    shard VARBINARY(255) NOT NULL,
    source_tablets BLOB NOT NULL,
    positions BLOB NOT NULL,
    started BIGINT UNSIGNED NOT NULL,
    finished BIGINT UNSIGNED NULL
  ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS \`_vt\`.\`copy_state\` (
    job_id VARBINARY(64) NOT NULL,
    source_index INT NOT NULL,
    table_name VARBINARY(255) NOT NULL,
    chunk INT NOT NULL,
    plan MEDIUMBLOB NULL,
    done_time BIGINT UNSIGNED NULL,
    PRIMARY KEY (job_id, source_index, table_name, chunk)
  ) ENGINE=InnoDB`,
];

const PLAN_CHUNK = -1;

export interface CopyJobRecord {
  jobId: string;
  command: string;
  keyspace: string;
  shard: string;
  /** Alias of the tablet taken in each source shard, in order. */
  sourceTablets: string[];
  /** The snapshot position of each, in order. */
  positions: string[];
}

/** A destination's database; its client retries every statement. Each statement here is idempotent but one (said there). */
export type CopyDestination = TabletDb;

export async function createCopyState(d: CopyDestination): Promise<void> {
  for (const sql of CREATE_COPY_STATE) await d.client.query('creating _vt.copy_state', sql);
}

export async function recordJob(d: CopyDestination, job: CopyJobRecord): Promise<void> {
  // The job id is the key: a duplicate on a repeat after a lost connection means the first attempt landed.
  await d.client.query(
    'writing _vt.copy_job',
    'INSERT INTO `_vt`.`copy_job` (job_id, command, keyspace, shard, source_tablets, positions, started) VALUES (?, ?, ?, ?, ?, ?, ?)',
    [job.jobId, job.command, job.keyspace, job.shard, JSON.stringify(job.sourceTablets), JSON.stringify(job.positions), Math.floor(Date.now() / 1000)],
    { repeat: LANDED_IF_DUPLICATE_KEY },
  );
}

/**
 * A finished copy needs no checkpoints: its rows go, and the tables too once no other job has any (a destination
 * is left with nothing in `_vt` but what replication needs).
 */
export async function finishJob(d: CopyDestination, jobId: string): Promise<void> {
  const doing = 'clearing _vt.copy_state';
  await d.client.query(doing, 'DELETE FROM `_vt`.`copy_state` WHERE job_id = ?', [jobId]);
  await d.client.query(doing, 'DELETE FROM `_vt`.`copy_job` WHERE job_id = ?', [jobId]);
  const left = await d.client.query<unknown[]>(doing, 'SELECT 1 FROM `_vt`.`copy_job` LIMIT 1');
  if (left.length === 0) await d.client.query(doing, 'DROP TABLE IF EXISTS `_vt`.`copy_state`, `_vt`.`copy_job`');
}

/** The latest unfinished clone of these shards recorded on the destination, or null. */
export async function findUnfinishedJob(d: CopyDestination, command: string, keyspace: string, shard: string): Promise<CopyJobRecord | null> {
  const exists = await d.client.query<unknown[]>(
    'looking for _vt.copy_job',
    "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = '_vt' AND TABLE_NAME = 'copy_job'",
  );
  if (exists.length === 0) return null;
  const rows = await d.client.query<{ jobId: Buffer | string; sourceTablets: Buffer | string; positions: Buffer | string }[]>(
    'reading _vt.copy_job',
    'SELECT job_id AS jobId, source_tablets AS sourceTablets, positions FROM `_vt`.`copy_job` WHERE command = ? AND keyspace = ? AND shard = ? AND finished IS NULL ORDER BY started DESC LIMIT 1',
    [command, keyspace, shard],
  );
  if (rows.length === 0) return null;
  const r = rows[0];
  return {
    jobId: String(r.jobId),
    command,
    keyspace,
    shard,
    sourceTablets: JSON.parse(String(r.sourceTablets)) as string[],
    positions: JSON.parse(String(r.positions)) as string[],
  };
}

/** The condition on a destination table's rows that came from source `sourceIndex` ('' when all did). */
export type SourceRows = (sourceIndex: number, table: TableDefinition) => string;

const key = (sourceIndex: number, table: string, chunk: number) => `${sourceIndex}\0${table}\0${chunk}`;

/**
 * The copier's checkpoints for one job: chunk plans and finished chunks, marked on every destination. Resuming,
 * it loads the old job's marks first; a chunk counts as done only when every destination has its mark.
 */
export class CopyState implements ChunkMarks {
  readonly #dests: CopyDestination[];
  readonly #jobId: string;
  readonly #log: Logger;
  readonly #plans = new Map<string, ChunkPlan>();
  readonly #done = new Set<string>();
  readonly #resumed: boolean;
  /** SQL condition on the rows of a table that came from a source ('' for all): see prepare(). */
  readonly #sourceRows: SourceRows;
  /** One per destination, in the order of #dests. */
  readonly #writers: MarkWriter[];

  private constructor(dests: CopyDestination[], jobId: string, log: Logger, resumed: boolean, sourceRows: SourceRows) {
    this.#dests = dests;
    this.#jobId = jobId;
    this.#log = log;
    this.#resumed = resumed;
    this.#sourceRows = sourceRows;
    this.#writers = dests.map((d) => new MarkWriter(d));
  }

  static fresh(dests: CopyDestination[], jobId: string, log: Logger): CopyState {
    return new CopyState(dests, jobId, log, false, () => '');
  }

  /** The old job's plans and finished chunks, carried on under its job id. */
  static async resume(dests: CopyDestination[], jobId: string, log: Logger, sourceRows: SourceRows): Promise<CopyState> {
    const state = new CopyState(dests, jobId, log, true, sourceRows);
    const counts = new Map<string, number>();
    for (const d of dests) {
      const rows = await d.client.query<{ s: number; t: Buffer | string; c: number; plan: Buffer | string | null }[]>(
        'reading _vt.copy_state',
        'SELECT source_index AS s, table_name AS t, chunk AS c, plan FROM `_vt`.`copy_state` WHERE job_id = ?',
        [jobId],
      );
      for (const r of rows) {
        const k = key(Number(r.s), String(r.t), Number(r.c));
        if (Number(r.c) === PLAN_CHUNK) state.#plans.set(k, parseChunkPlan(String(r.plan), String(r.t)));
        else counts.set(k, (counts.get(k) ?? 0) + 1);
      }
    }
    for (const [k, n] of counts) if (n === dests.length) state.#done.add(k);
    log.info({ plans: state.#plans.size, chunksDone: state.#done.size }, 'resuming: the old job’s marks read');
    return state;
  }

  /** The plan an earlier run recorded for this table and source: a resumed copy cuts the table the same way. */
  knownPlan(sourceIndex: number, table: string): ChunkPlan | undefined {
    return this.#plans.get(key(sourceIndex, table, PLAN_CHUNK));
  }

  /**
   * Records a table's plan, before any of its chunks is marked done: an open one as it grows (its chunks so far,
   * see clone/growing-plan.ts), then the whole one. A whole plan of one chunk (the whole table) is
   * not recorded: whatever plan a resumed copy makes then, its first chunk holds every row when that one chunk is
   * marked done, and each chunk it copies is emptied first (prepare). 2,000 small tables were 2,000 statements more
   * on every destination, each a round trip the next table's plan waited for.
   */
  async recordPlan(sourceIndex: number, table: TableDefinition, plan: ChunkPlan): Promise<void> {
    if (plan.chunks.length === 1 && !plan.open) return;
    this.#plans.set(key(sourceIndex, table.name, PLAN_CHUNK), plan);
    await this.#mark(sourceIndex, table.name, PLAN_CHUNK, JSON.stringify(plan));
  }

  isDone(sourceIndex: number, table: string, chunk: number): boolean {
    return this.#done.has(key(sourceIndex, table, chunk));
  }

  /**
   * Resuming: deletes the rows of the chunk's key range an earlier run may have written (none otherwise): of its own
   * source only, so that in a merge the rows another source copied into the same keys (its chunk marked done) stay.
   */
  async prepare(sourceIndex: number, table: TableDefinition, plan: ChunkPlan, chunk: number, range: ChunkRange): Promise<void> {
    if (!this.#resumed) return;
    const conditions = [chunkCondition(table, plan, range) ?? '', this.#sourceRows(sourceIndex, table)].filter(Boolean);
    const where = conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '';
    await Promise.all(
      this.#dests.map(async (d) => {
        const result = await d.client.query<{ affectedRows: number }>(
          `removing the partly copied chunk ${chunk} of ${table.name}`,
          `DELETE FROM ${quoteTable(d.dbName, table.name)}${where}`,
        );
        if (result.affectedRows)
          this.#log.info({ table: table.name, chunk, tablet: d.client.ref.alias, rows: result.affectedRows }, 'resuming: rows of an unfinished chunk removed');
      }),
    );
  }

  async done(sourceIndex: number, table: string, chunk: number): Promise<void> {
    await this.#mark(sourceIndex, table, chunk, null);
  }

  async #mark(sourceIndex: number, table: string, chunk: number, plan: string | null): Promise<void> {
    const row = [this.#jobId, sourceIndex, table, chunk, plan, Math.floor(Date.now() / 1000)];
    await Promise.all(this.#writers.map((w) => w.write(row)));
  }
}

/**
 * One destination's marks, written as a group commit: a mark asked for while none is being written goes at once;
 * those asked for meanwhile go together, in one REPLACE, as soon as it returns. 2,000 tables of one chunk each were
 * 8,000 statements on a destination (a plan and a done mark per table) at a socket write each.
 */
class MarkWriter {
  readonly #d: CopyDestination;
  #pending: { row: unknown[]; settle: { resolve(): void; reject(err: unknown): void } }[] = [];
  #writing = false;

  constructor(d: CopyDestination) {
    this.#d = d;
  }

  write(row: unknown[]): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.#pending.push({ row, settle: { resolve, reject } }));
    if (!this.#writing) void this.#flush();
    return done;
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    while (this.#pending.length) {
      const batch = this.#pending.splice(0, 500);
      const tables = [...new Set(batch.map((m) => m.row[2]))].join(', ');
      try {
        // Idempotent: a repeat after a lost connection writes the same rows again.
        await this.#d.client.query(
          `writing _vt.copy_state for ${tables.length > 200 ? `${batch.length} chunks` : tables}`,
          `REPLACE INTO \`_vt\`.\`copy_state\` (job_id, source_index, table_name, chunk, plan, done_time) VALUES ${batch.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}`,
          batch.flatMap((m) => m.row),
        );
        for (const m of batch) m.settle.resolve();
      } catch (err) {
        for (const m of batch) m.settle.reject(err);
      }
    }
    this.#writing = false;
  }
}
