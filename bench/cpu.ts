// CPU seconds each part of a contender used: the source rdonly's and each destination's mariadbd, and the
// contender's own processes (the worker, or mariadb-dump and mariadb). On two shared cores the copy is CPU-bound,
// so these figures say where a contender's time goes.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchCluster } from './cluster.ts';

export interface CpuSeconds {
  source: number;
  destinations: number;
  /** The contender's client processes (children of the bench, counted once they have exited). */
  client: number;
}

const TICKS = 100; // clock ticks per second of /proc/<pid>/stat on Linux

/** Fields of /proc/<pid>/stat after the command name: [0] is the state, [11]/[12] utime/stime, [13]/[14] cutime/cstime. */
function statFields(pid: string): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(') ') + 2).split(' ');
}

/** CPU seconds used so far by the mariadbd of an instance dir (0 when it cannot be read). */
export function serverSeconds(instanceDir: string): number {
  try {
    const f = statFields(readFileSync(path.join(instanceDir, 'data', 'mariadbd.pid'), 'utf8').trim());
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** CPU of this process's children that have exited and been waited for (each contender's processes, once done). */
function childrenSeconds(): number {
  const f = statFields('self');
  return (Number(f[13]) + Number(f[14])) / TICKS;
}

export function cpuMark(c: BenchCluster): CpuSeconds {
  return {
    source: serverSeconds(path.join(c.dir, 'src-rdonly')),
    destinations: c.dests.reduce((sum, _d, i) => sum + serverSeconds(path.join(c.dir, `dst-${i + 1}`)), 0),
    client: childrenSeconds(),
  };
}

export function cpuSince(c: BenchCluster, before: CpuSeconds): CpuSeconds {
  const now = cpuMark(c);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { source: r(now.source - before.source), destinations: r(now.destinations - before.destinations), client: r(now.client - before.client) };
}
