// A JobControl the HTTP tests drive: it validates options with the real parseOptions and refuses a second job
// with JobConflictError as the worker would; its snapshot is whatever the test sets, or a scripted simulation.

import { JobConflictError, type JobControl } from '../../src/worker/job-control.ts';
import { parseOptions } from '../../src/worker/options.ts';
import type { TuneRequest } from '../../src/worker/live-control.ts';
import { describeTally, type DiffTally } from '../../src/diff/tally.ts';
import {
  ENDED_STATES,
  idleSnapshot,
  type JobRequest,
  type StatusSnapshot,
  type TableDiffStatus,
  type TableStatus,
  type WorkerState,
} from '../../src/worker/status.ts';
import type { Topology } from '../../src/topology/types.ts';
import { exampleTopology } from '../topology/fixtures/topology.ts';

export { idleSnapshot };

/** A snapshot's state as a simulation gives it, from the milliseconds since the job started. */
export type Simulation = (request: JobRequest, elapsedMs: number, startedAt: Date) => StatusSnapshot;

export class FakeJobs implements JobControl {
  /** What snapshot() returns when no simulation runs. */
  current: StatusSnapshot = idleSnapshot();
  readonly started: JobRequest[] = [];
  cancels = 0;
  resets = 0;
  #simulation: Simulation | null;
  #running: { request: JobRequest; since: number } | null = null;
  #frozen: StatusSnapshot | null = null; // the simulated job's last snapshot once canceled

  constructor(simulation: Simulation | null = null) {
    this.#simulation = simulation;
  }

  snapshot(): StatusSnapshot {
    if (this.#frozen) return structuredClone(this.#frozen);
    if (this.#simulation && this.#running) {
      return this.#simulation(this.#running.request, Date.now() - this.#running.since, new Date(this.#running.since));
    }
    return structuredClone(this.current);
  }

  async start(request: JobRequest): Promise<void> {
    const state = this.snapshot().state;
    if (ENDED_STATES.has(state)) throw new JobConflictError(`the last job ended (${state}) and is not reset yet`);
    if (state !== 'not started') throw new JobConflictError(`a job is running (${state})`);
    parseOptions(request.command, request.options); // throws OptionError as the worker does
    this.started.push(structuredClone(request));
    const now = Date.now();
    this.#running = { request: structuredClone(request), since: now };
    this.current = { ...idleSnapshot(), state: 'initializing', job: structuredClone(request), startedAt: new Date(now).toISOString() };
  }

  cancel(): boolean {
    const s = this.snapshot();
    if (ENDED_STATES.has(s.state) || s.state === 'not started') return false;
    this.cancels++;
    const ended = { ...s, state: 'canceled' as const, endedAt: new Date().toISOString(), log: [...s.log, 'canceled'] };
    if (this.#simulation) this.#frozen = ended;
    else this.current = ended;
    return true;
  }

  async settled(): Promise<void> {}

  pauses = 0;
  resumes = 0;
  readonly tunes: Record<string, unknown>[] = [];

  #live(): void {
    const s = this.snapshot().state;
    if (ENDED_STATES.has(s) || s === 'not started') throw new JobConflictError('no job is running: nothing to control');
  }

  pause(): boolean {
    this.#live();
    this.pauses++;
    return true;
  }

  resume(): boolean {
    this.#live();
    this.resumes++;
    return true;
  }

  tune(request: Record<string, unknown>): TuneRequest {
    this.#live();
    this.tunes.push(structuredClone(request));
    return request as TuneRequest;
  }

  reset(): void {
    const state = this.snapshot().state;
    if (!ENDED_STATES.has(state) && state !== 'not started') throw new JobConflictError(`a job is running (${state})`);
    this.resets++;
    this.#running = null;
    this.#frozen = null;
    this.current = idleSnapshot();
  }
}

/** The docs/topology.md example topology, plus a keyspace served from commerce for the vertical commands. */
export const TOPOLOGY: Topology = exampleTopology();

interface SimTable {
  name: string;
  rows: number;
  chunks: number;
  /** When it copies, in ms since the start. */
  from: number;
  to: number;
}

/**
 * A SplitClone of commerce/0 into -80 and 80- that copies two tables and is done after about `totalMs`:
 * initializing, finding target instances, copying the data, cleaning up, done.
 */
export function splitCloneSimulation(totalMs = 5000): Simulation {
  const at = (f: number) => Math.round(f * totalMs);
  const copyFrom = at(0.12);
  const copyTo = at(0.88);
  const tables: SimTable[] = [
    { name: 'customer', rows: 60_000, chunks: 6, from: at(0.14), to: at(0.6) },
    { name: 'corder', rows: 150_000, chunks: 15, from: at(0.22), to: at(0.86) },
  ];
  return (request, t, startedAt) => {
    const state =
      t < at(0.06) ? 'initializing' : t < copyFrom ? 'finding target instances' : t < copyTo ? 'copying the data' : t < totalMs ? 'cleaning up' : 'done';
    const log = [`${startedAt.toISOString()} job ${request.command} ${request.keyspace}/${request.shard} started`];
    if (t >= at(0.06)) log.push('found destination shards commerce/-80, commerce/80-');
    const found = t >= copyFrom;
    if (found) log.push('source tablet zone1-101 marked worker, replication stopped at MariaDB/0-1-42');
    const rows: TableStatus[] = !found
      ? []
      : tables.map((tb) => {
          const f = Math.max(0, Math.min(1, (t - tb.from) / (tb.to - tb.from)));
          const copied = Math.round(tb.rows * f);
          const rate = f > 0 && f < 1 ? tb.rows / ((tb.to - tb.from) / 1000) : 0;
          const tableState = f >= 1 ? 'done' : f > 0 ? 'copying' : t >= tb.from - 100 ? 'creating' : 'waiting';
          return {
            name: tb.name,
            kind: 'table',
            state: tableState,
            rowsEstimated: tb.rows,
            rowsCopied: copied,
            chunksTotal: tb.chunks,
            chunksDone: Math.floor(tb.chunks * f),
            rowsPerSecond: rate,
            etaSeconds: f >= 1 ? 0 : f >= 0.01 && rate > 0 ? (tb.rows - copied) / rate : null,
          };
        });
    for (const tb of tables) if (t >= tb.to) log.push(`table ${tb.name}: ${tb.rows} rows copied`);
    if (t >= copyTo) log.push('replication restarted on zone1-101, type rdonly restored');
    if (t >= totalMs) log.push('done');
    const estimated = rows.reduce((n, r) => n + r.rowsEstimated, 0);
    const copied = rows.reduce((n, r) => n + r.rowsCopied, 0);
    const rate = rows.reduce((n, r) => n + r.rowsPerSecond, 0);
    return {
      state,
      job: structuredClone(request),
      startedAt: startedAt.toISOString(),
      endedAt: state === 'done' ? new Date(startedAt.getTime() + totalMs).toISOString() : null,
      error: null,
      sources: found ? ['zone1-101'] : [],
      destinations: found ? ['zone1-200', 'zone1-300'] : [],
      tables: rows,
      totals: {
        rowsEstimated: estimated,
        rowsCopied: copied,
        rowsPerSecond: rate,
        etaSeconds: state === 'done' ? 0 : estimated > 0 && copied / estimated >= 0.01 && rate > 0 ? (estimated - copied) / rate : null,
      },
      log,
    };
  };
}

interface DiffSimTable {
  name: string;
  /** Rows read on both sides, and the chunks, once the table is diffed. */
  rows: number;
  chunks: number;
  comparedBy: TableDiffStatus['comparedBy'];
  note?: string;
  /** What the diff finds by the end; the counts (and examples) grow with the rows read. */
  found: DiffTally;
  /** When it diffs, as fractions of the job's time. */
  from: number;
  to: number;
}

function tally(processed: number, differences: Partial<DiffTally> = {}): DiffTally {
  const examples = { mismatched: [], extraOnSource: [], extraOnDestination: [], ...differences.examples };
  const mismatched = differences.mismatched ?? 0;
  const extraOnSource = differences.extraOnSource ?? 0;
  const extraOnDestination = differences.extraOnDestination ?? 0;
  return { processed, matching: processed - mismatched - extraOnSource - extraOnDestination, mismatched, extraOnSource, extraOnDestination, examples };
}

/**
 * The tables of the fake SplitDiff of commerce/-80: `customer` is identical, `corder` has differences of every kind
 * (a key that needs escaping among them, and more extra rows than examples), `event_log` has no primary key (a note)
 * and is identical.
 */
const DIFF_TABLES: DiffSimTable[] = [
  { name: 'customer', rows: 30_000, chunks: 3, comparedBy: 'primary key', found: tally(30_000), from: 0.14, to: 0.4 },
  {
    name: 'corder',
    rows: 75_000,
    chunks: 8,
    comparedBy: 'primary key',
    found: tally(75_000, {
      mismatched: 2,
      extraOnSource: 14,
      extraOnDestination: 1,
      examples: {
        mismatched: [
          { key: 'order_id=17', columns: ['price', 'status'] },
          { key: 'order_id=<script>alert(1)</script>', columns: ['sku'] },
        ],
        extraOnSource: Array.from({ length: 10 }, (_, i) => ({ key: `order_id=${1001 + i}` })),
        extraOnDestination: [{ key: 'order_id=99', destination: 'zone1-200' }],
      },
    }),
    from: 0.3,
    to: 0.8,
  },
  {
    name: 'event_log',
    rows: 1_200,
    chunks: 1,
    comparedBy: 'full row',
    note: 'no primary key: compared as sorted full rows',
    found: tally(1_200),
    from: 0.5,
    to: 0.7,
  },
];

/** The part of `found` a diff has seen once a fraction `f` of the rows is read. */
function partialTally(found: DiffTally, f: number): DiffTally {
  if (f >= 1) return structuredClone(found);
  const part = (n: number) => Math.floor(n * f);
  const t = tally(part(found.processed), {
    mismatched: part(found.mismatched),
    extraOnSource: part(found.extraOnSource),
    extraOnDestination: part(found.extraOnDestination),
  });
  t.matching = Math.max(0, t.matching);
  for (const kind of ['mismatched', 'extraOnSource', 'extraOnDestination'] as const) {
    t.examples[kind] = structuredClone(found.examples[kind].slice(0, t[kind]));
  }
  return t;
}

function diffTableAt(tb: DiffSimTable, f: number, totalMs: number): TableStatus {
  const read = Math.round(tb.rows * f);
  const seconds = ((tb.to - tb.from) * totalMs) / 1000;
  const rate = f > 0 && f < 1 ? tb.rows / seconds : 0;
  const found = partialTally(tb.found, f);
  const differs = found.mismatched + found.extraOnSource + found.extraOnDestination > 0;
  const table: TableStatus = {
    name: tb.name,
    kind: 'table',
    state: f >= 1 ? (differs ? 'error' : 'done') : f > 0 ? 'diffing' : 'waiting',
    rowsEstimated: tb.rows,
    rowsCopied: read,
    chunksTotal: tb.chunks,
    chunksDone: Math.floor(tb.chunks * f),
    rowsPerSecond: rate,
    etaSeconds: f >= 1 ? 0 : f >= 0.01 && rate > 0 ? (tb.rows - read) / rate : null,
  };
  if (tb.note) table.note = tb.note;
  if (f > 0) {
    const { processed, matching, mismatched, extraOnSource, extraOnDestination, examples } = found;
    table.diff = {
      comparedBy: tb.comparedBy,
      processed,
      matching,
      mismatched,
      extraOnSource,
      extraOnDestination,
      examples,
      finished: f >= 1,
      summary: describeTally(found),
    };
  }
  return table;
}

const DIFF_REQUEST: JobRequest = { command: 'SplitDiff', keyspace: 'commerce', shard: '-80', options: {} };
const DIFF_ERROR = (tables: TableStatus[]) => {
  const differing = tables.filter((t) => t.diff && t.diff.mismatched + t.diff.extraOnSource + t.diff.extraOnDestination > 0);
  return `differences found in ${differing.length} of ${tables.length} tables: ${differing.map((t) => `${t.name}: ${t.diff!.summary}`).join('; ')}`;
};

function diffFrame(request: JobRequest, t: number, startedAt: Date, totalMs: number): StatusSnapshot {
  const state: WorkerState =
    t < 0.06 * totalMs
      ? 'initializing'
      : t < 0.12 * totalMs
        ? 'finding target instances'
        : t < 0.88 * totalMs
          ? 'diffing the data'
          : t < totalMs
            ? 'cleaning up'
            : 'error';
  const log = [`${startedAt.toISOString()} job ${request.command} ${request.keyspace}/${request.shard} started`];
  const found = t >= 0.12 * totalMs;
  if (found) log.push('source tablet zone1-101 marked worker, destination zone1-200 stopped at MariaDB/0-1-42');
  const tables = !found
    ? []
    : DIFF_TABLES.map((tb) => {
        const f = Math.max(0, Math.min(1, (t / totalMs - tb.from) / (tb.to - tb.from)));
        return diffTableAt(tb, f, totalMs);
      });
  for (const tb of tables) if (tb.diff?.finished) log.push(`table ${tb.name}: ${tb.diff.summary}`);
  const error = state === 'error' ? DIFF_ERROR(tables) : null;
  if (error) log.push(`error: ${error}`);
  const estimated = tables.reduce((n, r) => n + r.rowsEstimated, 0);
  const read = tables.reduce((n, r) => n + r.rowsCopied, 0);
  const rate = tables.reduce((n, r) => n + r.rowsPerSecond, 0);
  return {
    state,
    job: structuredClone(request),
    startedAt: startedAt.toISOString(),
    endedAt: state === 'error' ? new Date(startedAt.getTime() + totalMs).toISOString() : null,
    error,
    sources: found ? ['zone1-101'] : [],
    destinations: found ? ['zone1-200'] : [],
    tables,
    totals: {
      rowsEstimated: estimated,
      rowsCopied: read,
      rowsPerSecond: state === 'error' ? 0 : rate,
      etaSeconds: state === 'error' ? null : estimated > 0 && read / estimated >= 0.01 && rate > 0 ? (estimated - read) / rate : null,
    },
    log,
  };
}

/**
 * A SplitDiff of commerce/-80 over about `totalMs`: initializing, finding target instances, diffing the data (the
 * three DIFF_TABLES one after another, partly at once), cleaning up, then error for the differences in `corder`.
 */
export function splitDiffSimulation(totalMs = 5000): Simulation {
  return (request, t, startedAt) => diffFrame(request, t, startedAt, totalMs);
}

/**
 * A SplitDiff snapshot: while diffing (customer done and identical, corder half read with differences so far,
 * event_log not started), or ended in error with every table diffed.
 */
export function diffSnapshot(ended = false): StatusSnapshot {
  const startedAt = new Date('2026-11-23T19:00:00.000Z');
  return diffFrame(DIFF_REQUEST, ended ? 10_000 : 5_500, startedAt, 10_000);
}
