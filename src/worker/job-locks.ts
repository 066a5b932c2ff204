// The locks a job holds for its whole life (DESIGN.md "Many daemons"): one per shard it reads or writes, its
// sources and its destinations as the topology has them when it starts, taken together on the topology's lock
// service, so a second job on any of them, from this daemon or another, is refused naming the holder.

import os from 'node:os';
import type { CopyStrategy } from '../clone/strategy.ts';
import { CutoverRefusedError } from '../cutover/plan.ts';
import { shardLockName, type HeldLocks, type LockOwner } from '../topology/coordination.ts';
import { TopologyError } from '../topology/errors.ts';
import type { TopologyServer } from '../topology/server.ts';
import type { Topology } from '../topology/types.ts';
import type { JobRequest } from './status.ts';

/** The shards a job reads or writes besides the one it names, as the topology has them now. */
export type JobShards = (topo: Topology) => { keyspace: string; shard: string }[];

/** What a copy or diff touches: the sources and destinations its strategy resolves. */
export function strategyShards(strategy: CopyStrategy): JobShards {
  return (topo) => {
    const { sources, destinations } = strategy.resolveTargets(topo);
    return [...sources, ...destinations];
  };
}

/** The shard lock names of a job, sorted; the named shard always, the resolved sources and destinations too. */
export async function jobShardLocks(topo: TopologyServer, shards: JobShards, request: JobRequest): Promise<string[]> {
  const names = new Set([shardLockName(request.keyspace, request.shard)]);
  try {
    for (const s of shards(await topo.read())) names.add(shardLockName(s.keyspace, s.shard));
  } catch (err) {
    // A target the topology cannot resolve fails the job in its first phase, naming what is wrong; it still
    // holds the shard it names meanwhile.
    if (!(err instanceof TopologyError) && !(err instanceof CutoverRefusedError)) throw err;
  }
  return [...names].sort();
}

export async function lockJobShards(
  topo: TopologyServer,
  shards: JobShards,
  request: JobRequest,
  jobId: string,
): Promise<{ held: HeldLocks; owner: LockOwner }> {
  const names = await jobShardLocks(topo, shards, request);
  const owner = { host: os.hostname(), pid: process.pid, jobId, since: new Date().toISOString() };
  return { held: await topo.locks.acquire(names, owner), owner };
}
