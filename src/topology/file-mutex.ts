// The topology file's lock: an in-process queue keeps this process's callers apart, a lock file (proper-lockfile)
// keeps processes apart. Topology updates and the file backend's shard locks both take it.

import lockfile from 'proper-lockfile';
import { TopologyError } from './errors.ts';

// Wait up to about a minute for another process's lock; a lock not refreshed for 10 s counts as abandoned.
const LOCK_OPTIONS = {
  stale: 10_000,
  retries: { retries: 60, factor: 1.3, minTimeout: 10, maxTimeout: 1_000, randomize: true },
} as const;

// One queue per file for the whole process, so two servers on the same file also take turns.
const queues = new Map<string, Promise<unknown>>();

function serialized<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.then(task, task);
  const tail = run.catch(() => undefined);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return run;
}

/**
 * Runs `task` holding the topology file's lock: the in-process queue, then the lock file. `compromised()` says
 * whether the lock file was taken from us meanwhile (check it before writing).
 */
export function withFileLock<T>(file: string, task: (compromised: () => Error | undefined) => Promise<T>): Promise<T> {
  return serialized(file, async () => {
    let compromised: Error | undefined;
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(file, { ...LOCK_OPTIONS, onCompromised: (err) => void (compromised = err) });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') throw new TopologyError(`topology file ${file} does not exist`);
      throw new TopologyError(`cannot lock topology file ${file}: ${err.message}`);
    }
    try {
      return await task(() => compromised);
    } finally {
      await release().catch(() => undefined); // a compromised lock is already gone
    }
  });
}
