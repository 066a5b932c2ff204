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
import { MigrateJob } from './migrate-job.ts';
import { JobConflictError, type JobControl } from './job-control.ts';
import { CanceledError, runPhases, type JobPhases } from './job-runner.ts';
import { JobStatus } from './job-status.ts';
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

  constructor(deps: JobDeps, logOptions: LogOptions, events: ControllerEvents = {}) {
    this.#deps = deps;
    this.#logOptions = logOptions;
    this.#events = events;
  }

  snapshot(): StatusSnapshot {
    return this.#status ? this.#status.snapshot() : idleSnapshot();
  }

  start(request: JobRequest): void {
    if (this.#status && !this.#status.ended) throw new JobConflictError(`a ${this.#status.request.command} job is running (${this.#status.state}); cancel it first`);
    if (this.#status) throw new JobConflictError(`the last ${this.#status.request.command} job ended (${this.#status.state}); reset it before starting another`);
    const { options, flags } = validateRequest(request);
    const normalized: JobRequest = { ...request, options: { ...options, excludeTables: options.excludeTables, tables: options.tables } };
    const status = new JobStatus(randomUUID(), normalized);
    const log = jobLogger(this.#logOptions, status.ring, { job: status.id, command: request.command, keyspace: request.keyspace, shard: request.shard });
    const abort = new AbortController();
    // Every queued chunk and open stream listens for the one abort: many listeners is the design, not a leak.
    setMaxListeners(Infinity, abort.signal);
    const job = jobFor(this.#deps, status, request, options, flags, abort, log);
    this.#status = status;
    this.#abort = abort;
    log.info({ options: normalized.options }, 'job started');
    this.#running = runPhases(status, job, abort, log)
      .catch((err: unknown) => recordCrash(status, log, err))
      .finally(() => this.#events.onEnded?.(status.snapshot()));
  }

  cancel(): boolean {
    if (!this.#status || this.#status.ended || !this.#abort) return false;
    this.#abort.abort(new CanceledError());
    return true;
  }

  settled(): Promise<void> {
    return this.#running;
  }

  reset(): void {
    if (this.#status && !this.#status.ended) throw new JobConflictError(`a ${this.#status.request.command} job is running (${this.#status.state}); it can be reset once it has ended`);
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
  if (!COMMANDS.includes(request.command)) throw new OptionError('command', `unknown command ${JSON.stringify(request.command)} (known: ${COMMANDS.join(', ')})`);
  for (const field of ['keyspace', 'shard'] as const) {
    if (typeof request[field] !== 'string' || request[field] === '') throw new OptionError(field, `${field} is required`);
  }
  const options = parseOptions(request.command, request.options ?? {});
  let flags;
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

/** The job a request runs: the one pipeline, made a command by its strategy and by what it does with the rows. */
function jobFor(deps: JobDeps, status: JobStatus, request: JobRequest, options: JobOptions, flags: StrategyFlags, abort: AbortController, log: Logger): JobPhases {
  const { keyspace, shard } = request;
  switch (request.command) {
    case 'SplitClone':
      return new CloneJob(deps, status, new SplitStrategy(keyspace, shard, options.excludeTables), options, flags, abort, log);
    case 'VerticalSplitClone':
      return new CloneJob(deps, status, new VerticalStrategy(keyspace, shard, options.tables), options, flags, abort, log);
    case 'SplitDiff':
      return new DiffJob(deps, status, new SplitStrategy(keyspace, shard, options.excludeTables, 'destination'), options, abort, log);
    case 'VerticalSplitDiff':
      return new DiffJob(deps, status, new VerticalStrategy(keyspace, shard, options.tables), options, abort, log);
    case 'MigrateServedTypes':
      return new MigrateJob(deps, status, keyspace, shard, options, abort, log);
  }
}
