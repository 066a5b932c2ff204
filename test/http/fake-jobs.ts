// A JobControl the HTTP tests drive: it validates options with the real parseOptions and refuses a second job
// with JobConflictError as the worker would; its snapshot is whatever the test sets, or a scripted simulation.

import { JobConflictError, type JobControl } from '../../src/worker/job-control.ts';
import { parseOptions } from '../../src/worker/options.ts';
import { ENDED_STATES, type JobRequest, type StatusSnapshot, type TableStatus } from '../../src/worker/status.ts';
import type { Topology } from '../../src/topology/types.ts';

export function idleSnapshot(): StatusSnapshot {
  return {
    state: 'not started',
    job: null,
    startedAt: null,
    endedAt: null,
    error: null,
    sources: [],
    destinations: [],
    tables: [],
    totals: { rowsEstimated: 0, rowsCopied: 0, rowsPerSecond: 0, etaSeconds: null },
    log: [],
  };
}

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

  start(request: JobRequest): void {
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

  reset(): void {
    const state = this.snapshot().state;
    if (!ENDED_STATES.has(state) && state !== 'not started') throw new JobConflictError(`a job is running (${state})`);
    this.resets++;
    this.#running = null;
    this.#frozen = null;
    this.current = idleSnapshot();
  }
}

/** The DESIGN.md topology, plus a keyspace served from commerce for the vertical commands. */
export const TOPOLOGY: Topology = {
  keyspaces: {
    commerce: {
      shardingColumnName: 'keyspace_id',
      shardingColumnType: 'uint64',
      shards: {
        '0': { servedTypes: ['primary', 'replica', 'rdonly'], sourceShards: [] },
        '-80': { servedTypes: [], sourceShards: [] },
        '80-': { servedTypes: [], sourceShards: [] },
      },
    },
    customer: { servedFrom: { keyspace: 'commerce' }, shards: { '0': { servedTypes: [], sourceShards: [] } } },
  },
  tablets: {
    'zone1-100': { keyspace: 'commerce', shard: '0', type: 'primary', host: '127.0.0.1', port: 15300, dbName: 'commerce', user: 'root' },
    'zone1-101': { keyspace: 'commerce', shard: '0', type: 'rdonly', host: '127.0.0.1', port: 15301, dbName: 'commerce', user: 'root' },
    'zone1-200': { keyspace: 'commerce', shard: '-80', type: 'primary', host: '127.0.0.1', port: 15302, dbName: 'commerce', user: 'root' },
    'zone1-300': { keyspace: 'commerce', shard: '80-', type: 'primary', host: '127.0.0.1', port: 15303, dbName: 'commerce', user: 'root' },
  },
};

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
      t < at(0.06) ? 'initializing'
      : t < copyFrom ? 'finding target instances'
      : t < copyTo ? 'copying the data'
      : t < totalMs ? 'cleaning up'
      : 'done';
    const log = [`${startedAt.toISOString()} job ${request.command} ${request.keyspace}/${request.shard} started`];
    if (t >= at(0.06)) log.push('found destination shards commerce/-80, commerce/80-');
    const found = t >= copyFrom;
    if (found) log.push('source tablet zone1-101 marked worker, replication stopped at MariaDB/0-1-42');
    const rows: TableStatus[] = !found ? [] : tables.map((tb) => {
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
