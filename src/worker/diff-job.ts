// The diff job: SplitDiff or VerticalSplitDiff, by its CopyStrategy. The clone's phases and tablet handling, but
// each source tablet is stopped at the position the destination stands at (its _vt.blp_checkpoint row), so that
// both sides hold the same moment; then every table is diffed. With the destination's streams running (under
// `serve`), they are held first and brought to where the source tablet stopped (diff-streams.ts).

import type { Logger } from 'pino';
import { CheckpointError, readCheckpointPositions } from '../clone/checkpoint.ts';
import { compareSchema } from '../clone/schema-copy.ts';
import { compareTriggers } from '../clone/triggers.ts';
import { readSchemaObjects } from '../mysql/schema-objects.ts';
import type { CloneTargets, CopyStrategy } from '../clone/strategy.ts';
import { parseStrategy } from '../clone/strategy-flags.ts';
import { describeTablet, type TabletRef } from '../mysql/connection.ts';
import { readSchema, type SchemaDefinition, type TableDefinition } from '../mysql/schema.ts';
import type { TabletType } from '../topology/types.ts';
import type { JobPhases } from './job-runner.ts';
import type { JobStatus } from './job-status.ts';
import type { JobOptions } from './options.ts';
import { diffAndReport } from './table-diffs.ts';
import { TabletSession, type DestinationTablet, type JobDeps, type TakenSource } from './tablet-session.ts';
import type { UndoReport } from './undo.ts';
import { DiffStreams } from './diff-streams.ts';
import { relationTo } from '../stream/until.ts';

export class DiffJob implements JobPhases {
  readonly workState = 'diffing the data';
  readonly #status: JobStatus;
  readonly #strategy: CopyStrategy;
  readonly #options: JobOptions;
  readonly #abort: AbortController;
  readonly #log: Logger;
  readonly #tablets: TabletSession;
  readonly #deps: JobDeps;
  #streams: DiffStreams | null = null;
  /** Chunks diffed at once; every pool gets this many connections. */
  readonly #parallel: number;

  // initialize
  #targets: CloneTargets | null = null;
  // findTargets
  #sources: TakenSource[] = [];
  #destinations: DestinationTablet[] = [];

  constructor(deps: JobDeps, status: JobStatus, strategy: CopyStrategy, options: JobOptions, abort: AbortController, log: Logger) {
    this.#status = status;
    this.#strategy = strategy;
    this.#options = options;
    this.#abort = abort;
    this.#log = log;
    this.#tablets = new TabletSession(deps, status, log, abort);
    this.#deps = deps;
    this.#parallel = Math.min(options.parallelDiffsCount, options.sourceReaderCount);
  }

  async initialize(): Promise<void> {
    this.#targets = await this.#tablets.resolveTargets(this.#strategy);
  }

  async findTargets(): Promise<void> {
    const targets = this.#targets!;
    const type = this.#options.sourceTabletType as TabletType;
    const picked = await this.#tablets.pick(targets, type);
    for (const [i, ref] of picked.destinations.entries()) this.#destinations.push(this.#tablets.openDestination(ref, targets.destinations[i], this.#parallel));
    // The streams stop first: from here on the checkpoint rows stand still, and name the moment to compare at.
    const { command } = this.#status.request;
    const streams = new DiffStreams(this.#deps.streams, targets.destinations, `${command} job ${this.#status.id}`, this.#log);
    this.#streams = streams;
    await streams.hold();
    const positions = await this.#clonedFrom(picked.sources);
    let ranOn = false;
    for (const [i, ref] of picked.sources.entries()) {
      const uid = targets.sources[i].uid;
      // A running stream's source tablet has usually replicated past the stream: it stops where it is, and the
      // stream is run on to there. Otherwise the tablet must stop exactly at the checkpoint.
      const orLater = streams.runs(uid);
      const taken = await this.#tablets.takeSource(ref, {
        previousType: type,
        connections: this.#parallel,
        stopAt: positions[i],
        orLater,
        signal: this.#abort.signal,
      });
      this.#sources.push(taken);
      if (orLater && relationTo(taken.position, positions[i]).kind !== 'equal') {
        await streams.catchUp(uid, taken.position, { signal: this.#abort.signal, timeoutMs: this.#options.waitTimeout });
        ranOn = true;
      }
    }
    if (ranOn) {
      // What the diff relies on, checked on the destinations themselves: each row stands where its source stopped.
      const now = await this.#clonedFrom(picked.sources);
      for (const [i, s] of this.#sources.entries()) {
        if (relationTo(now[i], s.position).kind !== 'equal')
          throw new Error(`the destination stands at ${now[i]} but source tablet ${s.ref.alias} stopped at ${s.position}: the diff would compare two moments`);
      }
    }
  }

  /** Per source, the position the destinations were cloned from; they must agree when there are several. */
  async #clonedFrom(sources: TabletRef[]): Promise<string[]> {
    const targets = this.#targets!;
    const byDestination = await Promise.all(this.#destinations.map((d) => readCheckpointPositions(d.client)));
    return targets.sources.map((s, i) => {
      const found = byDestination.map((positions) => positions.get(s.uid));
      const missing = found.findIndex((p) => p === undefined);
      if (missing >= 0) {
        throw new CheckpointError(
          `destination ${describeTablet(this.#destinations[missing].ref)} has no _vt.blp_checkpoint row for source ${s.keyspace}/${s.shard} (uid ${s.uid}), so the position it was cloned from is unknown`,
        );
      }
      if (new Set(found).size > 1)
        throw new CheckpointError(`the destinations were cloned from different positions of ${s.keyspace}/${s.shard}: ${found.join(', ')}`);
      this.#log.info({ tablet: sources[i].alias, position: found[0] }, 'destination stands at (its checkpoint row)');
      return found[0]!;
    });
  }

  async work(): Promise<void> {
    const first = this.#sources[0];
    const schemas: SchemaDefinition[] = [];
    for (const s of this.#sources) schemas.push(await readSchema(s.client, s.ref.tablet.dbName));
    const picked = this.#strategy.pickTables(schemas[0]);
    const tables = picked.filter((t) => t.kind === 'table');
    if (tables.length === 0) throw new Error(`no table to diff in ${first.ref.alias}`);
    await this.#checkSchema(schemas[0], picked);
    await this.#checkTriggers(first, tables);
    for (const t of picked) {
      // Only the rows the destination may hold are read from each source (CopyStrategy.destinationRows).
      const estimate = schemas.reduce(
        (sum, s, i) => sum + (s.tables.find((x) => x.name === t.name)?.rowsEstimate ?? 0) * this.#strategy.destinationRows(t, this.#targets!, i).share,
        0,
      );
      this.#status.addTable(t.name, t.kind, t.kind === 'table' ? Math.round(estimate) : 0);
      if (t.kind === 'view') {
        this.#status.addTableNote(t.name, 'view', 'no rows of its own: its definition is compared');
        this.#status.setTableState(t.name, 'done');
      }
    }
    await diffAndReport({
      status: this.#status,
      strategy: this.#strategy,
      targets: this.#targets!,
      sources: this.#sources,
      destinations: this.#destinations,
      tables,
      options: this.#options,
      parallelDiffs: this.#parallel,
      countRows: true,
      abort: this.#abort,
      log: this.#log,
    });
  }

  /**
   * Each table and view must exist on the destination with the source's definition. AUTO_INCREMENT is left out of
   * the comparison: the clone may have been told to skip it, and this job is not told how it ran.
   */
  async #checkSchema(source: SchemaDefinition, picked: TableDefinition[]): Promise<void> {
    const flags = { ...parseStrategy(''), skipAutoIncrement: new Set(picked.map((t) => t.name)) };
    const problems = (
      await Promise.all(this.#destinations.map((d) => compareSchema(source, { client: d.client, dbName: d.ref.tablet.dbName }, picked, flags)))
    ).flat();
    if (problems.length) throw new Error(`destination schema differs from the source: ${problems.join('; ')}`);
  }

  /** The source's triggers on the compared tables must be on every destination, as they are on the source. */
  async #checkTriggers(source: TakenSource, tables: TableDefinition[]): Promise<void> {
    const names = new Set(tables.map((t) => t.name));
    const triggers = (await readSchemaObjects(source.client, source.ref.tablet.dbName)).triggers.filter((t) => names.has(t.table));
    const problems = (
      await Promise.all(this.#destinations.map((d) => compareTriggers({ client: d.client, dbName: d.ref.tablet.dbName }, source.ref.tablet.dbName, triggers)))
    ).flat();
    if (problems.length) throw new Error(`destination triggers differ from the source: ${problems.join('; ')}`);
  }

  async cleanup(): Promise<UndoReport> {
    const report = await this.#tablets.release();
    if (!this.#streams) return report;
    const streams = await this.#streams.release();
    return { undone: [...report.undone, ...streams.undone], failed: [...report.failed, ...streams.failed] };
  }
}
