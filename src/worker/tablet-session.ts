// The tablets one job works on, and every change it made to get them: source tablets taken (marked `worker`,
// replication stopped, now or at a given position), and the job's only way to talk to them and to the destination
// primaries: TabletLinks (mysql/tablet-client.ts), whose every statement is retried. Fail fast before, persevere
// after: until the job has changed something (the undo stack is empty) a failure is final at once, naming the
// tablet; from the first change on an outage is waited out for --retry-duration. Shared by the clone and diff jobs.
// release() undoes the changes, last first, all of them even when some fail, and closes the pools.

import os from 'node:os';
import type { Logger } from 'pino';
import type { CloneTargets, CopyStrategy } from '../clone/strategy.ts';
import type { StreamControl } from '../cutover/stream-control.ts';
import { settleAll } from '../pipeline/settle-all.ts';
import { pickDestinationPrimary, pickSourceTablet } from '../clone/tablets.ts';
import type { TabletRef } from '../mysql/connection.ts';
import { currentPosition, replicationStatus, serverFlavor, snapshotGuard, startReplication, stopReplication, stopReplicationAt } from '../mysql/replication.ts';
import type { RetryPolicy } from '../mysql/retry.ts';
import { openConsistentSnapshot, snapshotLostGuard } from '../mysql/snapshot.ts';
import { TabletLink, withTablet, type TabletClient } from '../mysql/tablet-client.ts';
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
  /** Tests only: called before each attempt of each statement to a tablet (see TabletLinkHooks.beforeAttempt). */
  beforeAttempt?: (tablet: string, doing: string) => Promise<void>;
  /** The daemon's streams (under `serve` only): MigrateServedTypes primary drains and turns them round. */
  streams?: StreamControl;
}

export const DEFAULT_RETRY_DURATION = 2 * 3_600_000;

export interface TakenSource {
  /** The tablet as taken (a source is never re-resolved). */
  ref: TabletRef;
  /** Its pool of `connections`, replication checked on every new connection (see snapshotGuard). */
  client: TabletClient;
  link: TabletLink;
  /** Where its data stands, replication stopped: `MariaDB/…` or `MySQL56/…`. */
  position: string;
}

export interface DestinationTablet {
  /** The primary as picked (`link.ref` is the current one after a failover). */
  ref: TabletRef;
  link: TabletLink;
  /** A pool of the connections asked for, connected to no database (the clone creates it). */
  client: TabletClient;
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
  /** With stopAt: a replica past it stops where it is (see StopAtOptions.orLater); `position` says where. */
  orLater?: boolean;
  signal: AbortSignal;
}

export class TabletSession {
  readonly #deps: JobDeps;
  readonly #status: JobStatus;
  readonly #log: Logger;
  readonly #undo = new UndoStack();
  readonly #links: TabletLink[] = [];
  readonly #abort: AbortController;

  constructor(deps: JobDeps, status: JobStatus, log: Logger, abort: AbortController) {
    this.#deps = deps;
    this.#status = status;
    this.#log = log;
    this.#abort = abort;
  }

  /** Retrying is on once the job has changed something (see the file comment). */
  #policy(): RetryPolicy | null {
    return this.#undo.size > 0 ? { durationMs: this.#deps.retryDuration ?? DEFAULT_RETRY_DURATION } : null;
  }

  /**
   * `gate`: how the link passes the job's gate (status.control): a source's reads are held while paused, a
   * destination primary's statements while paused or throttled, and spaced by --max-tps. A probe has none.
   */
  #link(ref: TabletRef, resolvePrimary?: () => Promise<TabletRef>, gate?: { kind: 'read' | 'write'; key: string }, probe = false): TabletLink {
    const control = this.#status.control;
    const link = new TabletLink({
      ref,
      gate: gate && control ? { gate: control.gate, ...gate } : undefined,
      credentials: this.#deps.credentials,
      tls: this.#deps.tls,
      resolvePrimary,
      policy: () => (probe ? null : this.#policy()),
      signal: this.#abort.signal,
      log: this.#log,
      counted: (tablet) => this.#status.recordRetry(tablet),
      broken: (err) => this.#abort.abort(err),
      beforeAttempt: this.#deps.beforeAttempt,
    });
    this.#links.push(link);
    return link;
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
  async pick(targets: CloneTargets, type: TabletType, replicating = true): Promise<PickedTablets> {
    const topo = await this.#deps.topo.read();
    const { credentials, tls } = this.#deps;
    // Checked side by side (each check is a connection and a query or two); a failure is reported in shard order.
    const [sources, destinations] = await settleAll([
      settleAll(targets.sources.map((s) => pickSourceTablet(topo, s.keyspace, s.shard, type, credentials, this.#log, tls, replicating))),
      this.pickDestinations(targets),
    ]);
    this.#status.sources = sources.map((r) => r.alias);
    return { sources, destinations };
  }

  /** The primary of each destination shard, checked reachable and writable. */
  async pickDestinations(targets: CloneTargets): Promise<TabletRef[]> {
    const topo = await this.#deps.topo.read();
    const destinations = await settleAll(
      targets.destinations.map((d) => pickDestinationPrimary(topo, d.keyspace, d.shard, this.#deps.credentials, this.#deps.tls)),
    );
    this.#status.destinations = destinations.map((r) => r.alias);
    return destinations;
  }

  /** Marks the tablet `worker`, stops its replication and captures its position, recording how to undo each. */
  async takeSource(ref: TabletRef, opts: TakeOptions): Promise<TakenSource> {
    const { previousType } = opts;
    const jobId = this.#status.id;
    const log = this.#log.child({ tablet: ref.alias });
    await this.#deps.topo.update((topo) =>
      setTabletType(topo, ref.alias, 'worker', { jobId, previousType, since: new Date().toISOString(), pid: process.pid, hostname: os.hostname() }),
    );
    this.#pushRestoreType(ref, previousType);
    log.info('source tablet marked worker');
    const link = this.#link(ref, undefined, { kind: 'read', key: ref.alias });
    const client = link.client(opts.connections);
    const flavor = await serverFlavor(client);
    // Recorded first: stopping at a position can fail after the replica was stopped or set running to it.
    this.#pushRestartReplication(ref);
    if (opts.stopAt === undefined) {
      await stopReplication(client);
    } else {
      log.info({ position: opts.stopAt }, 'bringing the source tablet to the position');
      await stopReplicationAt(client, opts.stopAt, {
        signal: opts.signal,
        orLater: opts.orLater,
        onWaiting: (at) => log.info({ at, position: opts.stopAt }, 'waiting for the source tablet to reach the position'),
      });
    }
    const position = await currentPosition(client, flavor);
    // From here on, every new connection (a reconnect after a restart) checks the tablet is still at it.
    link.guard(snapshotGuard(flavor, position));
    log.info({ position }, 'replication stopped');
    return { ref, client, link, position };
  }

  /**
   * Opens a consistent snapshot on a live source tablet (mysql/snapshot.ts): `connections` readers, each in its
   * transaction on it, left in the returned client's pool for the whole copy. The tablet keeps serving: it is not
   * marked `worker` and its replication is left alone. The only change to undo is the snapshot itself (its
   * transactions ended by closing their connections); a reader's connection lost fails the job (snapshotLostGuard).
   */
  async openSnapshot(ref: TabletRef, connections: number): Promise<TakenSource> {
    const log = this.#log.child({ tablet: ref.alias });
    const link = this.#link(ref);
    // Exactly `connections`, all made now: the pool never makes another unless one is lost (and never closes an idle
    // one: mysql2 closes idle connections only when it may keep fewer idle than its limit).
    const client = link.client(connections);
    const opened = await withTablet(ref, this.#deps.credentials, this.#deps.tls, (holder) => openConsistentSnapshot(holder, client, connections), false);
    link.guard(snapshotLostGuard(opened.position));
    this.#undo.push(`end the consistent snapshot on ${ref.alias}`, async () => {
      await client.close();
      this.#status.snapshotsClosed();
    });
    this.#status.snapshotOpened(ref.alias, opened.position, opened.openedAt, opened.blockedMs);
    log.info(
      { position: opened.position, lock: opened.lock, commitsHeldMs: Math.round(opened.blockedMs * 10) / 10, readers: connections },
      'consistent snapshot opened; the tablet keeps serving',
    );
    return { ref, client, link, position: opened.position };
  }

  #pushRestoreType(ref: TabletRef, previousType: TabletType): void {
    this.#undo.push(`restore ${ref.alias} to ${previousType}`, async () => {
      await this.#deps.topo.update((topo) => setTabletType(topo, ref.alias, previousType));
    });
  }

  #pushRestartReplication(ref: TabletRef): void {
    this.#undo.push(`restart replication on ${ref.alias}`, async () => {
      await withTablet(ref, this.#deps.credentials, this.#deps.tls, startReplication);
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
      throw new Error(
        `source tablet ${alias} is no longer held for job ${oldJobId} (it is ${tablet.type}${held ? `, held by job ${held.jobId}` : ''}): ${gone}`,
      );
    }
    const ref: TabletRef = { alias, tablet };
    // The copy goes on under its first job's id (the one its marks carry); only the owning process changes.
    await this.#deps.topo.update((t) =>
      setTabletType(t, alias, 'worker', { ...held, since: new Date().toISOString(), pid: process.pid, hostname: os.hostname() }),
    );
    this.#pushRestoreType(ref, held.previousType);
    log.info({ oldJob: oldJobId }, 'source tablet taken over from the interrupted job');
    const link = this.#link(ref, undefined, { kind: 'read', key: ref.alias });
    const client = link.client(connections);
    const status = await replicationStatus(client);
    this.#pushRestartReplication(ref);
    if (status.ioRunning || status.sqlRunning) throw new Error(`source tablet ${alias} is replicating again: ${gone}`);
    const flavor = await serverFlavor(client);
    const now = await currentPosition(client, flavor);
    if (now !== position) throw new Error(`source tablet ${alias} moved from ${position} to ${now}: ${gone}`);
    link.guard(snapshotGuard(flavor, position));
    log.info({ position }, 'source tablet still at the snapshot');
    return { ref, client, link, position };
  }

  /**
   * A destination shard's primary as the job talks to it: after a write refused as read-only (a failover) the
   * shard's primary is looked up again in the topology. `client` has `connections` connections, to no database (the
   * clone creates it); `link.client()` gives more, each with a pool of its own.
   */
  openDestination(ref: TabletRef, shard: { keyspace: string; shard: string }, connections: number): DestinationTablet {
    const resolve = async () => pickDestinationPrimary(await this.#deps.topo.read(), shard.keyspace, shard.shard, this.#deps.credentials, this.#deps.tls);
    const link = this.#link(ref, resolve, { kind: 'write', key: `${shard.keyspace}/${shard.shard}` });
    return { ref, link, client: link.client(connections, false) };
  }

  /**
   * A tablet watched, not worked on (the lag monitor's primaries and replicas): one connection, no gate (it must
   * see while writes are held), no retry (a failed probe is reported and tried again at the next tick).
   */
  openProbe(ref: TabletRef): TabletClient {
    return this.#link(ref, undefined, undefined, true).client(1, false);
  }

  /** Undoes every recorded change, then closes every pool. Never throws: it reports what it could not undo. */
  async release(): Promise<UndoReport> {
    const report = await this.#undo.runAll(this.#log);
    await Promise.all(this.#links.map((l) => l.close()));
    return report;
  }
}
