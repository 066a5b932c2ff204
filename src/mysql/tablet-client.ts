// Talking to a tablet, with its faults handled in this one place: every statement a job sends to a tablet (source
// or destination, copy or diff, data or bookkeeping) goes through a TabletClient, which classifies a failure
// (retry.ts), backs off, shares one outage window among everything that talks to the tablet, looks the shard's
// primary up again after a failover (1290), logs each retry naming the tablet and what was being done, and counts it.
// Nothing outside src/mysql holds a pool: a caller gets a Channel (a pool's statements) only inside an attempt
// (`attempt`), so it cannot reach a tablet around the retry.
//
// A statement that is not naturally idempotent says how a repeat is made safe (`Repeat`): after a connection-level
// failure its outcome is unknown, and the next attempt must recognise that it had landed.

import type { Logger } from 'pino';
import { acquireConnection, openPool, queryOn, TabletError, type Pool, type PoolOptions, type TabletRef } from './connection.ts';
import { classifyError, errorCodes, isDuplicateKey, withRetry, type FailureKind, type Outage, type RetryEvent, type RetryPolicy } from './retry.ts';
import type { Credentials, DbTls } from '../topology/types.ts';
import { BulkLanes, probeBulk } from './wire/bulk-execute.ts';
import { loadDataOn } from './wire/infile.ts';
import { scanRows, type RowSink, type ScanOptions } from './wire/raw-rows.ts';
import { scanBatches, type BatchScanOptions, type RowBatch } from './row-batches.ts';
import { discardConnection } from './wire/discard.ts';

/**
 * How a repeat of a statement is made safe after an attempt whose outcome is unknown (the connection died under it):
 * - `idempotent`: running it twice is running it once (a read, a REPLACE, CREATE … IF NOT EXISTS, a DELETE of a
 *   key range, STOP SLAVE). The default.
 * - `duplicate-key`: one atomic INSERT (a batch, a job record): a duplicate key on a later attempt means it landed.
 * - `error`: the server's refusal of a repeat names what happened (a CREATE TABLE that did run: 1050).
 * - `check`: asked before the repeat whether the first attempt took effect (an ALTER recognised from the table's
 *   definition); true ends the step as done.
 */
export type Repeat =
  | { kind: 'idempotent' }
  | { kind: 'duplicate-key' }
  | { kind: 'error'; errnos: number[] }
  | { kind: 'check'; landed: () => Promise<boolean> };

export const IDEMPOTENT: Repeat = { kind: 'idempotent' };
export const LANDED_IF_DUPLICATE_KEY: Repeat = { kind: 'duplicate-key' };

export interface AttemptOptions {
  repeat?: Repeat;
  /** Log fields beside the tablet and `doing` (table, chunk). */
  context?: Record<string, unknown>;
  /** The retry log line (default `statement failed; retrying`). */
  message?: string;
  /** Narrows what is retried (a read refused as read-only is no failover, say); classifyError by default. */
  classify?: (err: unknown) => FailureKind;
}

/** What a tablet link reports to its job. */
export interface TabletLinkHooks {
  /** The policy while retrying is on; null while the job has changed nothing yet: fail at once, naming the tablet. */
  policy(): RetryPolicy | null;
  signal: AbortSignal;
  log?: Logger;
  /** One retry against `tablet` (after `error`): count it. */
  counted(tablet: string, error?: unknown): void;
  /** A fault no retry can mend was found outside any statement (a source that moved): fail the job with it. */
  broken?(err: Error): void;
  /** Called before each attempt of each step, with the tablet and what is being done: how a test acts at a phase. */
  beforeAttempt?(tablet: string, doing: string): Promise<void>;
}

export interface TabletLinkOptions extends TabletLinkHooks {
  ref: TabletRef;
  credentials: Credentials;
  tls?: DbTls;
  /** For a shard's primary: after a read-only refusal (a failover), the shard's writable primary, as the topology now has it. */
  resolvePrimary?: () => Promise<TabletRef>;
  /** The outage window, when the caller retries around the link too (a stream's sessions): one window for both. */
  outage?: Outage;
  /**
   * The job's gate (throttle/gate.ts), passed before every attempt of every statement on this link: a destination
   * primary's link as `write` (held while paused or throttled, spaced by --max-tps under `key`), a source's as
   * `read` (held while paused). Being in the link, no writer can go around it.
   */
  gate?: { gate: StatementGate; kind: 'read' | 'write'; key: string };
}

/** What a link needs of a gate (throttle/gate.ts WriteGate). */
export interface StatementGate {
  pass(signal: AbortSignal, kind: 'read' | 'write', key?: string): Promise<void>;
}

/**
 * Checks each new connection to a taken source before it is used (queued on it ahead of any statement): `sql`'s
 * last result is handed to `verdict`, which returns why the tablet is no longer usable, or null.
 */
export interface ConnectionGuard {
  sql: string;
  verdict(rows: Record<string, unknown>[]): string | null;
}

/**
 * One tablet as a job talks to it: its current address (another tablet after a failover), its outage (shared by
 * every client on it), and the pools of its clients. Clients come from `client()`.
 */
export class TabletLink {
  readonly #opts: TabletLinkOptions;
  readonly outage: Outage;
  readonly #clients: TabletClient[] = [];
  #ref: TabletRef;
  #guard: ConnectionGuard | null = null;
  /** Set once a guard found the tablet unusable: every later attempt fails with it. */
  #broken: Error | null = null;
  /** One lookup at a time: every statement refused at once waits for the same one. */
  #resolving: Promise<void> | null = null;

  constructor(opts: TabletLinkOptions) {
    this.#opts = opts;
    this.#ref = opts.ref;
    this.outage = opts.outage ?? { since: null };
  }

  get ref(): TabletRef {
    return this.#ref;
  }

  get hooks(): TabletLinkHooks {
    return this.#opts;
  }

  get broken(): Error | null {
    return this.#broken;
  }

  /** Puts a gate on the link from the next statement on (a stream's, once it knows its max_replication_lag). */
  gateWith(gate: NonNullable<TabletLinkOptions['gate']>): void {
    this.#opts.gate = gate;
  }

  /** @internal Waits at the link's gate, if it has one (see TabletLinkOptions.gate). */
  async passGate(): Promise<void> {
    const g = this.#opts.gate;
    if (g) await g.gate.pass(this.#opts.signal, g.kind, g.key);
  }

  /** Whether the link follows a shard's primary (looked up again after a failover). */
  get hasPrimary(): boolean {
    return this.#opts.resolvePrimary !== undefined;
  }

  /** A client with a pool of its own (`connections` at most), closed by close(). */
  client(connections: number, withDatabase = true): TabletClient {
    const client = new TabletClient(this, { connectionLimit: connections, withDatabase });
    this.#clients.push(client);
    return client;
  }

  /** From now on every new connection is checked by `guard` before use (see ConnectionGuard). */
  guard(guard: ConnectionGuard): void {
    this.#guard = guard;
  }

  /** @internal A pool on the current address, its new connections guarded. */
  openPool(options: PoolOptions): { ref: TabletRef; pool: Pool } {
    const ref = this.#ref;
    const pool = openPool(ref, this.#opts.credentials, {
      ...options,
      tls: this.#opts.tls,
      onConnection: (run) => {
        const guard = this.#guard;
        if (!guard) return;
        run(guard.sql, (err, rows) => {
          // The connection broke under the check: the statement queued behind it fails too, and is retried.
          if (err && classifyError(err) === 'connection') return;
          // Any other failure leaves the tablet unchecked: not to be read from.
          const problem = err ? `could not check that it is still at the snapshot: ${err.message}` : guard.verdict(rows);
          if (problem && !this.#broken) {
            this.#broken = new Error(`source tablet ${ref.alias}: ${problem}`);
            this.#opts.log?.error({ tablet: ref.alias, err: this.#broken }, 'source tablet unusable after a reconnect');
            this.#opts.broken?.(this.#broken);
          }
        });
      },
    });
    return { ref, pool };
  }

  /** @internal After a read-only refusal: the shard's primary looked up again (no-op for a tablet that is no primary). */
  reresolve(): Promise<void> {
    const resolve = this.#opts.resolvePrimary;
    if (!resolve) return Promise.resolve();
    this.#resolving ??= (async () => {
      let ref: TabletRef;
      try {
        ref = await resolve();
      } catch (err) {
        // Mid-failover the topology may still name the old, read-only primary: the next attempt looks again.
        this.#opts.log?.warn({ tablet: this.#ref.alias, err }, 'no writable primary yet');
        return;
      }
      const old = this.#ref;
      if (ref.alias === old.alias && ref.tablet.host === old.tablet.host && ref.tablet.port === old.tablet.port) return;
      this.#opts.log?.warn({ from: old.alias, to: ref.alias }, 'primary changed: talking to the new one');
      this.#ref = ref;
    })().finally(() => {
      this.#resolving = null;
    });
    return this.#resolving;
  }

  async close(): Promise<void> {
    await Promise.all(this.#clients.map((c) => c.close()));
  }
}

/**
 * Statements to one tablet on a pool of their own, each retried as the link says. A pool follows the link to a new
 * primary after a failover (a pool on the new address is opened; the old one is closed with the client).
 */
export class TabletClient {
  readonly #link: TabletLink;
  readonly #options: PoolOptions;
  readonly #pools: Pool[] = [];
  #current: Channel | null = null;

  constructor(link: TabletLink, options: PoolOptions) {
    this.#link = link;
    this.#options = options;
  }

  /** The tablet as it is now addressed (its alias names it in errors and logs). */
  get ref(): TabletRef {
    return this.#link.ref;
  }

  #pool(): Channel {
    if (!this.#current || this.#current.ref !== this.#link.ref) {
      const { ref, pool } = this.#link.openPool(this.#options);
      this.#current = new Channel(ref, pool);
      this.#pools.push(pool);
    }
    return this.#current;
  }

  /** One statement, retried (see Repeat for one that is not idempotent). Resolves with mysql2's rows or result. */
  query<T>(doing: string, sql: string, values?: unknown[], opts: AttemptOptions = {}): Promise<T> {
    return this.attempt(doing, (channel) => channel.query<T>(doing, sql, values), opts);
  }

  /**
   * Runs `step` on this tablet until it succeeds, retrying transient failures per the link's policy. `step` gets
   * a Channel (the pool on the tablet's current address, its statements), the attempt number (1 first) and the kind
   * of the previous failure.
   */
  attempt<T>(doing: string, step: (channel: Channel, attempt: number, previous: FailureKind | null) => Promise<T>, opts: AttemptOptions = {}): Promise<T> {
    return attemptOn([this], doing, ([c], attempt, previous) => step(c, attempt, previous), opts);
  }

  /**
   * Reads every row of a query into `sink` (mysql/wire/raw-rows.ts scanRows), retried: `prepare` gives each attempt's SQL
   * (a repeat reads on after the last row it handed on, say), after whatever it must settle first.
   */
  scan(doing: string, prepare: (attempt: number) => Promise<string>, sink: RowSink, scan: ScanOptions, opts: AttemptOptions = {}): Promise<number> {
    return this.attempt(doing, async (channel, attempt) => scanRows(channel.pool, channel.ref, doing, await prepare(attempt), sink, scan), opts);
  }

  /** @internal The pool on the tablet's current address (a new one after a failover). */
  channel(): Channel {
    return this.#pool();
  }

  /** @internal */
  get link(): TabletLink {
    return this.#link;
  }

  async close(): Promise<void> {
    await Promise.all(this.#pools.map((p) => p.end().catch(() => {})));
  }
}

/** The statements of one transaction on one connection (Channel.transaction), in order. */
export interface Transaction {
  query<T>(doing: string, sql: string, values?: unknown[]): Promise<T>;
}

/** A pool on a tablet, handed to a step of an attempt (never kept beyond it). */
export class Channel {
  readonly ref: TabletRef;
  /** @internal For src/mysql's readers and writers. */
  readonly pool: Pool;

  constructor(ref: TabletRef, pool: Pool) {
    this.ref = ref;
    this.pool = pool;
  }

  #lanes: BulkLanes | null = null;

  /** A query's rows in batches, read ahead of the consumer (mysql/row-batches.ts). */
  scanBatches(doing: string, sql: string, opts: BatchScanOptions): AsyncGenerator<RowBatch> {
    return scanBatches(this.pool, this.ref, doing, sql, opts);
  }

  query<T>(doing: string, sql: string, values?: unknown[]): Promise<T> {
    return queryOn<T>(this.pool, this.ref, doing, sql, values);
  }

  /**
   * Runs `work` as one transaction on one connection of the pool: committed when it returns, rolled back when it
   * throws. A connection whose rollback failed is destroyed, never handed back to the pool mid-transaction. As a
   * step of an attempt, the whole transaction is what is repeated.
   */
  async transaction<T>(doing: string, work: (tx: Transaction) => Promise<T>): Promise<T> {
    const ref = this.ref;
    const conn = await acquireConnection(this.pool, ref, doing);
    const tx: Transaction = {
      async query<R>(what: string, sql: string, values?: unknown[]): Promise<R> {
        try {
          const [rows] = await conn.query(sql, values);
          return rows as R;
        } catch (err) {
          throw new TabletError(ref, what, err);
        }
      },
    };
    let reusable = false;
    try {
      await tx.query(doing, 'START TRANSACTION');
      const result = await work(tx);
      await tx.query(doing, 'COMMIT');
      reusable = true;
      return result;
    } catch (err) {
      // The caller's error is the one to report; a connection that cannot roll back rolls back as it closes.
      reusable = await conn.query('ROLLBACK').then(
        () => true,
        () => false,
      );
      throw err;
    } finally {
      if (reusable) conn.release();
      else discardConnection(conn);
    }
  }

  /** LOAD DATA LOCAL INFILE of `data` (mysql/wire/infile.ts). */
  loadData(doing: string, sql: string, data: Buffer, rows: number, packet?: Buffer): Promise<void> {
    return loadDataOn(this.pool, this.ref, doing, sql, data, rows, packet);
  }

  /** Whether the server takes bulk commands, and how large a bulk packet may be there (mysql/wire/bulk-execute.ts). */
  probeBulk(doing: string): Promise<{ bulk: boolean; maxBulkPacket: number }> {
    return probeBulk(this.pool, this.ref, doing);
  }

  /**
   * A bulk INSERT on this pool's bulk lanes (`count` of them, made on first use: one per writer): on lane `lane`
   * (modulo their count) when given, so batches sent in order run in order, else on the least busy.
   */
  bulkInsert(count: number, doing: string, sql: string, packet: Buffer, rows: number, lane?: number): Promise<void> {
    this.#lanes ??= new BulkLanes(this.pool, count);
    return this.#lanes.insert(this.ref, doing, sql, packet, rows, lane);
  }
}

/**
 * Runs `step` with a pool on each of `clients` (reads that belong together, such as a diff's chunk: its sources'
 * and its destination's) until it succeeds. A failure is charged to the tablet it names (TabletError), whose outage
 * window it counts in, and the whole step runs again: it must be a read, or made safe to repeat by `opts.repeat`.
 */
export async function attemptOn<T>(
  clients: TabletClient[],
  doing: string,
  step: (channels: Channel[], attempt: number, previous: FailureKind | null) => Promise<T>,
  opts: AttemptOptions = {},
): Promise<T> {
  const links = clients.map((c) => c.link);
  const hooks = links[0].hooks;
  const repeat = opts.repeat ?? IDEMPOTENT;
  const classify = opts.classify ?? classifyError;
  const brokenLink = () => links.find((l) => l.broken)?.broken ?? null;
  // The link a failure came from: the tablet its error names, else the first.
  const linkOf = (err: unknown) => {
    const alias = (err as { tabletAlias?: unknown } | null)?.tabletAlias;
    return links.find((l) => l.ref.alias === alias) ?? links[0];
  };
  // Whether an earlier attempt may have landed (it died with the connection, outcome unknown).
  let uncertain = false;
  let landed = false as boolean;
  const run = async (attempt: number, previous: FailureKind | null): Promise<T> => {
    const broken = brokenLink();
    if (broken) throw broken;
    for (const l of links) await l.passGate();
    if (hooks.beforeAttempt) for (const l of links) await hooks.beforeAttempt(l.ref.alias, doing);
    const channels = clients.map((c) => c.channel());
    if (uncertain && repeat.kind === 'check' && (await repeat.landed())) {
      landed = true;
      return undefined as T;
    }
    try {
      const result = await step(channels, attempt, previous);
      // A guard that found a tablet unusable ran ahead of this step on its connection: its result is not to be trusted.
      const after = brokenLink();
      if (after) throw after;
      return result;
    } catch (err) {
      const after = brokenLink();
      if (after) throw after;
      if (uncertain && repeat.kind === 'duplicate-key' && isDuplicateKey(err)) return undefined as T;
      if (uncertain && repeat.kind === 'error' && errorCodes(err).errnos.some((n) => repeat.errnos.includes(n))) return undefined as T;
      throw err;
    }
  };
  const policy = hooks.policy();
  if (!policy) return run(1, null);
  // The outage of the tablet that failed last; any success ends every one of them.
  let failing = links[0];
  const outage: Outage = {
    get since() {
      return failing.outage.since;
    },
    set since(value) {
      if (value === null) for (const l of links) l.outage.since = null;
      else failing.outage.since = value;
    },
  };
  // The last error names the tablet (TabletError), so the exhausted retry's message does.
  const result = await withRetry(doing, run, {
    policy,
    outage,
    signal: hooks.signal,
    classify: (err) => {
      if (links.some((l) => l.broken === err)) return 'fatal';
      failing = linkOf(err);
      const kind = classify(err);
      // Only a shard's primary can be looked up again; a read-only refusal elsewhere is final.
      return kind === 'read-only' && !failing.hasPrimary ? 'fatal' : kind;
    },
    onRetry: (event: RetryEvent) => {
      if (event.kind === 'connection') uncertain = true;
      const tablet = linkOf(event.error).ref.alias;
      hooks.counted(tablet, event.error);
      hooks.log?.warn(
        { ...opts.context, tablet, doing, attempt: event.attempt, kind: event.kind, retryInMs: event.delayMs, err: event.error },
        opts.message ?? 'statement failed; retrying',
      );
    },
    beforeRetry: async (kind) => {
      if (kind === 'read-only') await failing.reresolve();
    },
  });
  if (landed) hooks.log?.info({ ...opts.context, tablet: links[0].ref.alias, doing }, 'an earlier attempt had taken effect');
  return result;
}

/**
 * A tablet checked or set right outside a job's retry window (picking tablets, recover, cleanup): one connection,
 * the first failure final, the pool closed afterwards.
 */
export async function withTablet<T>(
  ref: TabletRef,
  credentials: Credentials,
  tls: DbTls | undefined,
  use: (client: TabletClient) => Promise<T>,
  withDatabase = true,
): Promise<T> {
  const link = new TabletLink({ ref, credentials, tls, policy: () => null, signal: new AbortController().signal, counted: () => {} });
  try {
    return await use(link.client(1, withDatabase));
  } finally {
    await link.close();
  }
}

/** A database on a tablet, as a job reads or writes it. */
export interface TabletDb {
  client: TabletClient;
  dbName: string;
}
