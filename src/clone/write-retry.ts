// Retrying one batch write. A single INSERT or LOAD DATA is atomic in InnoDB: after a connection-level failure
// it either landed whole or not at all, so a duplicate key on a later attempt means it had landed: done, not an
// error. After a read-only refusal (a failover) the destination's primary is looked up again before retrying.

import type { Pool, TabletRef } from '../mysql/connection.ts';
import { isDuplicateKey, withRetry, type FailureKind, type Outage, type RetryEvent, type RetryPolicy } from '../mysql/retry.ts';

export interface DestinationTarget {
  ref: TabletRef;
  pool: Pool;
}

export interface WriteRetry {
  policy: RetryPolicy;
  /** The destination's current outage, shared by its writers (see Outage). */
  outage: Outage;
  /** Each retry, with what was being written and where: log it, count it. */
  onRetry(event: RetryEvent, where: { tablet: string; doing: string }): void;
  /** The destination primary as last resolved (another tablet after a failover). */
  current(): DestinationTarget;
  /** After a read-only refusal: resolve the shard's primary again from the topology. */
  reresolve(): Promise<void>;
}

/** Runs `write` on the current destination until it lands, retrying transient failures per the policy. */
export async function writeWithRetry(retry: WriteRetry | undefined, fallback: DestinationTarget, doing: string, signal: AbortSignal, write: (pool: Pool, ref: TabletRef) => Promise<unknown>): Promise<void> {
  if (!retry) {
    await write(fallback.pool, fallback.ref);
    return;
  }
  // Whether an earlier attempt may have landed (it died with the connection, outcome unknown).
  let uncertain = false;
  await withRetry(
    doing,
    async () => {
      const { pool, ref } = retry.current();
      try {
        await write(pool, ref);
      } catch (err) {
        if (uncertain && isDuplicateKey(err)) return; // the earlier attempt landed
        throw err;
      }
    },
    {
      policy: retry.policy,
      outage: retry.outage,
      signal,
      onRetry: (event) => {
        if (event.kind === 'connection') uncertain = true;
        retry.onRetry(event, { tablet: retry.current().ref.alias, doing });
      },
      beforeRetry: async (kind: FailureKind) => {
        if (kind === 'read-only') await retry.reresolve();
      },
    },
  );
}
