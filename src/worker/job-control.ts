// What the HTTP layer and the CLI may do with the process's one job. The worker implements it; nothing else does.

import type { JobRequest, StatusSnapshot } from './status.ts';

/** A job runs or an ended one is not reset yet (HTTP 409). */
export class JobConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobConflictError';
  }
}

export interface JobControl {
  /** The status at this instant. */
  snapshot(): StatusSnapshot;
  /**
   * Validates and starts a job; returns once it is started (it runs in the background).
   * Throws OptionError (bad field, HTTP 400) or JobConflictError (HTTP 409).
   */
  start(request: JobRequest): void;
  /** Cancels the running job (cleanup still runs). False when no job is running. */
  cancel(): boolean;
  /** Resolves when the current job (if any) has ended, cleanup included. */
  settled(): Promise<void>;
  /** Clears an ended job. Throws JobConflictError while one runs. */
  reset(): void;
}
