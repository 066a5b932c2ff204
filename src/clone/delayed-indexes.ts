// Runs each table's delayed ALTER (its secondary indexes, built by sorting once) as soon as that table is copied,
// while the copy of the other tables goes on: the index build of one table fills CPU the copy leaves idle, instead
// of every table's waiting for the last one. One ALTER at a time per destination, in the order tables finish, on a
// connection of its own (the caller's pool), so that the writers' batches of other tables go on meanwhile.

import PQueue from 'p-queue';
import type { TableDefinition } from '../mysql/schema.ts';
import { hasFullDefinition, type DelayedAlters, type DestinationDb } from './schema-copy.ts';
import type { StrategyFlags } from './strategy-flags.ts';
import { settleAll } from '../pipeline/settle-all.ts';

export interface DelayedIndexEvents {
  /** The table's ALTERs started (on the first destination to run one). */
  started(table: string): void;
  /** Every destination's ALTER of the table is done. */
  finished(table: string): void;
}

export class DelayedIndexes {
  readonly #dests: DestinationDb[];
  readonly #alters: DelayedAlters[];
  readonly #queues: PQueue[];
  readonly #signal: AbortSignal;
  readonly #events: DelayedIndexEvents;
  readonly #onError: (err: unknown) => void;
  readonly #queued = new Set<string>();
  readonly #runs: Promise<void>[] = [];
  /** The tables and the job's flags: what an ALTER that already took effect is recognised by. */
  readonly #tables: Map<string, TableDefinition>;
  readonly #flags: StrategyFlags;

  /**
   * `alters[i]` is destination i's (see createTables). `onError` is told of the first failure at once (the job
   * aborts its copy on it); finish() reports it too.
   */
  constructor(
    dests: DestinationDb[],
    alters: DelayedAlters[],
    schema: { tables: TableDefinition[]; flags: StrategyFlags },
    signal: AbortSignal,
    events: DelayedIndexEvents,
    onError: (err: unknown) => void,
  ) {
    this.#dests = dests;
    this.#tables = new Map(schema.tables.map((t) => [t.name, t]));
    this.#flags = schema.flags;
    this.#alters = alters;
    this.#queues = dests.map(() => new PQueue({ concurrency: 1 }));
    this.#signal = signal;
    this.#events = events;
    this.#onError = onError;
  }

  /** Whether any destination has an ALTER to run for the table. */
  has(table: string): boolean {
    return this.#alters.some((a) => a.has(table));
  }

  /** The table's rows are all written: queue its ALTER on every destination that has one. */
  tableCopied(table: string): void {
    if (this.#queued.has(table) || !this.has(table)) return;
    this.#queued.add(table);
    let started = false;
    const runs = this.#dests.map((d, i) => {
      const sql = this.#alters[i].get(table);
      if (!sql) return Promise.resolve();
      return this.#queues[i].add(
        async () => {
          this.#signal.throwIfAborted();
          if (!started) {
            started = true;
            this.#events.started(table);
          }
          // An ALTER is atomic, but after a lost connection it may have run: a repeat is made only if the table's
          // definition is not yet the source's whole one (it would fail on the indexes it already has).
          const definition = this.#tables.get(table);
          const landed = async () => definition !== undefined && (await hasFullDefinition(d, definition, this.#flags));
          await d.client.query(`adding delayed indexes to ${table}`, sql, undefined, { repeat: { kind: 'check', landed }, context: { table } });
        },
        { signal: this.#signal },
      ) as Promise<void>;
    });
    const all = Promise.all(runs).then(() => this.#events.finished(table));
    all.catch((err: unknown) => this.#onError(err));
    this.#runs.push(all);
  }

  /** Queues every table not queued yet (all are copied by now), then waits for all; throws the first failure. */
  async finish(): Promise<void> {
    for (const alters of this.#alters) for (const table of alters.keys()) this.tableCopied(table);
    await settleAll(this.#runs);
  }
}
