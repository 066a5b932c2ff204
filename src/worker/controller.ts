// The process's one job: starts it from a request, runs it in the background, cancels and resets it.

import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { SplitStrategy } from '../clone/split-strategy.ts';
import { parseStrategy, StrategyError, type StrategyFlags } from '../clone/strategy-flags.ts';
import { TableFilterError, parseTableMatchers } from '../clone/table-filter.ts';
import { VerticalStrategy } from '../clone/vertical-strategy.ts';
import { CloneJob } from './clone-job.ts';
import { DiffJob } from './diff-job.ts';
import type { CopyStrategy } from '../clone/strategy.ts';
import { LockHeldError, type HeldLocks } from '../topology/coordination.ts';
import { MigrateJob } from './migrate-job.ts';
import { JobConflictError, type JobControl } from './job-control.ts';
import { lockJobShards, strategyShards, type JobShards } from './job-locks.ts';
import { findSplitPair } from '../cutover/plan.ts';
import { CanceledError, runPhases, type JobPhases } from './job-runner.ts';
import { JobStatus } from './job-status.ts';
import { LiveControl, type TuneRequest } from './live-control.ts';
import { jobLogger, type LogOptions } from './log.ts';
import { OptionError, parseOptions, type JobOptions } from './options.ts';
import { COMMANDS, idleSnapshot, type JobRequest, type StatusSnapshot } from './status.ts';
import type { JobDeps } from './tablet-session.ts';

export interface ControllerEvents {
  /** Called once when a job has ended (cleanup included). */
  onEnded?: (snapshot: StatusSnapshot) => void;
}

export class JobController implements JobControl {
  readonly #deps: JobDeps;
  readonly #logOptions: LogOptions;
  readonly #events: ControllerEvents;
  #status: JobStatus | null = null;
  #abort: AbortController | null = null;
  #running: Promise<void> = Promise.resolve();
  /** Set while a start waits for its locks, so a second start cannot slip in meanwhile. */
  #starting = false;

  constructor(deps: JobDeps, logOptions: LogOptions, events: ControllerEvents = {}) {
    this.#deps = deps;
    this.#logOptions = logOptions;
    this.#events = events;
  }

  snapshot(): StatusSnapshot {
    return this.#status ? this.#status.snapshot() : idleSnapshot();
  }

  async start(request: JobRequest): Promise<void> {
    if (this.#starting) throw new JobConflictError('another job is being started; try again in a moment');
    if (this.#status && !this.#status.ended)
      throw new JobConflictError(`a ${this.#status.request.command} job is running (${this.#status.state}); cancel it first`);
    if (this.#status)
      throw new JobConflictError(`the last ${this.#status.request.command} job ended (${this.#status.state}); reset it before starting another`);
    const { options, flags } = validateRequest(request);
    const normalized: JobRequest = { ...request, options: { ...options, excludeTables: options.excludeTables, tables: options.tables } };
    const status = new JobStatus(randomUUID(), normalized);
    if (request.command !== 'MigrateServedTypes') status.control = new LiveControl({ maxTps: options.maxTps, maxReplicationLag: options.maxReplicationLag });
    const strategy = strategyFor(request, options);
    // Every shard the job touches is locked for its whole life, before anything else happens.
    this.#starting = true;
    let locks: HeldLocks;
    try {
      const taken = await lockJobShards(this.#deps.topo, shardsOf(request, strategy), request, status.id);
      locks = taken.held;
      status.setLocks({ names: [...locks.names], holder: taken.owner });
    } catch (err) {
      if (err instanceof LockHeldError)
        throw new JobConflictError(`cannot start ${request.command} on ${request.keyspace}/${request.shard}: ${err.message}`, err.holder);
      throw err;
    } finally {
      this.#starting = false;
    }
    let log: Logger;
    let job: JobPhases;
    const abort = new AbortController();
    try {
      log = jobLogger(this.#logOptions, status.ring, { job: status.id, command: request.command, keyspace: request.keyspace, shard: request.shard });
      job = jobFor(this.#deps, status, request, strategy, options, flags, abort, log);
    } catch (err) {
      await locks.release(); // nothing started: the shards are free again
      throw err;
    }
    // Every queued chunk and open stream listens for the one abort: many listeners is the design, not a leak.
    setMaxListeners(Infinity, abort.signal);
    // Locks lost (the daemon lost etcd for a TTL) are no longer a promise that no one else works on the shards.
    locks.lost.addEventListener('abort', () => abort.abort(locks.lost.reason), { once: true });
    this.#status = status;
    this.#abort = abort;
    log.info({ options: normalized.options, locks: locks.names }, 'job started');
    this.#running = runPhases(status, job, abort, log)
      .catch((err: unknown) => recordCrash(status, log, err))
      .finally(() => locks.release().catch((err: unknown) => log.warn({ err }, 'could not release the shard locks; they expire with the lease')))
      .finally(() => this.#events.onEnded?.(status.snapshot()));
  }

  cancel(): boolean {
    if (!this.#status || this.#status.ended || !this.#abort) return false;
    this.#abort.abort(new CanceledError());
    return true;
  }

  #control(what: string): LiveControl {
    const control = this.#status && !this.#status.ended ? this.#status.control : null;
    if (!control)
      throw new JobConflictError(
        this.#status && !this.#status.ended ? `a ${this.#status.request.command} job cannot ${what}` : `no job is running: nothing to ${what}`,
      );
    return control;
  }

  pause(): boolean {
    return this.#control('pause').pause();
  }

  resume(): boolean {
    return this.#control('resume').resume();
  }

  tune(request: Record<string, unknown>): TuneRequest {
    return this.#control('tune').tune(request);
  }

  settled(): Promise<void> {
    return this.#running;
  }

  reset(): void {
    if (this.#status && !this.#status.ended)
      throw new JobConflictError(`a ${this.#status.request.command} job is running (${this.#status.state}); it can be reset once it has ended`);
    this.#status = null;
    this.#abort = null;
  }
}

/** A bug in the runner itself: keep it visible rather than leaving a job that never ends. */
function recordCrash(status: JobStatus, log: Logger, err: unknown): void {
  log.fatal({ err }, 'job runner crashed');
  status.setError(`internal error: ${(err as Error).message ?? String(err)}`);
}

/** Everything about a request that can be checked before anything is touched; throws OptionError naming the field. */
export function validateRequest(request: JobRequest): { options: JobOptions; flags: StrategyFlags } {
  if (!COMMANDS.includes(request.command))
    throw new OptionError('command', `unknown command ${JSON.stringify(request.command)} (known: ${COMMANDS.join(', ')})`);
  for (const field of ['keyspace', 'shard'] as const) {
    if (typeof request[field] !== 'string' || request[field] === '') throw new OptionError(field, `${field} is required`);
  }
  const options = parseOptions(request.command, request.options ?? {});
  let flags: StrategyFlags;
  try {
    flags = parseStrategy(options.strategy);
    parseTableMatchers([...options.tables, ...options.excludeTables]);
  } catch (err) {
    if (err instanceof StrategyError) throw new OptionError('strategy', err.message);
    if (err instanceof TableFilterError) throw new OptionError(options.tables.length ? 'tables' : 'excludeTables', err.message);
    throw err;
  }
  return { options, flags };
}

/** Which shards and tables a request works on, and where rows go: what makes the one pipeline a command. */
function strategyFor(request: JobRequest, options: JobOptions): CopyStrategy | null {
  const { keyspace, shard } = request;
  switch (request.command) {
    case 'SplitClone':
      return new SplitStrategy(keyspace, shard, options.excludeTables, 'source', options.tables);
    case 'VerticalSplitClone':
      return new VerticalStrategy(keyspace, shard, options.tables);
    case 'SplitDiff':
      return new SplitStrategy(keyspace, shard, options.excludeTables, 'destination', options.tables);
    case 'VerticalSplitDiff':
      return new VerticalStrategy(keyspace, shard, options.tables, 'diff', options.excludeTables);
    case 'MigrateServedTypes':
      return null;
  }
}

/** The shards a job locks besides the one it names: a copy's or diff's targets, or both sides of a cutover's split. */
function shardsOf(request: JobRequest, strategy: CopyStrategy | null): JobShards {
  if (strategy) return strategyShards(strategy);
  return (topo) => {
    const pair = findSplitPair(topo, request.keyspace, request.shard);
    return [...pair.sources, ...pair.destinations];
  };
}

/** The job a request runs: the one pipeline, made a command by its strategy and by what it does with the rows. */
function jobFor(
  deps: JobDeps,
  status: JobStatus,
  request: JobRequest,
  strategy: CopyStrategy | null,
  options: JobOptions,
  flags: StrategyFlags,
  abort: AbortController,
  log: Logger,
): JobPhases {
  // Every copy and diff has a strategy (strategyFor); a cutover has none.
  const copy = (): CopyStrategy => strategy ?? noStrategy(request.command);
  switch (request.command) {
    case 'SplitClone':
    case 'VerticalSplitClone':
      return new CloneJob(deps, status, copy(), options, flags, abort, log);
    case 'SplitDiff':
    case 'VerticalSplitDiff':
      return new DiffJob(deps, status, copy(), options, abort, log);
    case 'MigrateServedTypes':
      return new MigrateJob(deps, status, request.keyspace, request.shard, options, abort, log);
  }
}

function noStrategy(command: string): never {
  throw new Error(`${command} has no copy strategy`);
}
