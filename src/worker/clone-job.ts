// The clone job: SplitClone or VerticalSplitClone, by its CopyStrategy. A flat list of phases; fields are grouped
// by the phase that fills them. The tablets it takes, and how to give them back, are its TabletSession's.

import type { Logger } from 'pino';
import { copyTables, type DestinationSide } from '../clone/copier.ts';
import type { SourceSide } from '../pipeline/contracts.ts';
import { CREATE_BLP_CHECKPOINT, BLP_FLAG_DONT_START, populateBlpCheckpoint } from '../clone/checkpoint.ts';
import { DelayedIndexes } from '../clone/delayed-indexes.ts';
import { LockWatch } from '../clone/lock-watch.ts';
import { compareSchema, createTables, createViews } from '../clone/schema-copy.ts';
import { compareTriggers, createTriggers, tablesNamedIn } from '../clone/triggers.ts';
import type { CloneTargets, CopyStrategy } from '../clone/strategy.ts';
import type { StrategyFlags } from '../clone/strategy-flags.ts';
import { DestinationWriter } from '../clone/writer.ts';
import { CopyState, createCopyState, findUnfinishedJob, finishJob, recordJob, type CopyJobRecord } from '../clone/copy-state.ts';
import { readSchema, type SchemaDefinition, type TableDefinition } from '../mysql/schema.ts';
import { readSchemaObjects, type TriggerDefinition } from '../mysql/schema-objects.ts';
import { setSourceShards, tabletsOf } from '../topology/shards.ts';
import { serverFlavor } from '../mysql/replication.ts';
import { ReplicaLagMonitor, type ReplicaProbe } from '../throttle/replication-lag.ts';
import type { TabletType } from '../topology/types.ts';
import type { JobPhases } from './job-runner.ts';
import type { JobStatus } from './job-status.ts';
import type { JobOptions } from './options.ts';
import { diffAndReport } from './table-diffs.ts';
import { TabletSession, type DestinationTablet, type JobDeps, type TakenSource } from './tablet-session.ts';
import type { UndoReport } from './undo.ts';
import type { TabletDb } from '../mysql/tablet-client.ts';
import { settleAll } from '../pipeline/settle-all.ts';

export type { JobDeps } from './tablet-session.ts';

interface Destination extends DestinationTablet {
  writer: DestinationWriter;
}

export class CloneJob implements JobPhases {
  readonly workState = 'copying the data';
  readonly #deps: JobDeps;
  readonly #status: JobStatus;
  readonly #strategy: CopyStrategy;
  readonly #options: JobOptions;
  readonly #flags: StrategyFlags;
  readonly #abort: AbortController;
  readonly #log: Logger;
  readonly #tablets: TabletSession;

  // initialize
  #targets: CloneTargets | null = null;
  // findTargets
  #sources: TakenSource[] = [];
  #destinations: Destination[] = [];
  /** With --resume: the interrupted job this one finishes. */
  #resumed: CopyJobRecord | null = null;
  /** Watching the destination replicas (when they have any). */
  #monitor: ReplicaLagMonitor | null = null;

  constructor(deps: JobDeps, status: JobStatus, strategy: CopyStrategy, options: JobOptions, flags: StrategyFlags, abort: AbortController, log: Logger) {
    this.#deps = deps;
    this.#status = status;
    this.#strategy = strategy;
    this.#options = options;
    this.#flags = flags;
    this.#abort = abort;
    this.#log = log;
    this.#tablets = new TabletSession(deps, status, log, abort);
  }

  async initialize(): Promise<void> {
    this.#targets = await this.#tablets.resolveTargets(this.#strategy);
  }

  async findTargets(): Promise<void> {
    const type = this.#options.sourceTabletType as TabletType;
    const consistent = this.#options.snapshot === 'consistent';
    // A tablet read at a consistent snapshot need not replicate (a primary does not): it is only read.
    const picked = this.#options.resume
      ? { sources: [], destinations: await this.#tablets.pickDestinations(this.#targets!) }
      : await this.#tablets.pick(this.#targets!, type, !consistent);
    for (const ref of picked.sources) {
      const connections = this.#options.sourceReaderCount;
      this.#sources.push(
        consistent
          ? await this.#tablets.openSnapshot(ref, connections)
          : await this.#tablets.takeSource(ref, { previousType: type, connections, signal: this.#abort.signal }),
      );
    }
    // Each destination's checks (the write method's among them) at once; kept in the destinations' order.
    const opened = await Promise.all(
      picked.destinations.map(async (ref, i) => {
        const connections = this.#options.destinationWriterCount;
        const dest = this.#tablets.openDestination(ref, this.#targets!.destinations[i], connections);
        const writer = new DestinationWriter(dest.client, { writers: connections, method: this.#options.writeMethod, signal: this.#abort.signal });
        // In the message too, so the status page's log shows which method `auto` picked.
        const writeMethod = await writer.open();
        this.#log.info({ tablet: ref.alias, writeMethod }, `rows are written with the ${writeMethod} method`);
        return { ...dest, writer };
      }),
    );
    this.#destinations.push(...opened);
    if (this.#options.resume) await this.#retakeSources();
    await this.#watchReplicas();
    const control = this.#status.control;
    if (control)
      control.holding = `source tablets ${this.#sources.map((s) => s.ref.alias).join(', ')} (marked worker, replication stopped at the snapshot) and its connections to ${this.#destinations.map((d) => d.ref.alias).join(', ')}`;
  }

  /**
   * Samples the lag of every replica of the destination shards (tablets of type replica there) every 0.5 s while
   * the job runs; the gate holds writes while one is further behind than --max-replication-lag (tunable live).
   */
  async #watchReplicas(): Promise<void> {
    const control = this.#status.control;
    if (!control) return;
    const topo = await this.#deps.topo.read();
    const shards = this.#targets!.destinations;
    const replicas: ReplicaProbe[] = shards.flatMap((d) =>
      tabletsOf(topo, d.keyspace, d.shard, 'replica').map(([alias, tablet]) => ({
        alias,
        shard: `${d.keyspace}/${d.shard}`,
        client: this.#tablets.openProbe({ alias, tablet }),
      })),
    );
    if (replicas.length === 0) {
      if (control.maxReplicationLagMs > 0)
        this.#log.warn('--max-replication-lag: the destination shards have no replica tablets in the topology; nothing to wait for');
      return;
    }
    const primaries = new Map(this.#destinations.map((d, i) => [`${shards[i].keyspace}/${shards[i].shard}`, this.#tablets.openProbe(d.ref)]));
    const flavor = await serverFlavor(primaries.values().next().value!);
    const monitor = new ReplicaLagMonitor({
      flavor,
      primaries,
      replicas,
      bound: () => control.maxReplicationLagMs,
      throttle: (reason) => this.#throttled(reason),
      log: this.#log,
    });
    this.#monitor = monitor;
    control.watch(monitor);
    await monitor.start();
    this.#log.info({ replicas: replicas.map((r) => r.alias), maxReplicationLag: control.maxReplicationLagMs / 1000 }, "watching the destination replicas' lag");
  }

  /** The gate's throttle, logged when it starts and ends. */
  #throttled(reason: string | null): void {
    const gate = this.#status.control!.gate;
    if (reason !== null && !gate.throttled) this.#log.warn({ reason }, `writes throttled: ${reason}`);
    if (reason === null && gate.throttled) this.#log.info('writes resumed: every destination replica is within the bound');
    gate.throttle(reason);
  }

  /** --resume: the interrupted job's record, and its source tablets, still stopped at its snapshot. */
  async #retakeSources(): Promise<void> {
    const { command, keyspace, shard } = this.#status.request;
    const first = this.#destinations[0];
    const old = await findUnfinishedJob(this.#dest(first), command, keyspace, shard);
    if (!old)
      throw new Error(`--resume: no interrupted ${command} of ${keyspace}/${shard} is recorded on ${first.ref.alias} (_vt.copy_job): nothing to resume`);
    if (old.sourceTablets.length !== this.#targets!.sources.length) {
      throw new Error(
        `--resume: job ${old.jobId} read ${old.sourceTablets.length} source tablets, but ${keyspace}/${shard} has ${this.#targets!.sources.length} source shards now: the shards changed, it cannot be resumed`,
      );
    }
    this.#log.info({ oldJob: old.jobId, sources: old.sourceTablets, positions: old.positions }, 'resuming an interrupted copy');
    for (const [i, alias] of old.sourceTablets.entries()) {
      this.#sources.push(await this.#tablets.retakeSource(alias, old.jobId, old.positions[i], this.#options.sourceReaderCount));
    }
    this.#status.sources = old.sourceTablets;
    this.#resumed = old;
  }

  async work(): Promise<void> {
    // While the job writes (tables, rows, marks, delayed indexes, checkpoints), what holds it up on a destination
    // shows on the status page as it happens (src/clone/lock-watch.ts).
    const watch = new LockWatch(
      this.#destinations.map((d) => ({ alias: d.ref.alias, dbName: d.ref.tablet.dbName, client: this.#destOnItsOwn(d).client })),
      { signal: this.#abort.signal, onChange: (lines) => this.#status.setWaits(lines), log: this.#log },
    );
    watch.start();
    try {
      await this.#copyAndFinish();
    } finally {
      await watch.stop();
    }
  }

  async #copyAndFinish(): Promise<void> {
    const targets = this.#targets!;
    const first = this.#sources[0];
    const schemas: SchemaDefinition[] = [];
    for (const s of this.#sources) schemas.push(await readSchema(s.client, s.ref.tablet.dbName));
    const picked = this.#strategy.pickTables(schemas[0]);
    if (picked.length === 0) throw new Error(`no table to copy from ${first.ref.alias}`);
    const tables = picked.filter((t) => t.kind === 'table');
    const views = picked.filter((t) => t.kind === 'view');
    const triggers = await this.#schemaObjects(first, schemas[0], tables);
    for (const t of picked) {
      // Each source holds its own part of the table: the estimates add up.
      const estimate = schemas.reduce((sum, s) => sum + (s.tables.find((x) => x.name === t.name)?.rowsEstimate ?? 0), 0);
      this.#status.addTable(t.name, t.kind, t.kind === 'table' ? estimate : 0);
      if (t.kind === 'table' && t.primaryKey.length === 0) this.#status.addTableNote(t.name, 'no primary key', 'copied whole, in one chunk');
    }
    this.#log.info({ tables: tables.length, views: views.length }, 'copying schema');

    for (const t of tables) this.#status.setTableState(t.name, 'creating');
    const resume = this.#resumed !== null;
    // The tables and the job's own (_vt) side by side: they are apart, and each is a few round trips per destination.
    const [alters, marks] = await Promise.all([
      settleAll(this.#destinations.map((d) => createTables(this.#dest(d), tables, this.#flags, resume))),
      this.#copyState(),
    ]);
    for (const t of tables) this.#status.setTableState(t.name, 'waiting');
    this.#log.info('tables created');
    await Promise.all(this.#destinations.map((d) => createViews(this.#dest(d), first.ref.tablet.dbName, views)));
    for (const v of views) this.#status.setTableState(v.name, 'done');
    this.#log.info('views created');

    const indexes = new DelayedIndexes(
      // A connection of their own: on the writers' pool an ALTER would hold up the next table's batches.
      this.#destinations.map((d) => this.#destOnItsOwn(d)),
      alters,
      { tables, flags: this.#flags },
      this.#abort.signal,
      {
        started: (table) => this.#log.info({ table }, 'adding delayed indexes'),
        finished: (table) => {
          this.#status.setTableState(table, 'done');
          this.#log.info({ table }, 'delayed indexes added');
        },
      },
      (err) => this.#abort.abort(err),
    );
    await copyTables({
      sources: this.#sources.map((s): SourceSide => ({ client: s.client, dbName: s.ref.tablet.dbName })),
      destinations: this.#destinations.map((d): DestinationSide => ({ dbName: d.ref.tablet.dbName, writer: d.writer })),
      tables,
      routerFor: (table, sourceIndex) => this.#strategy.routerFor(table, targets, sourceIndex),
      chunking: this.#options,
      readersPerSource: this.#options.sourceReaderCount,
      batchLimits: { maxRows: this.#options.writeQueryMaxRows, maxSize: this.#options.writeQueryMaxSize },
      abort: this.#abort,
      progress: this.#status.copyProgress(),
      log: this.#log,
      marks,
      tableCopied: (table) => {
        this.#log.info({ table: table.name }, 'table copied');
        if (indexes.has(table.name)) this.#status.setTableState(table.name, 'altering');
        indexes.tableCopied(table.name);
      },
    });
    this.#abort.signal.throwIfAborted();
    await indexes.finish();
    // Only now that every table's rows are in: a trigger would have rewritten or doubled the copied rows.
    await Promise.all(this.#destinations.map((d) => createTriggers(this.#destOnItsOwn(d), first.ref.tablet.dbName, triggers)));
    if (triggers.length) this.#log.info({ triggers: triggers.map((t) => t.name) }, `${triggers.length} triggers created`);
    // Apart from one another, so side by side: each waits on round trips, not on work.
    await settleAll([
      this.#flags.populateBlpCheckpoint ? this.#writeCheckpoints() : Promise.resolve(),
      this.#flags.skipSetSourceShards ? Promise.resolve() : this.#setSourceShards(picked),
      this.#checkSchema(schemas[0], picked, triggers),
    ]);
    const copyId = this.#resumed?.jobId ?? this.#status.id;
    await Promise.all(this.#destinations.map((d) => finishJob(this.#dest(d), copyId)));
    for (const t of tables) this.#status.setTableState(t.name, 'done');
    // Before cleanup restarts the sources' replication: they still hold exactly the rows just copied.
    if (this.#options.verify) await this.#verify(tables);
  }

  /**
   * The source's triggers on the tables to copy (created after their rows); stored routines and events are not
   * copied, and each is named in the log so that nobody is surprised they stayed behind.
   */
  async #schemaObjects(source: TakenSource, schema: SchemaDefinition, tables: TableDefinition[]): Promise<TriggerDefinition[]> {
    const objects = await readSchemaObjects(source.client, source.ref.tablet.dbName);
    for (const o of objects.leftBehind) {
      this.#log.warn(
        { object: `${o.kind} ${o.name}` },
        `${o.kind.toLowerCase()} ${o.name} is not copied (stored routines and events are not): create it on the destination if it is needed there`,
      );
    }
    const copied = new Set(tables.map((t) => t.name));
    const triggers = objects.triggers.filter((t) => copied.has(t.table));
    const leftBehind = schema.tables.filter((t) => !copied.has(t.name)).map((t) => t.name);
    for (const t of triggers) {
      for (const name of tablesNamedIn(t, leftBehind)) {
        this.#log.warn(
          { table: t.table, trigger: t.name },
          `trigger ${t.name} on ${t.table} names ${name}, which is not copied: on the destination it fails when it fires, unless ${name} is there`,
        );
      }
    }
    return triggers;
  }

  async #verify(tables: TableDefinition[]): Promise<void> {
    this.#status.setState('diffing the data');
    const { parallelDiffsCount, sourceReaderCount, destinationWriterCount } = this.#options;
    await diffAndReport({
      status: this.#status,
      strategy: this.#strategy,
      targets: this.#targets!,
      sources: this.#sources,
      destinations: this.#destinations,
      tables,
      options: this.#options,
      // The copy's pools are reused: no more chunks at once than the smaller of them has connections.
      parallelDiffs: Math.min(parallelDiffsCount, sourceReaderCount, destinationWriterCount),
      countRows: false,
      abort: this.#abort,
      log: this.#log,
    });
  }

  /** The checkpoints on every destination: the interrupted job's, or this job's own, recorded now. */
  async #copyState(): Promise<CopyState> {
    // A connection of its own per destination: on the writers' pool a mark waited until their lanes went idle,
    // which they do not while the readers keep them busy (every chunk's mark and the next table's plan held up).
    const dests = this.#destinations.map((d) => this.#destOnItsOwn(d));
    // blp_checkpoint's table too, now rather than at the end where every round trip adds to the job's time.
    const blp = this.#flags.populateBlpCheckpoint ? CREATE_BLP_CHECKPOINT : [];
    await settleAll(
      dests.map(async (d) => {
        await createCopyState(d);
        for (const sql of blp) await d.client.query('creating _vt.blp_checkpoint', sql);
      }),
    );
    if (this.#resumed)
      return CopyState.resume(dests, this.#resumed.jobId, this.#log, (sourceIndex, table) =>
        this.#strategy.sourceRowsCondition(table, this.#targets!, sourceIndex),
      );
    const { command, keyspace, shard } = this.#status.request;
    const record: CopyJobRecord = {
      jobId: this.#status.id,
      command,
      keyspace,
      shard,
      sourceTablets: this.#sources.map((s) => s.ref.alias),
      positions: this.#sources.map((s) => s.position),
    };
    await Promise.all(dests.map((d) => recordJob(d, record)));
    return CopyState.fresh(dests, this.#status.id, this.#log);
  }

  #dest(d: Destination): TabletDb {
    return { client: d.client, dbName: d.ref.tablet.dbName };
  }

  /** The destination on a connection of its own, beside its writers' pool (closed with the job's other pools). */
  #destOnItsOwn(d: Destination): TabletDb {
    return { client: d.link.client(1, false), dbName: d.ref.tablet.dbName };
  }

  async #writeCheckpoints(): Promise<void> {
    const flags = this.#flags.dontStartBinlogPlayer ? BLP_FLAG_DONT_START : '';
    const now = Math.floor(Date.now() / 1000);
    const rows = this.#sources.map((s, i) => populateBlpCheckpoint({ uid: this.#targets!.sources[i].uid, position: s.position, timeUpdated: now, flags }));
    await Promise.all(
      this.#destinations.map(async (d) => {
        // REPLACE: safe to repeat (the table was created with the job's own, see #copyState).
        for (const sql of rows) await d.client.query('writing _vt.blp_checkpoint', sql);
      }),
    );
    this.#log.info({ positions: this.#sources.map((s) => s.position) }, 'blp_checkpoint written');
  }

  async #setSourceShards(tables: TableDefinition[]): Promise<void> {
    const targets = this.#targets!;
    await this.#deps.topo.update((topo) => {
      for (const [i, d] of targets.destinations.entries()) setSourceShards(topo, d.keyspace, d.shard, this.#strategy.sourceShardsFor(targets, i, tables));
    });
    this.#log.info('sourceShards set on the destination shards');
  }

  async #checkSchema(source: SchemaDefinition, tables: TableDefinition[], triggers: TriggerDefinition[]): Promise<void> {
    const problems = (
      await Promise.all(
        this.#destinations.map(async (d) => [
          ...(await compareSchema(source, this.#dest(d), tables, this.#flags)),
          ...(await compareTriggers(this.#dest(d), source.dbName, triggers)),
        ]),
      )
    ).flat();
    if (problems.length) throw new Error(`destination schema differs from the source: ${problems.join('; ')}`);
  }

  async cleanup(): Promise<UndoReport> {
    await this.#monitor?.stop();
    return this.#tablets.release();
  }
}
