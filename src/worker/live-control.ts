// Pausing, resuming and retuning a job while it runs: the operator's side of the job's WriteGate
// (throttle/gate.ts) and of its replica lag monitor. The HTTP routes and `shardworker ctl` come here through
// JobControl; the job's tablet links wait at the gate.

import { WriteGate, type GateSnapshot } from '../throttle/gate.ts';
import type { ReplicaLag, ReplicaLagMonitor } from '../throttle/replication-lag.ts';
import { OptionError } from './options.ts';

/** What `POST /api/tune` may change: only what is given changes. */
export interface TuneRequest {
  maxTps?: number;
  /** Milliseconds; 0 is no bound. */
  maxReplicationLag?: number;
}

export interface ControlStatus extends GateSnapshot {
  /** The bound on the destination replicas' lag (seconds; 0: none). */
  maxReplicationLagSeconds: number;
  /** Each replica of the destination shards, as last sampled (every 0.5 s while the job writes). */
  replicas: ReplicaLag[];
  /** What a paused job keeps while it waits (its source tablets, their snapshot, its connections). */
  holding: string | null;
}

export class LiveControl {
  readonly gate: WriteGate;
  #maxReplicationLagMs: number;
  #monitor: ReplicaLagMonitor | null = null;
  /** Set by the job once it holds tablets: said while paused. */
  holding: string | null = null;

  constructor(opts: { maxTps: number; maxReplicationLag: number; now?: () => number }) {
    this.gate = new WriteGate({ maxTps: opts.maxTps, now: opts.now });
    this.#maxReplicationLagMs = opts.maxReplicationLag;
  }

  get maxReplicationLagMs(): number {
    return this.#maxReplicationLagMs;
  }

  /** The job's lag monitor, once it has found the destination replicas (stopped by the job). */
  watch(monitor: ReplicaLagMonitor | null): void {
    this.#monitor = monitor;
  }

  pause(): boolean {
    return this.gate.pause();
  }

  resume(): boolean {
    return this.gate.resume();
  }

  /** Validates everything before changing anything; throws OptionError naming the bad field. */
  tune(request: Record<string, unknown>): TuneRequest {
    const known = ['maxTps', 'maxReplicationLag'];
    for (const key of Object.keys(request)) {
      if (key === 'sourceReaderCount' || key === 'destinationWriterCount')
        throw new OptionError(key, `${key} cannot change while a job runs (its pools are sized at the start): change maxTps instead`);
      if (!known.includes(key)) throw new OptionError(key, `unknown tunable ${key} (known: ${known.join(', ')})`);
    }
    const out: TuneRequest = {};
    if (request.maxTps !== undefined) {
      const n = request.maxTps;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
        throw new OptionError('maxTps', `maxTps: expected a non-negative integer (0: unlimited), got ${JSON.stringify(n)}`);
      out.maxTps = n;
    }
    if (request.maxReplicationLag !== undefined) {
      const ms = parseLag(request.maxReplicationLag);
      if (ms === undefined)
        throw new OptionError(
          'maxReplicationLag',
          `maxReplicationLag: expected a duration like 2s or 500ms, or seconds as a number (0: none), got ${JSON.stringify(request.maxReplicationLag)}`,
        );
      out.maxReplicationLag = ms;
    }
    if (Object.keys(out).length === 0) throw new OptionError('body', 'nothing to tune: give maxTps and/or maxReplicationLag');
    if (out.maxTps !== undefined) this.gate.setMaxTps(out.maxTps);
    if (out.maxReplicationLag !== undefined) {
      this.#maxReplicationLagMs = out.maxReplicationLag;
      this.#monitor?.redecide();
    }
    return out;
  }

  snapshot(): ControlStatus {
    const gate = this.gate.snapshot();
    return {
      ...gate,
      maxReplicationLagSeconds: this.#maxReplicationLagMs / 1000,
      replicas: this.#monitor?.snapshot() ?? [],
      holding: gate.paused ? this.holding : null,
    };
  }
}

function parseLag(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm']);
}
