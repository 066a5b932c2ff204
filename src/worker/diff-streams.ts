// A diff's dealings with the streams feeding its destination (DESIGN.md "Diffs and streams"), vtworker's StopBlp /
// RunBlpUntil dance. The order is the argument:
//   1. hold: the destination's streams stop where they stand and stay stopped (nobody starts them) until release;
//      their checkpoint rows are now still, and the diff reads them as the positions to compare at;
//   2. the source tablet stops at that position, or, when it has replicated past it already (it usually has: it
//      follows the primary as the streams do), wherever it stands (TakeOptions.orLater);
//   3. catchUp: each held stream runs until it stands exactly where its source tablet stopped;
//   4. the diff compares both sides at that one moment;
//   5. release (cleanup, whatever happened): the streams that ran start again from their rows.
// Without streams in this process (`shardworker run`), or for a stream that was stopped, the diff compares at the
// checkpoint as before. A stream in error or running in another daemon refuses the diff before anything changes.

import type { Logger } from 'pino';
import type { StreamControl } from '../cutover/stream-control.ts';
import type { StreamSnapshot } from '../stream/status.ts';
import type { UndoReport } from './undo.ts';

/** The diff cannot run beside the destination's streams as they are (nothing was changed). */
export class DiffStreamsRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiffStreamsRefusedError';
  }
}

export interface ShardName {
  keyspace: string;
  shard: string;
}

export class DiffStreams {
  readonly #control: StreamControl | undefined;
  readonly #destinations: readonly ShardName[];
  /** Who holds the streams, as their snapshots show it. */
  readonly #by: string;
  readonly #log: Logger;
  /** Destinations whose streams are held (released at cleanup). */
  #held: ShardName[] = [];
  /** The held streams that were running: those run to the source tablet's position. */
  #running: StreamSnapshot[] = [];

  constructor(control: StreamControl | undefined, destinations: readonly ShardName[], by: string, log: Logger) {
    this.#control = control;
    this.#destinations = destinations;
    this.#by = by;
    this.#log = log;
  }

  /** Refuses (before any change) or holds every stream of the destinations; a no-op without streams here. */
  async hold(): Promise<void> {
    const control = this.#control;
    if (!control) return;
    const all = control.snapshot();
    const of = (d: ShardName) => all.filter((s) => s.keyspace === d.keyspace && s.shard === d.shard);
    for (const d of this.#destinations) {
      for (const s of of(d)) {
        const name = `${s.source} -> ${s.keyspace}/${s.shard}`;
        if (s.state === 'elsewhere' && s.owner) {
          throw new DiffStreamsRefusedError(
            `stream ${name} runs in the daemon with pid ${s.owner.pid} on ${s.owner.host}: a diff must stop it, so run the diff on that daemon`,
          );
        }
        if (s.state === 'error') {
          throw new DiffStreamsRefusedError(
            `stream ${name} is in error (${s.lastError ?? 'no message'}): fix what it names and start it (shardworker stream start ${s.keyspace}/${s.shard}), or stop it, before diffing`,
          );
        }
      }
    }
    for (const d of this.#destinations) {
      const before = of(d);
      if (before.length === 0) continue;
      this.#held.push(d);
      const stopped = await control.hold(d.keyspace, d.shard, this.#by);
      const running = before.filter((s) => s.state === 'running');
      this.#running.push(...stopped.filter((s) => running.some((r) => r.sourceUid === s.sourceUid)));
      this.#log.info(
        {
          streams: stopped.map((s) => ({
            source: s.source,
            destination: `${s.keyspace}/${s.shard}`,
            position: s.position,
            wasRunning: running.some((r) => r.sourceUid === s.sourceUid),
          })),
        },
        'streams held for the diff',
      );
    }
  }

  /** Whether a stream from this source uid was running: its source tablet may then stop past the checkpoint. */
  runs(sourceUid: number): boolean {
    return this.#running.some((s) => s.sourceUid === sourceUid);
  }

  /** Runs each held stream from this source until it stands at `position`, where its source tablet stopped. */
  async catchUp(sourceUid: number, position: string, opts: { signal: AbortSignal; timeoutMs: number }): Promise<void> {
    for (const s of this.#running.filter((x) => x.sourceUid === sourceUid)) {
      this.#log.info(
        { stream: `${s.source} -> ${s.keyspace}/${s.shard}`, from: s.position, to: position },
        "running the stream to the source tablet's position",
      );
      await this.#control!.runUntil(s.keyspace, s.shard, sourceUid, position, opts);
    }
  }

  /** Ends every hold (cleanup): the streams that ran start again. Never throws: it reports. */
  async release(): Promise<UndoReport> {
    const report: UndoReport = { undone: [], failed: [] };
    for (const d of this.#held.splice(0)) {
      const step = `start the streams of ${d.keyspace}/${d.shard} again`;
      try {
        await this.#control!.release(d.keyspace, d.shard);
        report.undone.push(step);
        this.#log.info({ step }, 'undone');
      } catch (err) {
        report.failed.push({ step, error: err instanceof Error ? err.message : String(err) });
        this.#log.error({ step, err }, 'cleanup step failed');
      }
    }
    return report;
  }
}
