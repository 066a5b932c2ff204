// One stream: one source shard feeding one destination primary, which is that destination's `_vt.blp_checkpoint`
// row (DESIGN.md "Filtered replication"). The play loop reads like vplayer's: take events, gather each source
// transaction's changes for this destination, group transactions while behind, apply a group with the position in
// the same destination transaction, commit. Every failure ends the session; a retryable one starts a new session
// from the checkpoint row, so a retry, a restart and a SIGKILL all resume the same way.

import type { Logger } from 'pino';
import { parseTableMatchers } from '../clone/table-filter.ts';
import { parseShardName } from '../keyrange/keyrange.ts';
import type { BinlogEvent, BinlogSource } from '../mysql/wire/binlog/events.ts';
import { describeTablet, type TabletRef } from '../mysql/connection.ts';
import { classifyError, RetriesExhaustedError, sleep, withRetry, type FailureKind, type Outage } from '../mysql/retry.ts';
import { TabletLink, withTablet, type TabletClient } from '../mysql/tablet-client.ts';
import { serverFlavor } from '../mysql/replication.ts';
import { WriteGate } from '../throttle/gate.ts';
import { ReplicaLagMonitor } from '../throttle/replication-lag.ts';
import { RateMeter } from '../worker/progress.ts';
import { tabletsOf } from '../topology/shards.ts';
import type { TopologyServer } from '../topology/server.ts';
import type { Credentials, DbTls, SourceShard, TabletType, Topology } from '../topology/types.ts';
import { Applier, CheckpointMovedError, DivergenceError, StreamStopError, type SourceTransaction } from './applier.ts';
import { isDontStart, readStreamCheckpoints, setDontStartSql, type StreamCheckpoint } from './checkpoint-row.ts';
import { EventPump } from './event-pump.ts';
import { routeRows, streamsTable, type StreamScope } from './filter.ts';
import type { StreamSnapshot, StreamState } from './status.ts';

/** How a stream gets a source's changes: the binlog reader (src/mysql/binlog), or a test's synthetic events. */
export type OpenBinlog = (request: {
  ref: TabletRef;
  credentials: Credentials;
  tls?: DbTls;
  position: string;
  signal: AbortSignal;
  log: Logger;
}) => Promise<BinlogSource>;

export type OnDdl = 'stop' | 'exec';

/** How long a group waits for the source's next event before it counts as caught up and commits (ms). */
const CAUGHT_UP_WAIT_MS = 3;

export interface StreamDeps {
  topo: TopologyServer;
  credentials: Credentials;
  tls?: DbTls;
  openBinlog: OpenBinlog;
  log: Logger;
  /** --retry-duration (ms): how long one outage is retried before the stream stops in error. */
  retryDuration: number;
  /** --stream-tablet-type: which source tablet to read (the primary when none of that type is usable). */
  tabletType?: TabletType;
  onDdl?: OnDdl;
  /** A group commits once it holds this many rows (default 5000) or is this old (ms, default 100: the lag a trickle of source transactions adds), if not sooner. */
  groupRows?: number;
  groupMs?: number;
}

export interface StreamIdentity {
  /** The destination shard. */
  keyspace: string;
  shard: string;
  source: SourceShard;
}

/** The source ended its events without an error: as a lost connection, a new session resumes. */
class SourceEndedError extends Error {
  constructor(what: string) {
    super(`the binlog of ${what} ended`);
    this.name = 'SourceEndedError';
  }
}

/**
 * A session's end: the source's connection, or a checkpoint that moved, starts a new session from the row; a
 * destination statement was retried by the tablet client already (its exhaustion is final); a divergence or a stop
 * is final.
 */
function classifyStreamError(err: unknown): FailureKind {
  if (err instanceof SourceEndedError || err instanceof CheckpointMovedError) return 'connection';
  if (err instanceof DivergenceError || err instanceof StreamStopError || err instanceof RetriesExhaustedError) return 'fatal';
  return classifyError(err);
}

export class Stream {
  readonly id: StreamIdentity;
  readonly #deps: StreamDeps;
  readonly #log: Logger;
  #state: StreamState = 'stopped';
  #abort: AbortController | null = null;
  #running: Promise<void> = Promise.resolve();
  readonly #outage: Outage = { since: null };
  readonly #rate = new RateMeter();
  #position: string | null = null;
  #sourceTablet: string | null = null;
  /** The destination primary of the running session (it follows a failover), else the last one. */
  #destination: TabletLink | null = null;
  /** The lag monitor's links (closed with the session). */
  #probes: TabletLink[] = [];
  #destinationTablet: string | null = null;
  /** Source commit time of the last applied transaction (s); whether everything the source sent is applied. */
  #lastTimestamp: number | null = null;
  #caughtUp = false;
  #transactions = 0;
  #rows = 0;
  #retries = 0;
  #errors = 0;
  #lastError: string | null = null;
  /** max_tps: the earliest time (ms) the next group may commit. */
  #nextCommitAt = 0;

  constructor(id: StreamIdentity, deps: StreamDeps) {
    this.id = id;
    this.#deps = deps;
    this.#log = deps.log.child({ stream: this.name });
  }

  /** `commerce/0 -> commerce/-80`. */
  get name(): string {
    return `${this.id.source.keyspace}/${this.id.source.shard} -> ${this.id.keyspace}/${this.id.shard}`;
  }

  get state(): StreamState {
    return this.#state;
  }

  /** Sets or clears DontStart in the stream's checkpoint row (on the destination primary as the topology names it). */
  async setDontStart(on: boolean): Promise<void> {
    const destination = primaryOf(await this.#deps.topo.read(), this.id.keyspace, this.id.shard);
    await withTablet(destination, this.#deps.credentials, this.#deps.tls, async (client) => {
      const checkpoint = await this.#checkpoint(client);
      await client.query(`${on ? 'setting' : 'clearing'} DontStart`, setDontStartSql(this.id.source.uid, on, checkpoint.flags));
    });
  }

  snapshot(now = Date.now()): StreamSnapshot {
    let secondsBehind: number | null = null;
    if (this.#state === 'running' && this.#caughtUp) secondsBehind = 0;
    // As MySQL's Seconds_Behind_Master: whole seconds of the clock less the (whole-second) binlog timestamp, so a
    // transaction committed 0.8 s ago reads 0 or 1, never the 2 that rounding a fraction against it could give.
    else if (this.#lastTimestamp !== null) secondsBehind = Math.max(0, Math.floor(now / 1000) - this.#lastTimestamp);
    return {
      keyspace: this.id.keyspace,
      shard: this.id.shard,
      source: `${this.id.source.keyspace}/${this.id.source.shard}`,
      sourceUid: this.id.source.uid,
      sourceTablet: this.#sourceTablet,
      destinationTablet: this.#destination?.ref.alias ?? this.#destinationTablet,
      state: this.#state,
      position: this.#position,
      secondsBehind,
      transactionsApplied: this.#transactions,
      rowsApplied: this.#rows,
      rowsPerSecond: Math.round(this.#rate.rate(now)),
      retries: this.#retries,
      errors: this.#errors,
      lastError: this.#lastError,
      owner: null, // the manager knows who holds the stream's lock
    };
  }

  /** Starts the stream unless it runs; it stays `stopped` if its checkpoint row says DontStart. */
  start(): void {
    if (this.#state === 'running') return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#state = 'running';
    this.#lastError = null;
    this.#caughtUp = false;
    this.#running = this.#run(abort.signal);
  }

  /** Stops the stream (what it applied stays; it resumes from its checkpoint when started again). */
  async stop(): Promise<void> {
    this.#abort?.abort(new Error('stream stopped'));
    await this.#running;
  }

  async #run(signal: AbortSignal): Promise<void> {
    try {
      await withRetry(`stream ${this.name}`, () => this.#session(signal), {
        policy: { durationMs: this.#deps.retryDuration },
        signal,
        outage: this.#outage,
        classify: classifyStreamError,
        onRetry: (e) => {
          // A session that ended (the source's connection, a moved checkpoint): counted beside the statement retries.
          this.#retries++;
          this.#lastError = errorMessage(e.error);
          this.#log.warn({ attempt: e.attempt, kind: e.kind, delayMs: e.delayMs, err: this.#lastError }, 'stream failed; resuming from its checkpoint');
        },
      });
      this.#state = 'stopped';
    } catch (err) {
      if (signal.aborted) {
        this.#state = 'stopped';
        this.#log.info('stream stopped');
        return;
      }
      this.#state = 'error';
      this.#errors++;
      this.#lastError = errorMessage(err);
      this.#log.error({ err: this.#lastError, position: this.#position }, 'stream stopped in error');
    }
  }

  /**
   * One session from the checkpoint row on, until stopped or failed; returns if DontStart. The destination primary
   * is a tablet link (src/mysql/tablet-client.ts): its statements are retried there, and it follows a failover.
   */
  async #session(signal: AbortSignal): Promise<void> {
    const topo = await this.#deps.topo.read();
    const { keyspace, shard } = this.id;
    const link = new TabletLink({
      ref: primaryOf(topo, keyspace, shard),
      credentials: this.#deps.credentials,
      tls: this.#deps.tls,
      resolvePrimary: async () => primaryOf(await this.#deps.topo.read(), keyspace, shard),
      policy: () => ({ durationMs: this.#deps.retryDuration }),
      // One outage window for the stream: a destination outage the client gave up on is not retried again here.
      outage: this.#outage,
      signal,
      log: this.#log,
      counted: (_tablet, error) => {
        this.#retries++;
        if (error !== undefined) this.#lastError = errorMessage(error);
      },
    });
    this.#destination = link;
    this.#destinationTablet = link.ref.alias;
    let monitor: ReplicaLagMonitor | null = null;
    // Two connections: one holds the apply transaction, the other reads the checkpoint, tables and shapes.
    const client = link.client(2);
    let source: BinlogSource | null = null;
    const closeSource = () => void source?.close().catch(() => {});
    signal.addEventListener('abort', closeSource, { once: true });
    try {
      const checkpoint = await this.#checkpoint(client);
      if (isDontStart(checkpoint)) {
        this.#log.info('stream not started: its checkpoint row says DontStart');
        return;
      }
      this.#position = checkpoint.position;
      monitor = await this.#watchReplicas(topo, checkpoint, link, signal);
      if (this.#lastTimestamp === null && checkpoint.transactionTimestamp > 0) this.#lastTimestamp = checkpoint.transactionTimestamp;
      const scope = await this.#scope(topo, client);
      const vertical = this.id.source.keyspace !== this.id.keyspace;
      const applier = new Applier(client, this.id.source.uid, vertical ? null : (topo.keyspaces[keyspace].shardingColumnName ?? null), checkpoint.position);
      await applier.refuseTriggers(scope.tables);
      source = await this.#openSource(topo, checkpoint.position, signal);
      if (signal.aborted) return;
      this.#log.info({ position: checkpoint.position, sourceTablet: this.#sourceTablet, destination: describeTablet(link.ref) }, 'stream started');
      await this.#play(new EventPump(source), applier, scope, checkpoint, signal);
    } finally {
      await monitor?.stop();
      await Promise.all(this.#probes.splice(0).map((l) => l.close()));
      signal.removeEventListener('abort', closeSource);
      closeSource();
      this.#destinationTablet = link.ref.alias;
      this.#destination = null;
      await link.close();
    }
  }

  /**
   * max_replication_lag of the checkpoint row: while a replica of the destination shard is further behind, the
   * stream's statements wait at a gate on its destination link (as a clone's writes do, throttle/gate.ts), sampled
   * every 0.5 s. The probes have links of their own, with no gate and no retry. None without the column or replicas.
   */
  async #watchReplicas(topo: Topology, checkpoint: StreamCheckpoint, link: TabletLink, signal: AbortSignal): Promise<ReplicaLagMonitor | null> {
    const bound = checkpoint.maxReplicationLag;
    const { keyspace, shard } = this.id;
    const replicas = tabletsOf(topo, keyspace, shard, 'replica');
    if (bound === null || replicas.length === 0) return null;
    const gate = new WriteGate();
    link.gateWith({ gate, kind: 'write', key: `${keyspace}/${shard}` });
    const probe = (ref: TabletRef) => {
      const l = new TabletLink({ ref, credentials: this.#deps.credentials, tls: this.#deps.tls, policy: () => null, signal, counted: () => {} });
      this.#probes.push(l);
      return l.client(1, false);
    };
    const name = `${keyspace}/${shard}`;
    const primary = probe(link.ref);
    const monitor = new ReplicaLagMonitor({
      flavor: await serverFlavor(primary),
      primaries: new Map([[name, primary]]),
      replicas: replicas.map(([alias, tablet]) => ({ alias, shard: name, client: probe({ alias, tablet }) })),
      bound: () => bound * 1000,
      throttle: (reason) => {
        if (reason !== null && !gate.throttled) this.#log.warn({ reason }, `stream throttled: ${reason}`);
        if (reason === null && gate.throttled) this.#log.info('stream resumed: every destination replica is within max_replication_lag');
        gate.throttle(reason);
      },
      log: this.#log,
    });
    await monitor.start();
    return monitor;
  }

  async #checkpoint(client: TabletClient): Promise<StreamCheckpoint> {
    const destination = client.ref;
    const row = (await readStreamCheckpoints(client)).find((c) => c.uid === this.id.source.uid);
    if (!row)
      throw new StreamStopError(
        `${describeTablet(destination)} has no _vt.blp_checkpoint row for source uid ${this.id.source.uid} (${this.id.source.keyspace}/${this.id.source.shard})`,
      );
    if (row.position === '')
      throw new StreamStopError(`the _vt.blp_checkpoint row for source uid ${this.id.source.uid} on ${describeTablet(destination)} has no position`);
    return row;
  }

  /**
   * What the stream carries: the tables the clone created on the destination (its base tables, read at session
   * start), narrowed to `sourceShards[].tables` when the entry names any (names or /regexps/, as --tables takes
   * them: a vertical split's list); for a split, the rows of the destination's key range.
   */
  async #scope(topo: Topology, client: TabletClient): Promise<StreamScope> {
    const source = this.id.source;
    const sourceDb = pickSourceTablets(topo, source, 'primary')[0]?.tablet.dbName;
    if (sourceDb === undefined) throw new StreamStopError(`source shard ${source.keyspace}/${source.shard} has no tablet`);
    const shardingColumnType = topo.keyspaces[this.id.keyspace].shardingColumnType ?? 'uint64';
    const rows = await client.query<{ name: string }[]>(
      'listing the streamed tables',
      "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
      [client.ref.tablet.dbName],
    );
    const matchers = parseTableMatchers(source.tables);
    const tables = new Set(rows.map((r) => String(r.name)).filter((t) => matchers.length === 0 || matchers.some((m) => m.test(t))));
    const vertical = source.keyspace !== this.id.keyspace;
    return { sourceDatabase: sourceDb, tables, keyRange: vertical ? null : parseShardName(this.id.shard), shardingColumnType };
  }

  /** The source tablet: one of --stream-tablet-type (replica by default) that answers, else the primary. */
  async #openSource(topo: Topology, position: string, signal: AbortSignal): Promise<BinlogSource> {
    const candidates = pickSourceTablets(topo, this.id.source, this.#deps.tabletType ?? 'replica');
    if (candidates.length === 0)
      throw new StreamStopError(
        `source shard ${this.id.source.keyspace}/${this.id.source.shard} has no primary or ${this.#deps.tabletType ?? 'replica'} tablet`,
      );
    let last: unknown;
    for (const ref of candidates) {
      try {
        const source = await this.#deps.openBinlog({ ref, credentials: this.#deps.credentials, tls: this.#deps.tls, position, signal, log: this.#log });
        this.#sourceTablet = ref.alias;
        return source;
      } catch (err) {
        if (signal.aborted) throw err;
        last = err;
        this.#log.warn({ tablet: ref.alias, err: errorMessage(err) }, 'source tablet unusable for the stream; trying the next');
      }
    }
    throw last;
  }

  /** The apply loop (the order of its steps is the correctness argument; see the comments). */
  async #play(pump: EventPump, applier: Applier, scope: StreamScope, checkpoint: StreamCheckpoint, signal: AbortSignal): Promise<void> {
    const groupRows = this.#deps.groupRows ?? 5000;
    const groupMs = this.#deps.groupMs ?? 100;
    /** Whole source transactions read and not yet applied: they commit together, with the last one's position. */
    let group: SourceTransaction[] = [];
    let rowsInGroup = 0;
    let groupSince = 0;
    /**
     * The group being applied while the next one is read and decoded (the destination and this process work at
     * the same time). One at a time, in order: a group starts only once the one before committed, so the applier
     * always applies onto the position it knows. Its failure ends the session at the next flush or drain.
     */
    let applying: Promise<void> | null = null;
    const drain = async () => {
      const pending = applying;
      applying = null;
      if (pending !== null) await pending;
    };

    const flush = async () => {
      if (group.length === 0) return;
      const applied = group;
      const rows = rowsInGroup;
      group = [];
      rowsInGroup = 0;
      await drain();
      await this.#throttle(checkpoint.maxTps, applied.length, signal);
      applying = applier.apply(applied).then(() => {
        // Committed: only now do the counters and the position move (a failure leaves them where the row is).
        const last = applied[applied.length - 1];
        this.#position = last.position;
        this.#lastTimestamp = last.timestamp;
        for (const t of applied) if (t.changes.length) this.#transactions++;
        this.#rows += rows;
        this.#rate.record(Date.now(), this.#rows);
        this.#outage.since = null; // progress ends an outage: the next failure starts a new retry window
      });
      // Awaited by the next flush or drain; until then a rejection is not unhandled.
      applying.catch(() => {});
    };

    try {
      await this.#playEvents(pump, applier, scope, signal, {
        flush,
        drain,
        push: (txn) => {
          if (group.length === 0) groupSince = Date.now();
          group.push(txn);
          rowsInGroup += txn.changes.length;
        },
        due: () => rowsInGroup >= groupRows || Date.now() - groupSince >= groupMs,
        idle: () => group.length === 0 && applying === null,
      });
    } finally {
      // The session's connections close after this: nothing of it may still be writing.
      await drain().catch(() => {});
    }
  }

  async #playEvents(
    pump: EventPump,
    applier: Applier,
    scope: StreamScope,
    signal: AbortSignal,
    groups: {
      flush: () => Promise<void>;
      drain: () => Promise<void>;
      push: (txn: SourceTransaction) => void;
      due: () => boolean;
      idle: () => boolean;
    },
  ): Promise<void> {
    const onDdl = this.#deps.onDdl ?? 'stop';
    const { flush, drain } = groups;
    /** The source transaction being read; its changes are only kept once its commit arrives. */
    let open: SourceTransaction | null = null;
    for (;;) {
      if (signal.aborted) return;
      // An event already read comes without a promise; only an empty pump is waited for.
      const event: BinlogEvent | null =
        pump.take()
        ?? (await pump.next().catch((err: unknown) => {
          if (signal.aborted) return null;
          throw err;
        }));
      if (event === null) {
        if (signal.aborted) return;
        throw new SourceEndedError(this.#sourceTablet ?? 'the source');
      }
      if (event.type !== 'idle' && this.#caughtUp) {
        // The first change after standing caught up: the stream is behind by this event's age, not by that of the
        // last transaction it applied (which may be minutes old on a quiet source).
        this.#caughtUp = false;
        this.#lastTimestamp = event.timestamp;
      }
      switch (event.type) {
        case 'begin':
          open = { gtid: event.gtid, position: '', timestamp: event.timestamp, changes: [] };
          break;
        case 'rows': {
          if (!streamsTable(scope, event.table.database, event.table.table)) break;
          if (open === null) throw new StreamStopError(`a row event for ${event.table.table} outside a transaction (after position ${this.#position})`);
          const shape = applier.knownShape(event.table) ?? (await applier.shape(event.table));
          for (const change of routeRows(scope, shape, event)) open.changes.push(change);
          break;
        }
        case 'commit': {
          const txn = open ?? { gtid: '', position: '', timestamp: event.timestamp, changes: [] };
          open = null;
          txn.position = event.position;
          txn.timestamp = event.timestamp;
          groups.push(txn);
          // The group is big or old enough, or the source has sent nothing more for a moment (caught up, as far
          // as the stream can tell): commit it. The short wait keeps a reader that is merely slower than the
          // applier from turning every source transaction into a commit of its own.
          if (groups.due()) await flush();
          else if (pump.empty && !(await pump.waitForMore(CAUGHT_UP_WAIT_MS))) {
            // Caught up with what the source sent: it lands before the stream says so.
            await flush();
            await drain();
          }
          break;
        }
        case 'ddl': {
          // Everything before the DDL lands first; the DDL is the stream's next position, on its own.
          await flush();
          await drain();
          open = null;
          if (!ddlTouches(scope, event)) {
            groups.push({ gtid: event.gtid, position: event.position, timestamp: event.timestamp, changes: [] });
            if (pump.empty) await flush();
            break;
          }
          if (onDdl === 'stop')
            throw new StreamStopError(
              `DDL on a streamed table in source transaction ${event.gtid} (the stream stands at ${this.#position}; --on-ddl stop): ${event.statement}`,
            );
          this.#log.info({ gtid: event.gtid, statement: event.statement }, 'applying DDL (--on-ddl exec)');
          await applier.exec(event.statement, event.position, event.timestamp);
          // A CREATE TRIGGER the stream ran is refused from here on, as at session start.
          await applier.refuseTriggers(scope.tables);
          this.#position = event.position;
          this.#lastTimestamp = event.timestamp;
          break;
        }
        case 'idle':
          await flush();
          await drain();
          if (open === null && event.position !== this.#position) {
            groups.push({ gtid: '', position: event.position, timestamp: this.#lastTimestamp ?? event.timestamp, changes: [] });
            await flush();
            await drain();
          }
          break;
      }
      if (pump.empty && open === null && groups.idle()) this.#caughtUp = true;
    }
  }

  /** max_tps: source transactions per second the stream commits at most (unlimited when null). */
  async #throttle(maxTps: number | null, transactions: number, signal: AbortSignal): Promise<void> {
    if (maxTps === null) return;
    const now = Date.now();
    if (this.#nextCommitAt > now) await sleep(this.#nextCommitAt - now, signal);
    this.#nextCommitAt = Math.max(now, this.#nextCommitAt) + (transactions * 1000) / maxTps;
  }
}

/** The destination shard's primary, from the topology as it is now (a failover moves it). */
function primaryOf(topo: Topology, keyspace: string, shard: string): TabletRef {
  const primaries = tabletsOf(topo, keyspace, shard, 'primary');
  if (primaries.length === 0) throw new StreamStopError(`destination shard ${keyspace}/${shard} has no primary`);
  const [alias, tablet] = primaries[0];
  return { alias, tablet };
}

/** Tablets of the source shard to read from, in order of preference: the wanted type, then the primary. */
export function pickSourceTablets(topo: Topology, source: SourceShard, type: TabletType): TabletRef[] {
  const refs = (t: TabletType) => tabletsOf(topo, source.keyspace, source.shard, t).map(([alias, tablet]) => ({ alias, tablet }));
  return type === 'primary' ? refs('primary') : [...refs(type), ...refs('primary')];
}

/** Does a DDL statement name one of the streamed tables? (A word match: a false alarm stops, it never skips.) */
export function ddlTouches(scope: StreamScope, event: Extract<BinlogEvent, { type: 'ddl' }>): boolean {
  if (event.database !== scope.sourceDatabase && !event.statement.includes(scope.sourceDatabase)) return false;
  const text = event.statement.toLowerCase();
  for (const table of scope.tables ?? []) {
    const name = table.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    if (new RegExp(`(^|[^a-z0-9_$])${name}([^a-z0-9_$]|$)`).test(text)) return true;
  }
  return false;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
