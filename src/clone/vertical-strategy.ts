// VerticalSplitClone and VerticalSplitDiff: `--tables` of the keyspace the destination keyspace is servedFrom (from
// its one serving shard), every row to the one destination shard.

import { keyRangeToString, parseShardName } from '../keyrange/keyrange.ts';
import type { SchemaDefinition, TableDefinition } from '../mysql/schema.ts';
import { TopologyError } from '../topology/errors.ts';
import { isServing, keyspaceOf, shardOf } from '../topology/shards.ts';
import type { SourceShard, Topology } from '../topology/types.ts';
import type { RowRouter } from './copier.ts';
import type { CloneTargets, CopyStrategy } from './strategy.ts';
import { filterTables } from './table-filter.ts';

const TO_THE_DESTINATION: RowRouter = Object.assign(() => 0, { raw: () => 0 });

export class VerticalStrategy implements CopyStrategy {
  readonly #keyspace: string;
  readonly #shard: string;
  /** Names and /regexps/, as given: what sourceShards records for filtered replication to match. */
  readonly #tables: string[];

  constructor(keyspace: string, shard: string, tables: string[]) {
    this.#keyspace = keyspace;
    this.#shard = shard;
    this.#tables = tables;
  }

  /** The destination is the named shard; the source is the single serving shard of the keyspace it is servedFrom. */
  resolveTargets(topo: Topology): CloneTargets {
    const ks = keyspaceOf(topo, this.#keyspace);
    shardOf(topo, this.#keyspace, this.#shard);
    const from = ks.servedFrom?.keyspace;
    if (from === undefined) throw new TopologyError(`keyspace ${this.#keyspace} is not servedFrom another keyspace, so it is no vertical split destination`);
    // Serving ones: the keyspace may be in the middle of a horizontal split too, with destinations that serve nothing.
    const source = keyspaceOf(topo, from);
    const shards = Object.keys(source.shards).filter((name) => isServing(source.shards[name]));
    if (shards.length !== 1) {
      throw new TopologyError(`keyspace ${from} (which ${this.#keyspace} is servedFrom) has ${shards.length} serving shards (${shards.join(', ') || 'none'}); a vertical split reads from a keyspace with exactly one`);
    }
    return {
      sources: [{ keyspace: from, shard: shards[0], keyRange: parseShardName(shards[0]), uid: 0 }],
      destinations: [{ keyspace: this.#keyspace, shard: this.#shard, keyRange: parseShardName(this.#shard), uid: 0 }],
    };
  }

  /** The tables and views `--tables` names; a name or pattern that matches nothing is an error naming it. */
  pickTables(schema: SchemaDefinition): TableDefinition[] {
    const names = filterTables(schema.tables.map((t) => t.name), this.#tables, []);
    return schema.tables.filter((t) => names.includes(t.name));
  }

  /** One source: every row of a destination table came from it. */
  sourceRowsCondition(): string {
    return '';
  }

  routerFor(): RowRouter {
    return TO_THE_DESTINATION;
  }

  sourceShardsFor(targets: CloneTargets): SourceShard[] {
    return targets.sources.map((s) => ({ uid: s.uid, keyspace: s.keyspace, shard: s.shard, keyRange: keyRangeToString(s.keyRange), tables: [...this.#tables] }));
  }
}
