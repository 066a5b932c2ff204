// The clone job: SplitClone or VerticalSplitClone, by its CopyStrategy. A flat list of phases; fields are grouped
// by the phase that fills them. Every change outside the destinations is recorded on the undo stack as it is made.

import type { Logger } from 'pino';
import { copyTables, type DestinationSide, type SourceSide } from '../clone/copier.ts';
import { CREATE_BLP_CHECKPOINT, BLP_FLAG_DONT_START, populateBlpCheckpoint } from '../clone/checkpoint.ts';
import { compareSchema, createTables, createViews, type DelayedAlters } from '../clone/schema-copy.ts';
import type { CloneTargets, CopyStrategy } from '../clone/strategy.ts';
import type { StrategyFlags } from '../clone/strategy-flags.ts';
import { pickDestinationPrimary, pickSourceTablet } from '../clone/tablets.ts';
import { DestinationWriter } from '../clone/writer.ts';
import { openPool, queryOn, type Pool, type TabletRef } from '../mysql/connection.ts';
import { currentPosition, serverFlavor, startReplication, stopReplication } from '../mysql/replication.ts';
import { readSchema, type SchemaDefinition, type TableDefinition } from '../mysql/schema.ts';
import type { TopologyServer } from '../topology/server.ts';
import { setSourceShards, setTabletType } from '../topology/shards.ts';
import type { Credentials, TabletType } from '../topology/types.ts';
import type { JobPhases } from './job-runner.ts';
import type { JobStatus } from './job-status.ts';
import type { CloneOptions } from './options.ts';
import { UndoStack, type UndoReport } from './undo.ts';

export interface JobDeps {
  topo: TopologyServer;
  credentials: Credentials;
}

interface TakenSource {
  ref: TabletRef;
  pool: Pool;
  position: string;
}

interface Destination {
  ref: TabletRef;
  pool: Pool;
  writer: DestinationWriter;
}

export class CloneJob implements JobPhases {
  readonly #deps: JobDeps;
  readonly #status: JobStatus;
  readonly #strategy: CopyStrategy;
  readonly #options: CloneOptions;
  readonly #flags: StrategyFlags;
  readonly #abort: AbortController;
  readonly #log: Logger;
  readonly #undo = new UndoStack();
  readonly #pools: Pool[] = [];

  // initialize
  #targets: CloneTargets | null = null;
  // findTargets
  #sources: TakenSource[] = [];
  #destinations: Destination[] = [];

  constructor(deps: JobDeps, status: JobStatus, strategy: CopyStrategy, options: CloneOptions, flags: StrategyFlags, abort: AbortController, log: Logger) {
    this.#deps = deps;
    this.#status = status;
    this.#strategy = strategy;
    this.#options = options;
    this.#flags = flags;
    this.#abort = abort;
    this.#log = log;
  }

  async initialize(): Promise<void> {
    const topo = await this.#deps.topo.read();
    this.#targets = this.#strategy.resolveTargets(topo);
    const names = (list: { keyspace: string; shard: string }[]) => list.map((t) => `${t.keyspace}/${t.shard}`);
    this.#status.sources = names(this.#targets.sources);
    this.#status.destinations = names(this.#targets.destinations);
    this.#log.info({ sources: this.#status.sources, destinations: this.#status.destinations }, 'shards resolved');
  }

  async findTargets(): Promise<void> {
    const targets = this.#targets!;
    const topo = await this.#deps.topo.read();
    const type = this.#options.sourceTabletType as TabletType;
    // Check every tablet before changing any, so a bad one leaves nothing to undo.
    const sourceRefs: TabletRef[] = [];
    for (const s of targets.sources) sourceRefs.push(await pickSourceTablet(topo, s.keyspace, s.shard, type, this.#deps.credentials, this.#log));
    const destRefs: TabletRef[] = [];
    for (const d of targets.destinations) destRefs.push(await pickDestinationPrimary(topo, d.keyspace, d.shard, this.#deps.credentials));
    this.#status.sources = sourceRefs.map((r) => r.alias);
    this.#status.destinations = destRefs.map((r) => r.alias);

    for (const ref of sourceRefs) this.#sources.push(await this.#takeSource(ref, type));
    for (const ref of destRefs) {
      const pool = this.#open(ref, this.#options.destinationWriterCount, false);
      const writer = new DestinationWriter(ref, pool, { writers: this.#options.destinationWriterCount, maxTps: this.#options.maxTps, signal: this.#abort.signal });
      this.#destinations.push({ ref, pool, writer });
    }
  }

  /** Marks the tablet `worker`, stops its replication and captures its position, recording how to undo each. */
  async #takeSource(ref: TabletRef, previousType: TabletType): Promise<TakenSource> {
    const jobId = this.#status.id;
    const log = this.#log.child({ tablet: ref.alias });
    await this.#deps.topo.update((topo) => setTabletType(topo, ref.alias, 'worker', { jobId, previousType, since: new Date().toISOString() }));
    this.#undo.push(`restore ${ref.alias} to ${previousType}`, async () => {
      await this.#deps.topo.update((topo) => setTabletType(topo, ref.alias, previousType));
    });
    log.info('source tablet marked worker');
    const pool = this.#open(ref, this.#options.sourceReaderCount, true);
    const flavor = await serverFlavor(pool, ref);
    await stopReplication(pool, ref);
    this.#undo.push(`restart replication on ${ref.alias}`, async () => {
      const control = openPool(ref, this.#deps.credentials, { connectionLimit: 1 });
      try {
        await startReplication(control, ref);
      } finally {
        await control.end().catch(() => {});
      }
    });
    const position = await currentPosition(pool, ref, flavor);
    log.info({ position }, 'replication stopped');
    return { ref, pool, position };
  }

  #open(ref: TabletRef, connections: number, withDatabase: boolean): Pool {
    const pool = openPool(ref, this.#deps.credentials, { connectionLimit: connections, withDatabase });
    this.#pools.push(pool);
    return pool;
  }

  async copy(): Promise<void> {
    const targets = this.#targets!;
    const first = this.#sources[0];
    const schemas: SchemaDefinition[] = [];
    for (const s of this.#sources) schemas.push(await readSchema(s.pool, s.ref, s.ref.tablet.dbName));
    const picked = this.#strategy.pickTables(schemas[0]);
    if (picked.length === 0) throw new Error(`no table to copy from ${first.ref.alias}`);
    const tables = picked.filter((t) => t.kind === 'table');
    const views = picked.filter((t) => t.kind === 'view');
    for (const t of picked) {
      // Each source holds its own part of the table: the estimates add up.
      const estimate = schemas.reduce((sum, s) => sum + (s.tables.find((x) => x.name === t.name)?.rowsEstimate ?? 0), 0);
      this.#status.addTable(t.name, t.kind, t.kind === 'table' ? estimate : 0);
    }
    this.#log.info({ tables: tables.length, views: views.length }, 'copying schema');

    for (const t of tables) this.#status.setTableState(t.name, 'creating');
    const alters = await Promise.all(this.#destinations.map((d) => createTables(this.#dest(d), tables, this.#flags)));
    for (const t of tables) this.#status.setTableState(t.name, 'waiting');
    this.#log.info('tables created');
    await Promise.all(this.#destinations.map((d) => createViews(this.#dest(d), first.ref.tablet.dbName, views)));
    for (const v of views) this.#status.setTableState(v.name, 'done');
    this.#log.info('views created');

    await copyTables({
      sources: this.#sources.map((s): SourceSide => ({ ref: s.ref, pool: s.pool, dbName: s.ref.tablet.dbName })),
      destinations: this.#destinations.map((d): DestinationSide => ({ ref: d.ref, dbName: d.ref.tablet.dbName, writer: d.writer })),
      tables,
      routerFor: (table, sourceIndex) => this.#strategy.routerFor(table, targets, sourceIndex),
      chunking: this.#options,
      readersPerSource: this.#options.sourceReaderCount,
      batchLimits: { maxRows: this.#options.writeQueryMaxRows, maxSize: this.#options.writeQueryMaxSize },
      abort: this.#abort,
      progress: this.#status.copyProgress(),
      log: this.#log,
    });
    this.#abort.signal.throwIfAborted();

    await this.#runAlters(alters);
    if (this.#flags.populateBlpCheckpoint) await this.#writeCheckpoints();
    if (!this.#flags.skipSetSourceShards) await this.#setSourceShards(tables);
    await this.#checkSchema(schemas[0], picked);
    for (const t of tables) this.#status.setTableState(t.name, 'done');
  }

  #dest(d: Destination) {
    return { ref: d.ref, pool: d.pool, dbName: d.ref.tablet.dbName };
  }

  async #runAlters(alters: DelayedAlters[]): Promise<void> {
    if (!alters.some((a) => a.size)) return;
    for (const table of alters[0].keys()) this.#status.setTableState(table, 'altering');
    this.#log.info('adding delayed indexes');
    await Promise.all(
      this.#destinations.map(async (d, i) => {
        for (const [table, sql] of alters[i]) {
          this.#abort.signal.throwIfAborted();
          await queryOn(d.pool, d.ref, `adding delayed indexes to ${table}`, sql);
        }
      }),
    );
  }

  async #writeCheckpoints(): Promise<void> {
    const flags = this.#flags.dontStartBinlogPlayer ? BLP_FLAG_DONT_START : '';
    const now = Math.floor(Date.now() / 1000);
    const rows = this.#sources.map((s, uid) => populateBlpCheckpoint({ uid, position: s.position, timeUpdated: now, flags }));
    await Promise.all(
      this.#destinations.map(async (d) => {
        for (const sql of [...CREATE_BLP_CHECKPOINT, ...rows]) await queryOn(d.pool, d.ref, 'writing _vt.blp_checkpoint', sql);
      }),
    );
    this.#log.info({ positions: this.#sources.map((s) => s.position) }, 'blp_checkpoint written');
  }

  async #setSourceShards(tables: TableDefinition[]): Promise<void> {
    const targets = this.#targets!;
    await this.#deps.topo.update((topo) => {
      targets.destinations.forEach((d, i) => setSourceShards(topo, d.keyspace, d.shard, this.#strategy.sourceShardsFor(targets, i, tables)));
    });
    this.#log.info('sourceShards set on the destination shards');
  }

  async #checkSchema(source: SchemaDefinition, tables: TableDefinition[]): Promise<void> {
    const problems = (await Promise.all(this.#destinations.map((d) => compareSchema(source, this.#dest(d), tables, this.#flags)))).flat();
    if (problems.length) throw new Error(`destination schema differs from the source: ${problems.join('; ')}`);
  }

  async cleanup(): Promise<UndoReport> {
    const report = await this.#undo.runAll(this.#log);
    await Promise.all(this.#pools.map((p) => p.end().catch(() => {})));
    return report;
  }
}
