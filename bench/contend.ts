// One contender's timed run, the same for every mode: on emptied, settled destinations, its CPU counted, and its
// result verified before its figures count.

import { withConnection } from '../src/sandbox/index.ts';
import type { ContenderName } from './args.ts';
import type { BenchCluster } from './cluster.ts';
import { runDump } from './contenders/dump.ts';
import { runLoad, type LoadFiles } from './contenders/load.ts';
import { runShardworker } from './contenders/shardworker.ts';
import { cpuMark, cpuSince, type CpuSeconds } from './cpu.ts';
import type { Dataset, Expected } from './dataset.ts';
import { settle } from './settle.ts';
import { resetDestinations, verifyDestinations } from './verify.ts';

export type RunDetail = { seconds: number; cpu: CpuSeconds } & Record<string, unknown>;

export async function runVerified(
  c: BenchCluster,
  d: Dataset,
  expected: Expected,
  contender: ContenderName,
  flags: string[],
  files: LoadFiles | undefined,
): Promise<RunDetail> {
  await resetDestinations(c, d.db);
  // Binary logs of earlier runs are only disk churn here: the destinations have no replicas.
  await Promise.all(c.dests.map((x) => withConnection(x.endpoint, (conn) => conn.query('RESET MASTER'))));
  await settle(c);
  const before = cpuMark(c);
  const detail = { ...(await runContender(contender, c, d, flags, files)), cpu: cpuSince(c, before) };
  await verifyDestinations(c, d, expected);
  return detail;
}

async function runContender(
  name: ContenderName,
  c: BenchCluster,
  d: Dataset,
  flags: string[],
  files: LoadFiles | undefined,
): Promise<{ seconds: number } & Record<string, unknown>> {
  switch (name) {
    case 'shardworker':
      return { ...(await runShardworker(c, d, flags)) };
    case 'dump':
      return { ...(await runDump(c, d)) };
    case 'load': {
      if (!files) throw new Error('the ingest-limit load needs its files prepared first');
      return { ...(await runLoad(c, d, files)) };
    }
  }
}
