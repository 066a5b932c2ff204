// What the HTTP layer and the CLI may do with the process's one job. The worker implements it; nothing else does.

import type { LockOwner } from '../topology/coordination.ts';
import type { TuneRequest } from './live-control.ts';
import type { JobRequest, StatusSnapshot } from './status.ts';

/** A job runs, an ended one is not reset yet, or its shards are locked by another job (HTTP 409). */
export class JobConflictError extends Error {
  /** Who holds the shards, when another job's locks are the conflict. */
  readonly holder?: LockOwner;
  constructor(message: string, holder?: LockOwner) {
    super(message);
    this.name = 'JobConflictError';
    this.holder = holder;
  }
}

export interface JobControl {
  /** The status at this instant. */
  snapshot(): StatusSnapshot;
  /**
   * Validates the job, locks its shards and starts it; resolves once it is started (it runs in the background).
   * Rejects with OptionError (bad field, HTTP 400) or JobConflictError (HTTP 409, naming a lock's holder).
   */
  start(request: JobRequest): Promise<void>;
  /** Cancels the running job (cleanup still runs). False when no job is running. */
  cancel(): boolean;
  /** Resolves when the current job (if any) has ended, cleanup included. */
  settled(): Promise<void>;
  /**
   * Holds the running job's reads and writes (it keeps its tablets and snapshot); false when it was paused already.
   * Throws JobConflictError when no copy or diff is running.
   */
  pause(): boolean;
  /** Lets a paused job go on; false when it was not paused. Throws JobConflictError when no copy or diff runs. */
  resume(): boolean;
  /** Changes maxTps and/or maxReplicationLag of the running job; returns what changed (OptionError, JobConflictError). */
  tune(request: Record<string, unknown>): TuneRequest;
  /** Clears an ended job. Throws JobConflictError while one runs. */
  reset(): void;
}
