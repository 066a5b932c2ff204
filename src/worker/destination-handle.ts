// One destination shard's primary as the job writes to it: the tablet picked at the start, or the one the topology
// names after a failover (a write refused as read-only). Shared by that destination's writers.

import type { Logger } from 'pino';
import type { DestinationTarget, WriteRetry } from '../clone/write-retry.ts';
import { pickDestinationPrimary } from '../clone/tablets.ts';
import type { Outage, RetryEvent, RetryPolicy } from '../mysql/retry.ts';
import type { JobDeps, TabletSession } from './tablet-session.ts';

export class DestinationHandle implements WriteRetry {
  readonly policy: RetryPolicy;
  readonly outage: Outage = { since: null };
  readonly #deps: JobDeps;
  readonly #tablets: TabletSession;
  readonly #shard: { keyspace: string; shard: string };
  readonly #connections: number;
  readonly #log: Logger;
  readonly #counted: (tablet: string) => void;
  #target: DestinationTarget;
  /** One lookup at a time: every writer refused at once waits for the same one. */
  #resolving: Promise<void> | null = null;

  constructor(opts: { deps: JobDeps; tablets: TabletSession; shard: { keyspace: string; shard: string }; target: DestinationTarget; connections: number; policy: RetryPolicy; log: Logger; counted: (tablet: string) => void }) {
    this.#deps = opts.deps;
    this.#tablets = opts.tablets;
    this.#shard = opts.shard;
    this.#target = opts.target;
    this.#connections = opts.connections;
    this.policy = opts.policy;
    this.#log = opts.log;
    this.#counted = opts.counted;
  }

  current(): DestinationTarget {
    return this.#target;
  }

  onRetry(event: RetryEvent, where: { tablet: string; doing: string }): void {
    this.#counted(where.tablet);
    this.#log.warn({ tablet: where.tablet, doing: where.doing, attempt: event.attempt, kind: event.kind, retryInMs: event.delayMs, err: event.error }, 'write failed; retrying');
  }

  reresolve(): Promise<void> {
    this.#resolving ??= this.#lookup().finally(() => {
      this.#resolving = null;
    });
    return this.#resolving;
  }

  async #lookup(): Promise<void> {
    let ref: Awaited<ReturnType<typeof pickDestinationPrimary>>;
    try {
      const topo = await this.#deps.topo.read();
      ref = await pickDestinationPrimary(topo, this.#shard.keyspace, this.#shard.shard, this.#deps.credentials, this.#deps.tls);
    } catch (err) {
      // Mid-failover the topology may still name the old, read-only primary: the next attempt looks again.
      this.#log.warn({ shard: `${this.#shard.keyspace}/${this.#shard.shard}`, err }, 'no writable destination primary yet');
      return;
    }
    const old = this.#target.ref;
    if (ref.alias === old.alias && ref.tablet.host === old.tablet.host && ref.tablet.port === old.tablet.port) return;
    this.#log.warn({ from: old.alias, to: ref.alias, shard: `${this.#shard.keyspace}/${this.#shard.shard}` }, 'destination primary changed: writing to the new one');
    this.#target = { ref, pool: this.#tablets.openPool(ref, this.#connections, false) };
  }
}
