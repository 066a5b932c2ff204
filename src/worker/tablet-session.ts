// The tablets one job works on, and every change it made to get them: source tablets taken (marked `worker`,
// replication stopped, now or at a given position), pools on them and on the destination primaries. Shared by the
// clone and diff jobs. release() undoes the changes, last first, all of them even when some fail, and closes the
// pools.

import os from 'node:os';
import type { Logger } from 'pino';
import type { CloneTargets, CopyStrategy } from '../clone/strategy.ts';
import type { StreamControl } from '../cutover/stream-control.ts';
import { settleAll } from '../clone/settle-all.ts';
import { pickDestinationPrimary, pickSourceTablet } from '../clone/tablets.ts';
import { openPool, type Pool, type TabletRef } from '../mysql/connection.ts';
import { currentPosition, replicationStatus, serverFlavor, startReplication, stopReplication, stopReplicationAt } from '../mysql/replication.ts';
import type { TopologyServer } from '../topology/server.ts';
import { setTabletType, tabletOf } from '../topology/shards.ts';
import type { Credentials, DbTls, TabletType } from '../topology/types.ts';
import type { JobStatus } from './job-status.ts';
import { UndoStack, type UndoReport } from './undo.ts';

export interface JobDeps {
  topo: TopologyServer;
  credentials: Credentials;
  /** For tablets with `tls: true` (--db-ca-file). */
  tls?: DbTls;
  /** How long a transient failure is retried (ms; --retry-duration, default 2 h). */
  retryDuration?: number;
  /** The daemon's streams (under `serve` only): MigrateServedTypes primary drains and turns them round. */
  streams?: StreamControl;
}

export const DEFAULT_RETRY_DURATION = 2 * 3_600_000;

export interface TakenSource {
  ref: TabletRef;
  pool: Pool;
  /** Where its data stands, replication stopped: `MariaDB/…` or `MySQL56/…`. */
  position: string;
}

export interface DestinationTablet {
  ref: TabletRef;
  pool: Pool;
}

export interface PickedTablets {
  /** One per `targets.sources`, in order. */
  sources: TabletRef[];
  /** One per `targets.destinations`, in order. */
  destinations: TabletRef[];
}

export interface TakeOptions {
  /** The type to give the tablet back. */
  previousType: TabletType;
  connections: number;
  /** Stop replication exactly here (the replica runs on to it if behind); by default, wherever it is. */
  stopAt?: string;
  signal: AbortSignal;
}

export class TabletSession {
  readonly #deps: JobDeps;
  readonly #status: JobStatus;
  readonly #log: Logger;
  readonly #undo = new UndoStack();
  readonly #pools: Pool[] = [];

  constructor(deps: JobDeps, status: JobStatus, log: Logger) {
    this.#deps = deps;
    this.#status = status;
    this.#log = log;
  }

  /** The strategy's shards, as the topology has them now; the status shows them until tablets are picked. */
  async resolveTargets(strategy: CopyStrategy): Promise<CloneTargets> {
    const targets = strategy.resolveTargets(await this.#deps.topo.read());
    const names = (list: { keyspace: string; shard: string }[]) => list.map((t) => `${t.keyspace}/${t.shard}`);
    this.#status.sources = names(targets.sources);
    this.#status.destinations = names(targets.destinations);
    this.#log.info({ sources: this.#status.sources, destinations: this.#status.destinations }, 'shards resolved');
    return targets;
  }

  /**
   * A healthy source tablet of `type` per source shard and the primary of each destination. Every tablet is checked
   * before any is changed, so a bad one leaves nothing to undo.
   */
  async pick(targets: CloneTargets, type: TabletType): Promise<PickedTablets> {
    const topo = await this.#deps.topo.read();
    const { credentials, tls } = this.#deps;
    // Checked side by side (each check is a connection and a query or two); a failure is reported in shard order.
    const [sources, destinations] = await settleAll([
      settleAll(targets.sources.map((s) => pickSourceTablet(topo, s.keyspace, s.shard, type, credentials, this.#log, tls))),
      this.pickDestinations(targets),
    ]);
    this.#status.sources = sources.map((r) => r.alias);
    return { sources, destinations };
  }

  /** The primary of each destination shard, checked reachable and writable. */
  async pickDestinations(targets: CloneTargets): Promise<TabletRef[]> {
    const topo = await this.#deps.topo.read();
    const destinations = await settleAll(targets.destinations.map((d) => pickDestinationPrimary(topo, d.keyspace, d.shard, this.#deps.credentials, this.#deps.tls)));
    this.#status.destinations = destinations.map((r) => r.alias);
    return destinations;
  }

  /** Marks the tablet `worker`, stops its replication and captures its position, recording how to undo each. */
  async takeSource(ref: TabletRef, opts: TakeOptions): Promise<TakenSource> {
    const { previousType } = opts;
    const jobId = this.#status.id;
    const log = this.#log.child({ tablet: ref.alias });
    await this.#deps.topo.update((topo) => setTabletType(topo, ref.alias, 'worker', { jobId, previousType, since: new Date().toISOString(), pid: process.pid, hostname: os.hostname() }));
    this.#pushRestoreType(ref, previousType);
    log.info('source tablet marked worker');
    const pool = this.openPool(ref, opts.connections, true);
    const flavor = await serverFlavor(pool, ref);
    // Recorded first: stopping at a position can fail after the replica was stopped or set running to it.
    this.#pushRestartReplication(ref);
    if (opts.stopAt === undefined) {
      await stopReplication(pool, ref);
    } else {
      log.info({ position: opts.stopAt }, 'bringing the source tablet to the position');
      await stopReplicationAt(pool, ref, opts.stopAt, { signal: opts.signal, onWaiting: (at) => log.info({ at, position: opts.stopAt }, 'waiting for the source tablet to reach the position') });
    }
    const position = await currentPosition(pool, ref, flavor);
    log.info({ position }, 'replication stopped');
    return { ref, pool, position };
  }

  #pushRestoreType(ref: TabletRef, previousType: TabletType): void {
    this.#undo.push(`restore ${ref.alias} to ${previousType}`, async () => {
      await this.#deps.topo.update((topo) => setTabletType(topo, ref.alias, previousType));
    });
  }

  #pushRestartReplication(ref: TabletRef): void {
    this.#undo.push(`restart replication on ${ref.alias}`, async () => {
      const control = openPool(ref, this.#deps.credentials, { connectionLimit: 1, tls: this.#deps.tls });
      try {
        await startReplication(control, ref);
      } finally {
        await control.end().catch(() => {});
      }
    });
  }

  /**
   * Takes over a source tablet an earlier job of these shards left `worker` (its process died), to finish its copy:
   * the tablet must still be held for that job, replication stopped exactly at the recorded position, or the
   * snapshot that job copied from is gone. Undo as for takeSource.
   */
  async retakeSource(alias: string, oldJobId: string, position: string, connections: number): Promise<TakenSource> {
    const log = this.#log.child({ tablet: alias });
    const topo = await this.#deps.topo.read();
    const tablet = tabletOf(topo, alias);
    const held = tablet.workerJob;
    const gone = 'its snapshot is gone, so the copy cannot be resumed: empty the destinations and clone again without --resume';
    if (tablet.type !== 'worker' || !held || held.jobId !== oldJobId) {
      throw new Error(`source tablet ${alias} is no longer held for job ${oldJobId} (it is ${tablet.type}${held ? `, held by job ${held.jobId}` : ''}): ${gone}`);
    }
    const ref: TabletRef = { alias, tablet };
    // The copy goes on under its first job's id (the one its marks carry); only the owning process changes.
    await this.#deps.topo.update((t) => setTabletType(t, alias, 'worker', { ...held, since: new Date().toISOString(), pid: process.pid, hostname: os.hostname() }));
    this.#pushRestoreType(ref, held.previousType);
    log.info({ oldJob: oldJobId }, 'source tablet taken over from the interrupted job');
    const pool = this.openPool(ref, connections, true);
    const status = await replicationStatus(pool, ref);
    this.#pushRestartReplication(ref);
    if (status.ioRunning || status.sqlRunning) throw new Error(`source tablet ${alias} is replicating again: ${gone}`);
    const now = await currentPosition(pool, ref, await serverFlavor(pool, ref));
    if (now !== position) throw new Error(`source tablet ${alias} moved from ${position} to ${now}: ${gone}`);
    log.info({ position }, 'source tablet still at the snapshot');
    return { ref, pool, position };
  }

  /** A pool on a destination primary, connected to no database (the clone creates it). */
  openDestination(ref: TabletRef, connections: number): DestinationTablet {
    return { ref, pool: this.openPool(ref, connections, false) };
  }

  /** A pool closed by release(). */
  openPool(ref: TabletRef, connections: number, withDatabase: boolean): Pool {
    const pool = openPool(ref, this.#deps.credentials, { connectionLimit: connections, withDatabase, tls: this.#deps.tls });
    this.#pools.push(pool);
    return pool;
  }

  /** Undoes every recorded change, then closes every pool. Never throws: it reports what it could not undo. */
  async release(): Promise<UndoReport> {
    const report = await this.#undo.runAll(this.#log);
    await Promise.all(this.#pools.map((p) => p.end().catch(() => {})));
    return report;
  }
}

