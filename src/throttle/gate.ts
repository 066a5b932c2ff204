// The one place a job's writes wait: every attempt of every statement on a gated tablet link (the destination
// primaries' copy writers, their DDL and bookkeeping; a stream's applier) passes the gate first (see
// mysql/tablet-client.ts attemptOn), so no writer can go around it. The gate only decides; it knows no tablet.
//
// It holds while the job is paused by an operator (reads wait too: a paused job reads nothing and holds its tablets
// and snapshot), while the job is throttled (a destination replica further behind than --max-replication-lag: the
// lag monitor sets and clears the reason), and spaces writes to --max-tps per destination (a token bucket per key).
// It adds up how long writes were held, and why, for the status page and the metrics.

export type GateKind = 'read' | 'write';

export interface GateSnapshot {
  paused: boolean;
  /** ISO time the current pause began, or null. */
  pausedSince: string | null;
  throttled: boolean;
  /** Why writes are held now (`replica zone1-201 is 3.5 s behind (bound 2 s)`), or null. */
  throttleReason: string | null;
  throttledSince: string | null;
  /** Seconds writes were held by a throttle, all told (the current one included). */
  throttledSecondsTotal: number;
  /** Seconds the job was paused, all told (the current pause included). */
  pausedSecondsTotal: number;
  /** Write transactions per second per destination at most; 0 unlimited. */
  maxTps: number;
  /** The last reason writes were throttled for, kept after it ended. */
  lastThrottleReason: string | null;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class WriteGate {
  readonly #now: () => number;
  #paused: number | null = null;
  #pausedTotalMs = 0;
  #throttled: number | null = null;
  #throttleReason: string | null = null;
  #lastReason: string | null = null;
  #throttledTotalMs = 0;
  #maxTps: number;
  readonly #buckets = new Map<string, Bucket>();
  /** Passes waiting for the gate to open (or for a setting to change): all woken to look again. */
  #waiters = new Set<() => void>();

  constructor(opts: { maxTps?: number; now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
    this.#maxTps = opts.maxTps ?? 0;
  }

  get paused(): boolean {
    return this.#paused !== null;
  }

  get throttled(): boolean {
    return this.#throttled !== null;
  }

  get maxTps(): number {
    return this.#maxTps;
  }

  /** Holds every read and write from the next statement on; false when already paused. */
  pause(): boolean {
    if (this.#paused !== null) return false;
    this.#paused = this.#now();
    return true;
  }

  /** False when not paused. */
  resume(): boolean {
    if (this.#paused === null) return false;
    this.#pausedTotalMs += this.#now() - this.#paused;
    this.#paused = null;
    this.#wake();
    return true;
  }

  /** Holds writes with `reason`, or lets them go (null). A new reason for an ongoing throttle keeps its start. */
  throttle(reason: string | null): void {
    if (reason === null) {
      if (this.#throttled === null) return;
      this.#throttledTotalMs += this.#now() - this.#throttled;
      this.#throttled = null;
      this.#throttleReason = null;
      this.#wake();
      return;
    }
    this.#throttled ??= this.#now();
    this.#throttleReason = reason;
    this.#lastReason = reason;
  }

  setMaxTps(maxTps: number): void {
    if (!Number.isInteger(maxTps) || maxTps < 0) throw new RangeError(`maxTps must be a non-negative integer, got ${maxTps}`);
    this.#maxTps = maxTps;
    this.#buckets.clear();
    this.#wake();
  }

  /**
   * Resolves when a statement of `kind` may run: at once when nothing holds it; rejects with the signal's reason
   * once it aborts. A write takes a token of `key`'s bucket (its destination) when --max-tps is set.
   */
  async pass(signal: AbortSignal, kind: GateKind, key = ''): Promise<void> {
    for (;;) {
      signal.throwIfAborted();
      if (this.#paused !== null || (kind === 'write' && this.#throttled !== null)) {
        await this.#wait(signal, null);
        continue;
      }
      if (kind === 'read' || this.#maxTps === 0) return;
      const delay = this.#take(key);
      if (delay === 0) return;
      await this.#wait(signal, delay);
    }
  }

  /** 0 when a token was taken, else the ms until one is due. Burst: one second's worth. */
  #take(key: string): number {
    const now = this.#now();
    const rate = this.#maxTps;
    let b = this.#buckets.get(key);
    if (!b) {
      b = { tokens: rate, at: now };
      this.#buckets.set(key, b);
    }
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) * rate) / 1000);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - b.tokens) * 1000) / rate));
  }

  #wait(signal: AbortSignal, ms: number | null): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
      if (ms !== null) timer = setTimeout(done, ms);
    });
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  snapshot(): GateSnapshot {
    const now = this.#now();
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    return {
      paused: this.#paused !== null,
      pausedSince: iso(this.#paused),
      throttled: this.#throttled !== null,
      throttleReason: this.#throttleReason,
      throttledSince: iso(this.#throttled),
      throttledSecondsTotal: (this.#throttledTotalMs + (this.#throttled === null ? 0 : now - this.#throttled)) / 1000,
      pausedSecondsTotal: (this.#pausedTotalMs + (this.#paused === null ? 0 : now - this.#paused)) / 1000,
      maxTps: this.#maxTps,
      lastThrottleReason: this.#lastReason,
    };
  }
}
