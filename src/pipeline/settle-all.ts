// Waiting for side-by-side work to end before reporting on it: Promise.all would give up at the first failure while
// the rest still run (and may still change things), and would report whichever failed first in time.

/**
 * Waits for every task, then returns their values, or throws the first failure in the tasks' order (the rest are
 * usually its consequences, and the report does not depend on which task happened to fail first).
 */
export async function settleAll<T>(tasks: readonly Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
