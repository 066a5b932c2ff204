// A synthetic binlog for stream tests: a list of events that tests append to, served to a stream from a position
// (the event after the commit that reached it), then waiting for more as a live source does. Only the source is
// synthetic: the stream applies to real mariadbd destinations.

import type { BinlogColumn, BinlogEvent, BinlogSource, BinlogTable, BinlogValue } from '../../src/mysql/wire/binlog/events.ts';
import type { OpenBinlog } from '../../src/stream/stream.ts';

export class SyntheticBinlog {
  readonly events: BinlogEvent[] = [];
  #seq = 0;
  #wake: (() => void)[] = [];
  /** The positions streams asked to start from, in order. */
  readonly opens: string[] = [];
  /** Set to make the next open fail (a source that is down). */
  failOpens = 0;

  constructor(
    readonly domainServer = '0-100',
    startSeq = 0,
  ) {
    this.#seq = startSeq;
  }

  get position(): string {
    return `MariaDB/${this.domainServer}-${this.#seq}`;
  }

  /** One source transaction of the given row events. */
  transaction(...rows: Omit<Extract<BinlogEvent, { type: 'rows' }>, 'type' | 'timestamp'>[]): string {
    const ts = Math.floor(Date.now() / 1000);
    this.#seq++;
    this.push({ type: 'begin', gtid: `${this.domainServer}-${this.#seq}`, timestamp: ts });
    for (const r of rows) this.push({ type: 'rows', timestamp: ts, ...r });
    this.push({ type: 'commit', position: this.position, timestamp: ts });
    return this.position;
  }

  ddl(database: string, statement: string): string {
    this.#seq++;
    this.push({
      type: 'ddl',
      gtid: `${this.domainServer}-${this.#seq}`,
      database,
      statement,
      position: this.position,
      timestamp: Math.floor(Date.now() / 1000),
    });
    return this.position;
  }

  idle(): void {
    this.push({ type: 'idle', position: this.position, timestamp: Math.floor(Date.now() / 1000) });
  }

  push(event: BinlogEvent): void {
    this.events.push(event);
    for (const w of this.#wake.splice(0)) w();
  }

  /** The stream's OpenBinlog: events after `position` (the start if no commit reached it: the clone's snapshot). */
  readonly open: OpenBinlog = async ({ position, signal }) => {
    this.opens.push(position);
    if (this.failOpens > 0) {
      this.failOpens--;
      throw Object.assign(new Error('connect ECONNREFUSED (synthetic)'), { code: 'ECONNREFUSED' });
    }
    let from = 0;
    for (let i = 0; i < this.events.length; i++) {
      const e = this.events[i];
      if ((e.type === 'commit' || e.type === 'ddl') && e.position === position) from = i + 1;
    }
    let closed = false;
    const self = this;
    const wakeAll = () => {
      closed = true;
      for (const w of self.#wake.splice(0)) w();
    };
    signal.addEventListener('abort', wakeAll, { once: true });
    async function* iterate(): AsyncGenerator<BinlogEvent> {
      for (let i = from; ; i++) {
        while (!closed && i >= self.events.length) await new Promise<void>((r) => self.#wake.push(r));
        if (closed) return;
        yield self.events[i];
      }
    }
    const it = iterate();
    return {
      [Symbol.asyncIterator]: () => it,
      close: async () => wakeAll(),
    } satisfies BinlogSource;
  };
}

/** A table as a row event names it (names given, as binlog_row_metadata=FULL sends them). */
export function binlogTable(database: string, table: string, columns: string[]): BinlogTable {
  return { database, table, columns: columns.map((name): BinlogColumn => ({ name, type: 0, unsigned: false, nullable: true })) };
}

export const insert = (table: BinlogTable, ...rows: BinlogValue[][]) => ({ change: 'insert' as const, table, rows: rows.map((after) => ({ after })) });
export const del = (table: BinlogTable, ...rows: BinlogValue[][]) => ({ change: 'delete' as const, table, rows: rows.map((before) => ({ before })) });
export const update = (table: BinlogTable, ...pairs: [BinlogValue[], BinlogValue[]][]) => ({
  change: 'update' as const,
  table,
  rows: pairs.map(([before, after]) => ({ before, after })),
});
