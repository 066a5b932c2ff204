// Which MySQL failures are worth trying again, and the loop that does: backoff, a deadline (--retry-duration),
// the job's abort signal, and a callback per retry (logged and counted by the caller).

/**
 * - `connection`: the connection or server went away (the statement may or may not have run).
 * - `read-only`: the server refuses writes (1290): a failover happened; the primary must be looked up again.
 * - `rolled-back`: deadlock or lock wait timeout: the statement was rolled back, it can simply run again.
 * - `fatal`: anything else: retrying would fail the same way.
 */
export type FailureKind = 'connection' | 'read-only' | 'rolled-back' | 'fatal';

/** Client-side (2002 can't connect, 2006 gone away, 2013 lost during query) and server shutdown (1053, 1927 killed). */
const CONNECTION_ERRNOS = new Set([2002, 2003, 2006, 2013, 2055, 1053, 1927, 1158, 1159, 1160, 1161]);
const ROLLED_BACK_ERRNOS = new Set([1213, 1205]);
const READ_ONLY_ERRNO = 1290;
/** Node and mysql2 codes for a connection that could not be made or broke. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
]);
/** mysql2 says this (without a code) when a pooled connection died under a command. */
const CLOSED_STATE = /connection is in closed state/i;

export const ER_DUP_ENTRY = 1062;

interface ErrorFields {
  errno?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
}

/** The errno and code of an error or of any error in its cause chain (TabletError wraps the mysql2 one). */
export function errorCodes(err: unknown): { errnos: number[]; codes: string[]; messages: string[] } {
  const errnos: number[] = [];
  const codes: string[] = [];
  const messages: string[] = [];
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as ErrorFields).cause, depth++) {
    const f = e as ErrorFields;
    if (typeof f.errno === 'number') errnos.push(f.errno);
    if (typeof f.code === 'string') codes.push(f.code);
    if (typeof f.message === 'string') messages.push(f.message);
  }
  return { errnos, codes, messages };
}

export function classifyError(err: unknown): FailureKind {
  const { errnos, codes, messages } = errorCodes(err);
  if (errnos.some((n) => CONNECTION_ERRNOS.has(n)) || codes.some((c) => CONNECTION_CODES.has(c))) return 'connection';
  if (errnos.includes(READ_ONLY_ERRNO)) return 'read-only';
  if (errnos.some((n) => ROLLED_BACK_ERRNOS.has(n))) return 'rolled-back';
  if (messages.some((m) => CLOSED_STATE.test(m))) return 'connection';
  return 'fatal';
}

export function isDuplicateKey(err: unknown): boolean {
  return errorCodes(err).errnos.includes(ER_DUP_ENTRY);
}

export interface RetryPolicy {
  /** How long a failing step keeps being retried, from its first failure (ms): --retry-duration. */
  durationMs: number;
  /** First wait (ms); doubles up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

export interface RetryEvent {
  attempt: number;
  kind: FailureKind;
  error: unknown;
  /** The wait before the next attempt (ms). */
  delayMs: number;
}

export interface RetryOptions {
  policy: RetryPolicy;
  signal: AbortSignal;
  /** Called before each wait: log it, count it. */
  onRetry?: (event: RetryEvent) => void;
  /** Decides what a failure is; classifyError by default. */
  classify?: (err: unknown) => FailureKind;
  /** Runs before the next attempt after a failure of this kind (re-resolve the primary after `read-only`). */
  beforeRetry?: (kind: FailureKind) => Promise<void>;
  /**
   * Shared by every step against one server: the duration counts from the first failure of the outage, not of each
   * step, so that batches queued behind a dead destination do not each start a window of their own. Any success
   * ends the outage.
   */
  outage?: Outage;
}

export interface Outage {
  /** Date.now() of the first failure since the last success, or null. */
  since: number | null;
}

/** Thrown when a step kept failing until the deadline: names how long, and the last error. */
export class RetriesExhaustedError extends Error {
  constructor(what: string, attempts: number, ms: number, last: unknown) {
    const reason = last instanceof Error ? last.message : String(last);
    super(`${what}: still failing after ${attempts} attempts over ${Math.round(ms / 1000)}s (--retry-duration): ${reason}`, { cause: last });
    this.name = 'RetriesExhaustedError';
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `step` until it succeeds, a failure is fatal, the signal aborts or the policy's duration has passed since the
 * first failure. `step` gets the attempt number (1 first) and the kind of the previous failure, if any.
 */
export async function withRetry<T>(what: string, step: (attempt: number, previous: FailureKind | null) => Promise<T>, opts: RetryOptions): Promise<T> {
  const { policy, signal } = opts;
  const classify = opts.classify ?? classifyError;
  let delay = policy.initialDelayMs ?? 200;
  const maxDelay = policy.maxDelayMs ?? 10_000;
  const outage: Outage = opts.outage ?? { since: null };
  let previous: FailureKind | null = null;
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    try {
      const result = await step(attempt, previous);
      outage.since = null;
      return result;
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const kind = classify(err);
      if (kind === 'fatal') throw err;
      const now = Date.now();
      const firstFailure = (outage.since ??= now);
      const left = firstFailure + policy.durationMs - now;
      if (left <= 0) throw new RetriesExhaustedError(what, attempt, now - firstFailure, err);
      const wait = Math.min(delay, left);
      opts.onRetry?.({ attempt, kind, error: err, delayMs: wait });
      await sleep(wait, signal);
      delay = Math.min(maxDelay, delay * 2);
      previous = kind;
      if (opts.beforeRetry) {
        // A failure here (the topology is unreadable, the new primary refuses) is itself retried next round.
        try {
          await opts.beforeRetry(kind);
        } catch (e) {
          if (classify(e) === 'fatal') throw e;
        }
      }
    }
  }
}
