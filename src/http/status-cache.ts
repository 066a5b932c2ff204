// What watching costs the work: one status snapshot at most every `maxAgeMs`, and everything made from it (the JSON
// text, each rendering of a page, the metrics text) made once per snapshot, however many clients ask. A wall
// dashboard, a Prometheus scrape and a few operators polling then cost the job a few snapshots a second, not one
// snapshot, one render and one serialisation per request. Starting, canceling or resetting a job drops the
// snapshot, so a client that acts sees the result of its action at once.

import type { StreamSnapshot } from '../stream/status.ts';
import type { JobControl } from '../worker/job-control.ts';
import type { StatusSnapshot } from '../worker/status.ts';

/** What the routes serve: the job's status and the streams' (none under `run`), taken at one instant. */
export type WatchedStatus = StatusSnapshot & { streams: StreamSnapshot[] };

/** How old a served snapshot may be (ms): the status page polls every second, a scrape every few seconds. */
export const DEFAULT_STATUS_MAX_AGE_MS = 250;

interface Taken {
  snapshot: WatchedStatus;
  at: number;
  /** Renderings of this snapshot, by what they are (`json`, `page:status|<auth>`, `metrics`). */
  made: Map<string, unknown>;
}

export class StatusCache {
  readonly #take: () => WatchedStatus;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #current: Taken | null = null;

  constructor(take: () => WatchedStatus, maxAgeMs = DEFAULT_STATUS_MAX_AGE_MS, now: () => number = performance.now.bind(performance)) {
    this.#take = take;
    this.#maxAgeMs = maxAgeMs;
    this.#now = now;
  }

  #fresh(): Taken {
    const now = this.#now();
    if (this.#current === null || now - this.#current.at >= this.#maxAgeMs) {
      this.#current = { snapshot: this.#take(), at: now, made: new Map() };
    }
    return this.#current;
  }

  snapshot(): WatchedStatus {
    return this.#fresh().snapshot;
  }

  /**
   * `make(snapshot)` once per snapshot and key; later calls with the same key get the same value (a promise is
   * kept as is, so concurrent requests share one rendering). Keys name everything the result depends on besides
   * the snapshot (a page's session, say); there are only ever a few per snapshot.
   */
  made<T>(key: string, make: (snapshot: WatchedStatus) => T): T {
    const taken = this.#fresh();
    if (!taken.made.has(key)) taken.made.set(key, make(taken.snapshot));
    return taken.made.get(key) as T;
  }

  /** The next request takes a new snapshot (after a start, cancel or reset). */
  invalidate(): void {
    this.#current = null;
  }
}

/** `jobs`, with every action that changes the job dropping the cached snapshot. */
export function invalidatingJobs(jobs: JobControl, cache: StatusCache): JobControl {
  return {
    snapshot: () => jobs.snapshot(),
    async start(request) {
      // Dropped when it returns too: a request while the start was taking its locks may have cached the old state.
      try {
        return await jobs.start(request);
      } finally {
        cache.invalidate();
      }
    },
    cancel() {
      try {
        return jobs.cancel();
      } finally {
        cache.invalidate();
      }
    },
    reset() {
      try {
        return jobs.reset();
      } finally {
        cache.invalidate();
      }
    },
    pause: () => invalidating(cache, () => jobs.pause()),
    resume: () => invalidating(cache, () => jobs.resume()),
    tune: (request) => invalidating(cache, () => jobs.tune(request)),
    settled: () => jobs.settled(),
  };
}

function invalidating<T>(cache: StatusCache, act: () => T): T {
  try {
    return act();
  } finally {
    cache.invalidate();
  }
}
