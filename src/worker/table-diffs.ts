// The diff step of a job, shared by the diff jobs and a clone's --verify: diffs the tables between the taken
// sources and the destinations, shows each table's findings in the status, and fails the job when any differ.

import type { Logger } from 'pino';
import type { CloneTargets, CopyStrategy } from '../clone/strategy.ts';
import { rowKeyOf } from '../diff/key-order.ts';
import { diffTables } from '../diff/table-differ.ts';
import { describeTally, differences } from '../diff/tally.ts';
import { intersects } from '../keyrange/keyrange.ts';
import type { TableDefinition } from '../mysql/schema.ts';
import type { JobStatus } from './job-status.ts';
import type { JobOptions } from './options.ts';
import type { DestinationTablet, TakenSource } from './tablet-session.ts';

/** The destinations do not hold exactly the source rows: the job's error, naming each table and its counts. */
export class DifferencesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DifferencesError';
  }
}

export interface DiffStep {
  status: JobStatus;
  strategy: CopyStrategy;
  targets: CloneTargets;
  /** One per `targets.sources`, replication stopped at the position the destinations hold. */
  sources: TakenSource[];
  /** One per `targets.destinations`. */
  destinations: DestinationTablet[];
  /** Tables only (views hold no rows of their own). */
  tables: TableDefinition[];
  options: JobOptions;
  /** Chunks at once: no more than any pool's connections (see DiffRequest.parallelDiffs). */
  parallelDiffs: number;
  /** A diff job's progress is its reading; a clone's verify leaves the copy's figures alone. */
  countRows: boolean;
  abort: AbortController;
  log: Logger;
}

export async function diffAndReport(step: DiffStep): Promise<void> {
  const { status, strategy, targets, log } = step;
  for (const t of step.tables) {
    const byPrimaryKey = rowKeyOf(t).byPrimaryKey;
    status.beginDiff(t.name, byPrimaryKey ? 'primary key' : 'full row');
    if (!byPrimaryKey) status.addTableNote(t.name, t.primaryKey.length ? 'primary key not readable' : 'no primary key', 'compared as sorted full rows');
  }
  log.info({ tables: step.tables.length, parallel: step.parallelDiffs }, 'diffing');
  const tallies = await diffTables({
    sources: step.sources.map((s) => ({ client: s.client, dbName: s.ref.tablet.dbName })),
    destinations: step.destinations.map((d) => ({ client: d.client, dbName: d.ref.tablet.dbName })),
    tables: step.tables,
    routerFor: (table, sourceIndex) => strategy.routerFor(table, targets, sourceIndex),
    sourceFilter: (table, sourceIndex) => strategy.destinationRows(table, targets, sourceIndex).condition,
    sourcesFor: (destIndex) => targets.sources.flatMap((s, i) => (intersects(s.keyRange, targets.destinations[destIndex].keyRange) ? [i] : [])),
    chunking: step.options,
    parallelDiffs: step.parallelDiffs,
    abort: step.abort,
    progress: status.diffProgress(step.countRows),
    log,
  });
  step.abort.signal.throwIfAborted();

  const differing: string[] = [];
  for (const [table, tally] of tallies) {
    const summary = describeTally(tally);
    if (differences(tally)) {
      log.warn({ table }, summary);
      differing.push(`${table}: ${summary}`);
    } else {
      log.info({ table }, summary);
    }
  }
  if (differing.length) throw new DifferencesError(`differences found in ${differing.length} of ${tallies.size} tables: ${differing.join('; ')}`);
}
