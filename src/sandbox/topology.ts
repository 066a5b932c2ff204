// The topology (docs/topology.md) describing sandbox instances: shard names, tablets. It is written by
// topology/server.ts writeTopologyFile, under the file's lock, as any topology change is.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ShardingColumnType, Tablet, Topology } from '../topology/types.ts';
import { SANDBOX_HOST, SANDBOX_USER } from './connect.ts';

/**
 * Names of `n` shards splitting the whole range evenly on the first byte:
 * 2 → `-80`, `80-`; 3 → `-55`, `55-aa`, `aa-`; 4 → `-40`, `40-80`, `80-c0`, `c0-`; 1 → `-`.
 */
export function splitShardNames(n: number): string[] {
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`shard count must be 1..256, got ${n}`);
  const bounds = ['']; // '' is the open end on either side
  for (let i = 1; i < n; i++)
    bounds.push(
      Math.floor((i * 256) / n)
        .toString(16)
        .padStart(2, '0'),
    );
  bounds.push('');
  const names: string[] = [];
  for (let i = 0; i < n; i++) names.push(`${bounds[i]}-${bounds[i + 1]}`);
  return names;
}

/** Tablet uid of the n-th destination primary (0-based): 200, 300, 400, … (the source has 100 and 101). */
export const destinationUid = (index: number): number => (index + 2) * 100;
export const SOURCE_PRIMARY_UID = 100;
export const SOURCE_RDONLY_UID = 101;
export const tabletAlias = (uid: number, cell = 'zone1'): string => `${cell}-${uid}`;

export interface SandboxTopologyInput {
  keyspace: string;
  /** The database every tablet serves (tests point the same instances at their own dbs, e.g. `t_types`). */
  dbName: string;
  /** Name of the source shard (default `0`). */
  sourceShard?: string;
  sourcePrimaryPort: number;
  /** The rdonly replica of the source; omitted when there is none. */
  sourceRdonlyPort?: number;
  /** One primary per destination shard; shard names come from splitShardNames unless given. */
  destinationPorts: number[];
  destinationShards?: string[];
  shardingColumnName?: string;
  shardingColumnType?: ShardingColumnType;
  host?: string;
  user?: string;
}

/** A fresh topology: the source shard serves everything, destination shards serve nothing and have no sources. */
export function buildSandboxTopology(input: SandboxTopologyInput): Topology {
  const sourceShard = input.sourceShard ?? '0';
  const destShards = input.destinationShards ?? splitShardNames(input.destinationPorts.length);
  if (destShards.length !== input.destinationPorts.length) {
    throw new Error(`${destShards.length} destination shard names for ${input.destinationPorts.length} ports`);
  }
  const tablet = (shard: string, type: Tablet['type'], port: number): Tablet => ({
    keyspace: input.keyspace,
    shard,
    type,
    host: input.host ?? SANDBOX_HOST,
    port,
    dbName: input.dbName,
    user: input.user ?? SANDBOX_USER,
  });

  const shards: Topology['keyspaces'][string]['shards'] = {
    [sourceShard]: { servedTypes: ['primary', 'replica', 'rdonly'], sourceShards: [] },
  };
  const tablets: Topology['tablets'] = {
    [tabletAlias(SOURCE_PRIMARY_UID)]: tablet(sourceShard, 'primary', input.sourcePrimaryPort),
  };
  if (input.sourceRdonlyPort !== undefined) {
    tablets[tabletAlias(SOURCE_RDONLY_UID)] = tablet(sourceShard, 'rdonly', input.sourceRdonlyPort);
  }
  destShards.forEach((shard, i) => {
    shards[shard] = { servedTypes: [], sourceShards: [] };
    tablets[tabletAlias(destinationUid(i))] = tablet(shard, 'primary', input.destinationPorts[i]!);
  });

  return {
    keyspaces: {
      [input.keyspace]: {
        shardingColumnName: input.shardingColumnName ?? 'keyspace_id',
        shardingColumnType: input.shardingColumnType ?? 'uint64',
        shards,
      },
    },
    tablets,
  };
}

/** Writes JSON via a temp file and rename, so a reader never sees half a file. */
export async function writeJsonAtomic(file: string, value: unknown, mode = 0o644): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(value, null, 2) + '\n', { mode });
  await fsp.rename(tmp, file);
}
