// Prometheus metrics, read from the status snapshot when scraped (prom-client collect callbacks).

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { WORKER_STATES, type StatusSnapshot } from '../worker/status.ts';

export interface AppMetrics {
  registry: Registry;
  /**
   * Looks at a snapshot the app took (scrape, page, API call, before a reset) to count jobs that ended in error:
   * the job control has no events, so a job counts once when anything sees it in state `error`.
   */
  observe(snapshot: StatusSnapshot): void;
}

export function createMetrics(snapshot: () => StatusSnapshot, registry: Registry = new Registry()): AppMetrics {
  // One snapshot per scrape: `registry.metrics()` calls every collect callback synchronously, one after the other,
  // so a snapshot kept until the next microtask serves exactly one scrape.
  let current: StatusSnapshot | undefined;
  const scraped = (): StatusSnapshot => {
    if (current === undefined) {
      current = snapshot();
      observe(current);
      queueMicrotask(() => {
        current = undefined;
      });
    }
    return current;
  };

  const counted = new Set<string>(); // jobs (by start time) already counted in shardworker_job_errors_total
  const errors = new Counter({
    name: 'shardworker_job_errors_total',
    help: 'Jobs that ended in error',
    registers: [registry],
    collect() {
      scraped(); // counts the scraped job if it ended in error
    },
  });
  function observe(s: StatusSnapshot): void {
    if (s.state !== 'error') return;
    const key = `${s.startedAt ?? ''}|${s.job?.command ?? ''}|${s.job?.keyspace ?? ''}/${s.job?.shard ?? ''}`;
    if (counted.has(key)) return;
    counted.add(key);
    errors.inc();
  }

  new Gauge({
    name: 'shardworker_job_state',
    help: 'The worker state: 1 for the current one, 0 for the others',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const { state } = scraped();
      for (const s of Object.values(WORKER_STATES)) this.set({ state: s }, s === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'shardworker_table_rows_copied',
    help: 'Rows copied so far, per table of the current job',
    labelNames: ['table'],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of scraped().tables) this.set({ table: t.name }, t.rowsCopied);
    },
  });
  new Gauge({
    name: 'shardworker_table_rows_estimated',
    help: 'Rows estimated, per table of the current job (raised when the copy passes it)',
    labelNames: ['table'],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of scraped().tables) this.set({ table: t.name }, t.rowsEstimated);
    },
  });
  const diffKinds = [
    ['matching', 'matching'],
    ['mismatched', 'mismatched'],
    ['extra_on_source', 'extraOnSource'],
    ['extra_on_destination', 'extraOnDestination'],
  ] as const;
  new Gauge({
    name: 'shardworker_table_diff_rows',
    help: 'Rows the diff found so far, per table of the current job being diffed and kind: matching, mismatched, extra_on_source, extra_on_destination',
    labelNames: ['table', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of scraped().tables) {
        if (!t.diff) continue;
        for (const [kind, field] of diffKinds) this.set({ table: t.name, kind }, t.diff[field]);
      }
    },
  });
  new Gauge({
    name: 'shardworker_rows_per_second',
    help: 'Rows copied per second over the recent window, all tables together',
    registers: [registry],
    collect() {
      this.set(scraped().totals.rowsPerSecond);
    },
  });
  new Gauge({
    name: 'shardworker_retries_total',
    help: 'Transient failures retried by the current job (connection lost, failover, deadlock, lock wait)',
    registers: [registry],
    collect() {
      this.set(scraped().retries?.total ?? 0);
    },
  });
  new Gauge({
    name: 'shardworker_tablet_retries_total',
    help: 'Transient failures retried by the current job, per tablet',
    labelNames: ['tablet'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [tablet, n] of Object.entries(scraped().retries?.byTablet ?? {})) this.set({ tablet }, n);
    },
  });
  new Gauge({
    name: 'shardworker_snapshot_age_seconds',
    help: "Age of the consistent snapshot the current clone reads from (--snapshot consistent; 0 without one): its transactions hold back the source's purge",
    registers: [registry],
    collect() {
      const snap = scraped().snapshot;
      this.set(snap && !snap.closedAt ? snap.ageSeconds : 0);
    },
  });
  new Gauge({
    name: 'shardworker_paused',
    help: 'Whether the current job is paused by an operator (1) or not (0)',
    registers: [registry],
    collect() {
      this.set(scraped().control?.paused ? 1 : 0);
    },
  });
  new Gauge({
    name: 'shardworker_throttled',
    help: "Whether the current job's writes are held because a destination replica is behind (1) or not (0)",
    registers: [registry],
    collect() {
      this.set(scraped().control?.throttled ? 1 : 0);
    },
  });
  new Gauge({
    name: 'shardworker_throttled_seconds_total',
    help: "Seconds the current job's writes were held by the replication lag throttle, all told",
    registers: [registry],
    collect() {
      this.set(scraped().control?.throttledSecondsTotal ?? 0);
    },
  });
  new Gauge({
    name: 'shardworker_destination_replica_lag_seconds',
    help: 'How far each replica of the destination shards is behind its primary, as last sampled (every 0.5 s)',
    labelNames: ['tablet', 'shard'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of scraped().control?.replicas ?? []) if (r.lagSeconds !== null) this.set({ tablet: r.tablet, shard: r.shard }, r.lagSeconds);
    },
  });
  collectDefaultMetrics({ register: registry });

  return { registry, observe };
}
