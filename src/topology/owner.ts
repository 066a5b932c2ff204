// Whether the process that took a tablet (`worker`) is gone: recorded on this host, and no such pid any more.
// A tablet taken on another host, or by a record without a pid, cannot be judged from here.

import os from 'node:os';
import type { Tablet } from './types.ts';

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function ownerIsDead(tablet: Tablet): boolean {
  const job = tablet.workerJob;
  if (tablet.type !== 'worker' || !job || job.pid === undefined || job.hostname !== os.hostname()) return false;
  return job.pid !== process.pid && !processAlive(job.pid);
}

/** `job J (pid P on H)`, and whether that process is gone. */
export function describeOwner(tablet: Tablet): string {
  const job = tablet.workerJob;
  if (!job) return 'an unknown job';
  const where = job.pid === undefined ? '' : ` (pid ${job.pid} on ${job.hostname ?? '?'}${ownerIsDead(tablet) ? ', which is gone' : ''})`;
  return `job ${job.jobId}${where}`;
}
