// Choosing the tablets a job works on: a healthy source tablet per source shard, the primary of each destination.

import type { Logger } from 'pino';
import { describeTablet, type TabletRef } from '../mysql/connection.ts';
import { withTablet } from '../mysql/tablet-client.ts';
import { isReadOnly, replicationStatus } from '../mysql/replication.ts';
import { describeOwner, ownerIsDead } from '../topology/owner.ts';
import type { Credentials, DbTls, TabletType, Topology } from '../topology/types.ts';

export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

function tabletsOfShard(topo: Topology, keyspace: string, shard: string, type: TabletType): TabletRef[] {
  return Object.entries(topo.tablets)
    .filter(([, t]) => t.keyspace === keyspace && t.shard === shard && t.type === type)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([alias, tablet]) => ({ alias, tablet }));
}

/**
 * Why a tablet is unfit to be read from, or null when it is fit. A tablet read at a consistent snapshot
 * (`replicating` false) need only be reachable: it keeps serving, and a primary replicates from nobody.
 */
async function sourceProblem(ref: TabletRef, credentials: Credentials, tls: DbTls | undefined, replicating: boolean): Promise<string | null> {
  // Checked once, no retry: nothing is changed yet, and a tablet that is down is reported at once.
  try {
    return await withTablet(ref, credentials, tls, async (client) => {
      if (!replicating) {
        await client.query('checking the tablet answers', 'SELECT 1');
        return null;
      }
      let status = await replicationStatus(client);
      // Replication restarted a moment ago (by the last job's cleanup, say) is still connecting: give it a few
      // seconds before calling the tablet unhealthy.
      for (let i = 0; i < 20 && status.sqlRunning && !status.ioRunning && !status.lastError; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        status = await replicationStatus(client);
      }
      if (!status.configured) return 'it is not a replica';
      if (!status.ioRunning || !status.sqlRunning) return `replication is not running${status.lastError ? ` (${status.lastError})` : ''}`;
      return null;
    });
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * The first healthy tablet of `type` in the shard: reachable, replicating, not taken by another worker.
 * Throws naming the shard and what was wrong with each candidate.
 */
export async function pickSourceTablet(
  topo: Topology,
  keyspace: string,
  shard: string,
  type: TabletType,
  credentials: Credentials,
  log: Logger,
  tls?: DbTls,
  replicating = true,
): Promise<TabletRef> {
  const candidates = tabletsOfShard(topo, keyspace, shard, type);
  const taken = tabletsOfShard(topo, keyspace, shard, 'worker');
  const problems: string[] = taken.map((t) => {
    const dead = ownerIsDead(t.tablet) ? ': finish that copy with --resume, or give the tablet back with `shardworker recover`' : '';
    return `${t.alias} is already taken by worker ${describeOwner(t.tablet)}${dead}`;
  });
  for (const ref of candidates) {
    const problem = await sourceProblem(ref, credentials, tls, replicating);
    if (!problem) return ref;
    log.warn({ tablet: ref.alias, problem }, 'source tablet unfit');
    problems.push(`${ref.alias}: ${problem}`);
  }
  const why = problems.length ? `: ${problems.join('; ')}` : ` (the shard has no ${type} tablet)`;
  throw new TargetError(`no healthy ${type} tablet in ${keyspace}/${shard}${why}`);
}

/** The shard's primary, checked reachable and writable. */
export async function pickDestinationPrimary(topo: Topology, keyspace: string, shard: string, credentials: Credentials, tls?: DbTls): Promise<TabletRef> {
  const primaries = tabletsOfShard(topo, keyspace, shard, 'primary');
  if (primaries.length === 0) throw new TargetError(`destination shard ${keyspace}/${shard} has no primary tablet`);
  const ref = primaries[0];
  try {
    // Checked once, no retry: nothing is changed yet, and a typo in a port must not wait out --retry-duration.
    if (await withTablet(ref, credentials, tls, isReadOnly, false))
      throw new TargetError(`destination primary ${describeTablet(ref)} of ${keyspace}/${shard} is read-only`);
  } catch (err) {
    if (err instanceof TargetError) throw err;
    throw new TargetError(`destination primary of ${keyspace}/${shard} is unusable: ${(err as Error).message}`);
  }
  return ref;
}
