// Running a stream up to a position and no further (vtworker's RunBlpUntil), for a diff with streams running: the
// destination must stand exactly where the source tablet it is compared with was stopped. The stream's play loop
// is left as it is: the binlog it reads is gated, so that nothing after the transaction that brings it to the
// target ever reaches it. Once that transaction's commit is through, the source goes quiet; the stream commits what
// it holds (it is caught up, as far as it can tell) and the manager, which waits for the position, stops it.

import type { BinlogEvent, BinlogSource } from '../mysql/wire/binlog/events.ts';
import { compareGtidLists, parseGtidList, parsePosition, type Relation } from '../mysql/gtid.ts';
import { StreamStopError } from './applier.ts';

/** A stream start or stop asked while a job holds the stream (a diff): it is refused until the job ends (HTTP 409). */
export class StreamHeldError extends Error {
  constructor(stream: string, holder: string) {
    super(`stream ${stream} is held by ${holder}; it is started again when that job ends (cancel the job to end it sooner)`);
    this.name = 'StreamHeldError';
  }
}

/** A stream that cannot be brought to the position asked (past it already, stopped in error, too slow). */
export class RunUntilError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunUntilError';
  }
}

/** Where `position` stands against `target`; both `MariaDB/<gtid list>` (the only positions a stream reads so far). */
export function relationTo(position: string, target: string): Relation {
  const list = (p: string) => {
    const parsed = parsePosition(p);
    if (parsed.flavor !== 'MariaDB')
      throw new RunUntilError(`cannot run a stream until ${target}: only MariaDB GTID positions are supported so far (got ${p})`);
    return parseGtidList(parsed.value);
  };
  return compareGtidLists(list(position), list(target));
}

/**
 * The source's events from `from` on, up to and including the event (commit, DDL or idle mark) that brings the
 * stream to `target`; after it, nothing until closed. An event that would carry the stream past `target` without
 * standing on it first stops the stream (StreamStopError: final, never retried), so the destination never goes
 * beyond the target.
 */
export function untilGate(source: BinlogSource, from: string, target: string): BinlogSource {
  let closed = false;
  let wake: (() => void) | null = null;
  const past = (at: string) => new StreamStopError(`the stream was to stop at ${target} but its source went from before it to ${at} without standing on it`);
  async function* events(): AsyncGenerator<BinlogEvent> {
    const start = relationTo(from, target);
    if (start.kind === 'past') throw new StreamStopError(`the stream stands at ${from}, past ${target}, where it was to stop`);
    if (start.kind === 'behind') {
      for await (const event of source) {
        if (event.type === 'commit' || event.type === 'ddl' || event.type === 'idle') {
          const r = relationTo(event.position, target);
          if (r.kind === 'past') throw past(event.position);
          yield event;
          if (r.kind === 'equal') break;
        } else {
          yield event;
        }
      }
    }
    // At the target: the stream waits here, caught up, until it is stopped.
    await new Promise<void>((resolve) => {
      wake = resolve;
      if (closed) resolve();
    });
  }
  return {
    [Symbol.asyncIterator]: () => events(),
    close: async () => {
      closed = true;
      wake?.();
      await source.close();
    },
  };
}
