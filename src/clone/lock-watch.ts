// Watches the destinations while a job writes to them, for the waits that make a copy stall without failing: a
// statement waiting on a lock (a table or metadata lock held by LOCK TABLES, an ALTER or an open transaction; an
// InnoDB row lock) for 2 s or more, and an InnoDB redo log so full that every write waits for its checkpoint. It
// only looks and reports: each poll's findings replace the last (an empty list once the wait is over).
// (Issue 16: one default run in nine took 45 s instead of 11–14 s with nothing failing; InnoDB's lock wait timeout is
// 50 s. Whatever holds a copy up like that now shows on the status page while it happens.)

import type { Logger } from 'pino';
import type { TabletClient } from '../mysql/tablet-client.ts';

export interface WatchedDestination {
  alias: string;
  dbName: string;
  /** A client of its own (one connection): the watch must not queue behind the writers it watches. */
  client: TabletClient;
}

export interface LockWatchOptions {
  signal: AbortSignal;
  /** Called after each poll with the lines that hold now (the same lines are not reported twice in a row). */
  onChange(lines: string[]): void;
  log: Logger;
  /** @default 1000 */
  intervalMs?: number;
  /** A wait shorter than this is not reported. @default 2 */
  minWaitSeconds?: number;
  /** The redo log's checkpoint age over its maximum past which it is reported. @default 0.8 */
  redoFullFraction?: number;
}

interface ProcessRow {
  ID: number | string;
  TIME: number | string;
  STATE: string | null;
  INFO: string | null;
}

interface RowLockWaitRow {
  waiting_thread: number | string;
  seconds: number | string | null;
  waiting_query: string | null;
  blocking_thread: number | string;
  blocking_query: string | null;
  lock_table: string | null;
}

/** The table a statement names (`db`.`t` or t after INTO, TABLE, UPDATE or FROM), for the line's subject. */
export function tableOf(sql: string | null): string | null {
  if (!sql) return null;
  const m = /\b(?:INTO(?:\s+TABLE)?|ALTER\s+TABLE|UPDATE|FROM|DELETE\s+FROM)\s+((?:`(?:[^`]|``)+`|\w+)(?:\s*\.\s*(?:`(?:[^`]|``)+`|\w+))?)/i.exec(sql);
  if (!m) return null;
  return m[1].replace(/\s+/g, '');
}

/** A statement shortened for one line. */
export function statementHead(sql: string | null, max = 80): string {
  if (!sql) return '(no statement: an open transaction or LOCK TABLES between statements)';
  const one = sql.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

/** SQL: threads of this database (or the job's `_vt` marks) whose state has been a lock wait for `?` seconds. */
export const LOCK_STATE_WAITS_SQL = `SELECT ID, TIME, STATE, LEFT(INFO, 300) AS INFO FROM information_schema.PROCESSLIST
  WHERE ID <> CONNECTION_ID() AND COMMAND NOT IN ('Sleep', 'Daemon', 'Binlog Dump', 'Binlog Dump GTID')
    AND TIME >= ? AND (STATE LIKE '%lock%' OR STATE = 'Locked')
    AND (DB IN (?, '_vt') OR LOCATE(?, INFO) > 0 OR LOCATE('\`_vt\`', INFO) > 0)`;

/** SQL: InnoDB row lock waits older than `?` seconds, with the transaction that blocks each. */
export const ROW_LOCK_WAITS_SQL = `SELECT r.trx_mysql_thread_id AS waiting_thread, TIMESTAMPDIFF(SECOND, r.trx_wait_started, NOW()) AS seconds,
    LEFT(r.trx_query, 300) AS waiting_query, b.trx_mysql_thread_id AS blocking_thread, LEFT(b.trx_query, 300) AS blocking_query,
    l.lock_table AS lock_table
  FROM information_schema.INNODB_LOCK_WAITS w
  JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id
  JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id
  LEFT JOIN information_schema.INNODB_LOCKS l ON l.lock_id = w.requested_lock_id
  WHERE r.trx_wait_started <= NOW() - INTERVAL ? SECOND`;

/** SQL: how full the redo log is (MariaDB's status variables). */
export const REDO_SQL = "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_checkpoint_age', 'Innodb_checkpoint_max_age')";

const MiB = 1024 * 1024;

/** A line without its figures: the same wait, seconds or percent later. */
function subjectOf(line: string): string {
  return line.replace(/\d+/g, '#');
}

/** One destination's lines, from its three probes' rows (pure: the tests feed it rows). */
export function waitLines(
  alias: string,
  found: { stateWaits: ProcessRow[]; rowWaits: RowLockWaitRow[]; redo: { age: number; maxAge: number } | null },
  redoFullFraction: number,
): string[] {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const w of found.rowWaits) {
    seen.add(String(w.waiting_thread));
    const table = w.lock_table ?? tableOf(w.waiting_query) ?? 'a table';
    lines.push(
      `${alias}: ${table}: thread ${w.waiting_thread} (${statementHead(w.waiting_query)}) has waited ${w.seconds ?? '?'} s for a row lock held by thread ${w.blocking_thread} (${statementHead(w.blocking_query)})`,
    );
  }
  for (const p of found.stateWaits) {
    if (seen.has(String(p.ID))) continue;
    const table = tableOf(p.INFO) ?? 'a table';
    lines.push(`${alias}: ${table}: thread ${p.ID} (${statementHead(p.INFO)}) has waited ${p.TIME} s: ${p.STATE ?? 'waiting for a lock'}`);
  }
  if (found.redo && found.redo.maxAge > 0 && found.redo.age / found.redo.maxAge > redoFullFraction) {
    const pct = Math.round((found.redo.age / found.redo.maxAge) * 100);
    lines.push(
      `${alias}: InnoDB redo log ${pct}% full (checkpoint age ${Math.round(found.redo.age / MiB)} MiB of ${Math.round(found.redo.maxAge / MiB)} MiB): writes wait for its checkpoint (a larger innodb_log_file_size helps)`,
    );
  }
  return lines;
}

/**
 * Polls every destination until `signal` aborts or stop() is called. A probe the server refuses (a table it does not
 * have, a missing PROCESS privilege) is dropped for that destination, logged once; an unreachable destination is
 * skipped for that poll (the writers' retries deal with it).
 */
export class LockWatch {
  readonly #dests: WatchedDestination[];
  readonly #opts: Required<Omit<LockWatchOptions, 'signal' | 'onChange' | 'log'>> & LockWatchOptions;
  readonly #stopped = new AbortController();
  /** Probes refused, by destination alias: not asked again. */
  readonly #refused = new Map<string, Set<string>>();
  #last = '';
  /** The subjects (lines without their figures) of the last poll: a wait is logged when it starts. */
  #logged = new Set<string>();
  #loop: Promise<void> | null = null;

  constructor(dests: WatchedDestination[], opts: LockWatchOptions) {
    this.#dests = dests;
    this.#opts = { intervalMs: 1000, minWaitSeconds: 2, redoFullFraction: 0.8, ...opts };
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Ends the polling and clears what it reported. */
  async stop(): Promise<void> {
    this.#stopped.abort();
    await this.#loop;
    if (this.#last !== '') this.#opts.onChange([]);
    this.#last = '';
  }

  async #run(): Promise<void> {
    const stop = AbortSignal.any([this.#opts.signal, this.#stopped.signal]);
    while (!stop.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, this.#opts.intervalMs);
        function done() {
          clearTimeout(t);
          stop.removeEventListener('abort', done);
          resolve();
        }
        stop.addEventListener('abort', done, { once: true });
      });
      if (stop.aborted) break;
      const lines = (await Promise.all(this.#dests.map((d) => this.#poll(d)))).flat();
      if (stop.aborted) break;
      const key = lines.join('\n');
      if (key !== this.#last) {
        this.#last = key;
        this.#opts.onChange(lines);
      }
      // The log gets a wait when it starts, not at every poll while its figures move (a redo log that stays full
      // for half a minute is one line).
      const subjects = new Set(lines.map(subjectOf));
      for (const line of lines) if (!this.#logged.has(subjectOf(line))) this.#opts.log.warn({ wait: line }, `waiting: ${line}`);
      this.#logged = subjects;
    }
  }

  async #probe<T>(d: WatchedDestination, name: string, sql: string, values: unknown[]): Promise<T[] | null> {
    const refused = this.#refused.get(d.alias) ?? new Set<string>();
    this.#refused.set(d.alias, refused);
    if (refused.has(name)) return null;
    try {
      return await d.client.query<T[]>(`watching ${name}`, sql, values);
    } catch (err) {
      const errno = (err as { cause?: { errno?: unknown }; errno?: unknown }).cause?.errno ?? (err as { errno?: unknown }).errno;
      // A refusal by the server (no such table, no privilege) is for good; a lost connection is for this poll.
      if (typeof errno === 'number' && errno < 2000) {
        refused.add(name);
        this.#opts.log.info({ tablet: d.alias, probe: name, err }, `the lock watch cannot read ${name} on ${d.alias}; it goes on without it`);
      }
      return null;
    }
  }

  async #poll(d: WatchedDestination): Promise<string[]> {
    const min = this.#opts.minWaitSeconds;
    const [stateWaits, rowWaits, redoRows] = await Promise.all([
      this.#probe<ProcessRow>(d, 'lock waits (PROCESSLIST)', LOCK_STATE_WAITS_SQL, [min, d.dbName, `\`${d.dbName}\``]),
      this.#probe<RowLockWaitRow>(d, 'row lock waits (INNODB_LOCK_WAITS)', ROW_LOCK_WAITS_SQL, [min]),
      this.#probe<{ Variable_name: string; Value: string }>(d, 'the redo log fill', REDO_SQL, []),
    ]);
    const status = new Map((redoRows ?? []).map((r) => [r.Variable_name.toLowerCase(), Number(r.Value)]));
    const age = status.get('innodb_checkpoint_age');
    const maxAge = status.get('innodb_checkpoint_max_age');
    const redo = age !== undefined && maxAge !== undefined ? { age, maxAge } : null;
    return waitLines(d.alias, { stateWaits: stateWaits ?? [], rowWaits: rowWaits ?? [], redo }, this.#opts.redoFullFraction);
  }
}
