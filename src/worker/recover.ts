// `shardworker recover`: gives back source tablets a dead worker process left `worker` (restart replication, restore
// the type it recorded). Only tablets whose owner is known dead (this host, pid gone) are touched.

import { withTablet } from '../mysql/tablet-client.ts';
import { startReplication } from '../mysql/replication.ts';
import { ownerIsDead } from '../topology/owner.ts';
import type { TopologyServer } from '../topology/server.ts';
import { setTabletType } from '../topology/shards.ts';
import type { Credentials, DbTls } from '../topology/types.ts';

export interface RecoverTarget {
  keyspace?: string;
  shard?: string;
}

/** One line per tablet: what was done, or what failed. Throws only when the topology cannot be read. */
export async function recoverTablets(
  topo: TopologyServer,
  credentials: Credentials,
  target: RecoverTarget = {},
  tls?: DbTls,
): Promise<{ lines: string[]; failed: boolean }> {
  const t = await topo.read();
  const lines: string[] = [];
  let failed = false;
  for (const [alias, tablet] of Object.entries(t.tablets)) {
    if (target.keyspace !== undefined && tablet.keyspace !== target.keyspace) continue;
    if (target.shard !== undefined && tablet.shard !== target.shard) continue;
    if (tablet.type !== 'worker') continue;
    const job = tablet.workerJob;
    if (!job || !ownerIsDead(tablet)) {
      lines.push(`${alias}: left as it is: held by job ${job?.jobId ?? '(unknown)'}, whose process is not known to be gone`);
      continue;
    }
    try {
      await withTablet({ alias, tablet }, credentials, tls, startReplication);
      await topo.update((x) => setTabletType(x, alias, job.previousType));
      lines.push(`${alias}: replication restarted, type restored to ${job.previousType} (was held by job ${job.jobId}, pid ${job.pid} gone)`);
    } catch (err) {
      failed = true;
      lines.push(`${alias}: could not recover: ${(err as Error).message}`);
    }
  }
  if (lines.length === 0) lines.push('no tablet is held by a worker');
  return { lines, failed };
}
