// Runs a job's phases in order, then its cleanup whatever happened, and settles the final state.

import type { Logger } from 'pino';
import type { JobStatus } from './job-status.ts';
import type { UndoReport } from './undo.ts';

/** The reason a job's signal is aborted with when an operator cancels it. */
export class CanceledError extends Error {
  constructor(message = 'canceled by the operator') {
    super(message);
    this.name = 'CanceledError';
  }
}

export interface JobPhases {
  /** The state the job's main phase is shown in. */
  readonly workState: 'copying the data' | 'diffing the data' | 'migrating served types';
  initialize(): Promise<void>;
  findTargets(): Promise<void>;
  /** The main phase: the copy (and its verify) or the diff. */
  work(): Promise<void>;
  /** Must not throw: it reports what it could not undo. */
  cleanup(): Promise<UndoReport>;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export async function runPhases(status: JobStatus, phases: JobPhases, abort: AbortController, log: Logger): Promise<void> {
  const { signal } = abort;
  let failure: unknown = null;
  try {
    status.setState('initializing');
    await phases.initialize();
    signal.throwIfAborted();
    status.setState('finding target instances');
    await phases.findTargets();
    signal.throwIfAborted();
    status.setState(phases.workState);
    await phases.work();
    signal.throwIfAborted();
  } catch (err) {
    // After an abort, the abort's reason is the real cause; whatever else was thrown is its echo.
    failure = signal.aborted ? signal.reason : err;
  }
  status.setState('cleaning up');
  const report = await phases.cleanup();

  if (failure instanceof CanceledError) log.warn('job canceled');
  else if (failure) log.error({ err: failure }, 'job failed');
  // One message holding both: the job's own failure (or cancel) and, after it, what cleanup left undone. The status
  // keeps only its first error, so they must not be set one after the other.
  const messages: string[] = [];
  if (failure) messages.push(errorMessage(failure));
  if (report.failed.length) messages.push(cleanupFailure(report));
  if (messages.length) status.setError(messages.join('; then '));
  if (failure instanceof CanceledError && !report.failed.length) status.setState('canceled');
  else if (failure || report.failed.length) status.setState('error');
  else status.setState('done');
  log.info({ state: status.state }, 'job ended');
}

/** `cleanup failed: not undone: STEP (ERROR), …; undone: STEP, …`: what an operator must still put back by hand. */
export function cleanupFailure(report: UndoReport): string {
  const notUndone = report.failed.map((f) => `${f.step} (${f.error})`).join(', ');
  const undone = report.undone.length ? `; undone: ${report.undone.join(', ')}` : '';
  return `cleanup failed: not undone: ${notUndone}${undone}`;
}
