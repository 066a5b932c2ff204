// How far each replica of the destination shards is behind its primary, sampled every half second, and the
// decision it feeds: writes are held (the gate throttled) while any replica is further behind than
// --max-replication-lag, and let go once every one is back under it.
//
// On MariaDB the lag is measured by GTIDs, not Seconds_Behind_Master (which reads 0 between events, and the age of
// the event being applied otherwise): each tick records the primary's gtid_binlog_pos with the time; a replica's
// lag is now minus the time of the oldest recorded primary position its gtid_slave_pos has not reached (0 when it
// has them all). Its precision is the sample interval. On MySQL, Seconds_Behind_Master.

import type { Logger } from 'pino';
import { compareGtidLists, type GtidList } from '../mysql/gtid.ts';
import type { Flavor } from '../mysql/replication.ts';
import type { TabletClient } from '../mysql/tablet-client.ts';
import { primaryGtidPos, replicaGtidPos, secondsBehindMaster } from './probes.ts';

/** The primary positions of one shard over time, oldest first: what a replica's position is dated by. */
export class PositionHistory {
  readonly #samples: { at: number; pos: GtidList }[] = [];
  readonly #max: number;

  constructor(max = 7200) {
    this.#max = max;
  }

  record(at: number, pos: GtidList): void {
    const last = this.#samples.at(-1);
    // Only a change is news: an idle primary keeps its first sample's time (a replica level with it is 0 behind).
    if (last && compareGtidLists(last.pos, pos).kind === 'equal') return;
    this.#samples.push({ at, pos });
    if (this.#samples.length > this.#max) this.#samples.shift();
  }

  /** Seconds `replica` is behind at `now`: since the oldest primary position it has not reached. */
  lagSeconds(now: number, replica: GtidList): number {
    const i = this.#samples.findIndex((s) => compareGtidLists(replica, s.pos).kind === 'behind');
    if (i < 0) return 0;
    return Math.max(0, (now - this.#samples[i].at) / 1000);
  }

  /** Forgets the samples every one of `replicas` has reached (the newest is always kept). */
  prune(replicas: GtidList[]): void {
    while (this.#samples.length > 1 && replicas.every((r) => compareGtidLists(r, this.#samples[0].pos).kind !== 'behind')) this.#samples.shift();
  }
}

export interface ReplicaProbe {
  alias: string;
  /** `keyspace/shard`. */
  shard: string;
  client: TabletClient;
}

export interface ReplicaLag {
  tablet: string;
  shard: string;
  /** Null until read, or while it cannot be read. */
  lagSeconds: number | null;
  /** Why the last probe failed. */
  error: string | null;
}

export interface LagMonitorOptions {
  flavor: Flavor;
  /** Each destination shard's primary (`keyspace/shard` → an ungated client). */
  primaries: Map<string, TabletClient>;
  replicas: ReplicaProbe[];
  /** The bound now (ms; 0 is none): tune may change it while the job runs. */
  bound: () => number;
  /** Holds writes with a reason, or lets them go (WriteGate.throttle). */
  throttle: (reason: string | null) => void;
  log: Logger;
  intervalMs?: number;
  now?: () => number;
}

export const LAG_SAMPLE_INTERVAL_MS = 500;

export class ReplicaLagMonitor {
  readonly #opts: LagMonitorOptions;
  readonly #now: () => number;
  readonly #histories = new Map<string, PositionHistory>();
  readonly #lags: ReplicaLag[];
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(opts: LagMonitorOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#lags = opts.replicas.map((r) => ({ tablet: r.alias, shard: r.shard, lagSeconds: null, error: null }));
  }

  /** Takes the first sample now, then one every interval until stop(). */
  async start(): Promise<void> {
    await this.tick();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.tick().finally(() => {
        this.#running = null;
        this.#schedule();
      });
    }, this.#opts.intervalMs ?? LAG_SAMPLE_INTERVAL_MS);
  }

  /** One sample of every primary and replica, and the decision on it. Never throws. */
  async tick(): Promise<void> {
    const { flavor, primaries, replicas } = this.#opts;
    const at = this.#now();
    if (flavor === 'MariaDB') {
      await Promise.all(
        [...primaries].map(async ([shard, client]) => {
          try {
            let history = this.#histories.get(shard);
            if (!history) this.#histories.set(shard, (history = new PositionHistory()));
            history.record(at, await primaryGtidPos(client));
          } catch (err) {
            this.#opts.log.warn({ shard, err }, 'lag monitor: cannot read the primary position');
          }
        }),
      );
    }
    const positions = new Map<string, GtidList[]>();
    await Promise.all(
      replicas.map(async (r, i) => {
        const lag = this.#lags[i];
        try {
          if (flavor === 'MariaDB') {
            const pos = await replicaGtidPos(r.client);
            positions.set(r.shard, [...(positions.get(r.shard) ?? []), pos]);
            const history = this.#histories.get(r.shard);
            lag.lagSeconds = history ? history.lagSeconds(this.#now(), pos) : null;
          } else {
            lag.lagSeconds = await secondsBehindMaster(r.client);
          }
          lag.error = lag.lagSeconds === null ? 'replication is not running' : null;
        } catch (err) {
          lag.lagSeconds = null;
          lag.error = (err as Error).message;
        }
      }),
    );
    for (const [shard, list] of positions) if (list.length === replicas.filter((r) => r.shard === shard).length) this.#histories.get(shard)?.prune(list);
    this.#decide();
  }

  #decide(): void {
    const bound = this.#opts.bound();
    if (bound <= 0) return this.#opts.throttle(null);
    const over = this.#lags.find((l) => l.lagSeconds === null || l.lagSeconds * 1000 > bound);
    if (!over) return this.#opts.throttle(null);
    const limit = `bound ${bound / 1000} s`;
    this.#opts.throttle(
      over.lagSeconds === null
        ? `replica ${over.tablet} of ${over.shard}: lag unknown (${over.error}) (${limit})`
        : `replica ${over.tablet} of ${over.shard} is ${over.lagSeconds.toFixed(1)} s behind (${limit})`,
    );
  }

  /** Re-decides at once (the bound was tuned). */
  redecide(): void {
    this.#decide();
  }

  snapshot(): ReplicaLag[] {
    return this.#lags.map((l) => ({ ...l }));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
    this.#opts.throttle(null);
  }
}
