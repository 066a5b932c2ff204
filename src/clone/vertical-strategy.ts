// VerticalSplitClone and VerticalSplitDiff: `--tables` of the keyspace the destination keyspace is servedFrom (from
// its one serving shard), every row to the one destination shard. The diff compares the tables on record in the
// destination's sourceShards (what its clone moved), narrowed by --tables / --exclude-tables.

import { keyRangeToString, parseShardName } from '../keyrange/keyrange.ts';
import type { SchemaDefinition, TableDefinition } from '../mysql/schema.ts';
import { TopologyError } from '../topology/errors.ts';
import { isServing, keyspaceOf, shardOf } from '../topology/shards.ts';
import type { SourceShard, Topology } from '../topology/types.ts';
import type { RowRouter } from '../pipeline/contracts.ts';
import type { CloneTargets, CopyStrategy, DestinationRows } from './strategy.ts';
import { pickTablesAndViews, type IncludeFilter } from './table-pick.ts';

const TO_THE_DESTINATION: RowRouter = Object.assign(() => 0, { raw: () => 0 });

export class VerticalStrategy implements CopyStrategy {
  readonly #keyspace: string;
  readonly #shard: string;
  /** Names and /regexps/, as given: what sourceShards records for filtered replication to match. */
  readonly #tables: string[];
  readonly #excludeTables: string[];
  readonly #job: 'clone' | 'diff';
  /** A diff: the tables its clone moved, as recorded in the destination shard's sourceShards. */
  #moved: string[] = [];

  constructor(keyspace: string, shard: string, tables: string[], job: 'clone' | 'diff' = 'clone', excludeTables: string[] = []) {
    this.#keyspace = keyspace;
    this.#shard = shard;
    this.#tables = tables;
    this.#job = job;
    this.#excludeTables = excludeTables;
  }

  /** The destination is the named shard; the source is the single serving shard of the keyspace it is servedFrom. */
  resolveTargets(topo: Topology): CloneTargets {
    const ks = keyspaceOf(topo, this.#keyspace);
    const destination = shardOf(topo, this.#keyspace, this.#shard);
    if (this.#job === 'diff') {
      this.#moved = [...new Set((destination.sourceShards ?? []).flatMap((s) => s.tables))];
      if (this.#moved.length === 0 && this.#tables.length === 0) {
        throw new TopologyError(
          `shard ${this.#keyspace}/${this.#shard} has no tables on record in its sourceShards (cloned with -skip_set_source_shards, or not yet): name them with --tables`,
        );
      }
    }
    const from = ks.servedFrom?.keyspace;
    if (from === undefined) throw new TopologyError(`keyspace ${this.#keyspace} is not servedFrom another keyspace, so it is no vertical split destination`);
    // Serving ones: the keyspace may be in the middle of a horizontal split too, with destinations that serve nothing.
    const source = keyspaceOf(topo, from);
    const shards = Object.keys(source.shards).filter((name) => isServing(source.shards[name]));
    if (shards.length !== 1) {
      throw new TopologyError(
        `keyspace ${from} (which ${this.#keyspace} is servedFrom) has ${shards.length} serving shards (${shards.join(', ') || 'none'}); a vertical split reads from a keyspace with exactly one`,
      );
    }
    return {
      sources: [{ keyspace: from, shard: shards[0], keyRange: parseShardName(shards[0]), uid: 0 }],
      destinations: [{ keyspace: this.#keyspace, shard: this.#shard, keyRange: parseShardName(this.#shard), uid: 0 }],
    };
  }

  /**
   * The tables and views `--tables` names (a diff: those on record, narrowed by --tables), minus --exclude-tables,
   * and the views over them; a name or pattern that matches nothing is an error naming it.
   */
  pickTables(schema: SchemaDefinition): TableDefinition[] {
    const includes: IncludeFilter[] = [];
    if (this.#moved.length) includes.push({ patterns: this.#moved, from: 'of the source (it is on record as moved, in sourceShards)' });
    if (this.#tables.length) includes.push({ patterns: this.#tables, from: this.#moved.length ? 'the clone moved' : 'of the source' });
    return pickTablesAndViews(schema, includes, this.#excludeTables);
  }

  /** One source: every row of a destination table came from it. */
  sourceRowsCondition(): string {
    return '';
  }

  /** Every row of a moved table is the destination's. */
  destinationRows(): DestinationRows {
    return { condition: '', share: 1 };
  }

  routerFor(): RowRouter {
    return TO_THE_DESTINATION;
  }

  sourceShardsFor(targets: CloneTargets): SourceShard[] {
    return targets.sources.map((s) => ({
      uid: s.uid,
      keyspace: s.keyspace,
      shard: s.shard,
      keyRange: keyRangeToString(s.keyRange),
      tables: [...this.#tables],
    }));
  }
}
