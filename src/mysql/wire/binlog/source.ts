// The binlog reader's entry point: a source tablet's changes from a GTID position, as the contract's events
// (events.ts). The parts: dump-connection.ts (the replication connection and its framing), event-header.ts (the
// event frame and checksum), gtid-event.ts, query-event.ts, table-map.ts, rows-event.ts (the event kinds),
// row-values.ts (the row-image value decoder), transactions.ts (events into transactions and positions).

import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { Credentials, DbTls } from '../../../topology/types.ts';
import { TabletError, type TabletRef } from '../../connection.ts';
import { parseGtidList, parsePosition, PositionError } from '../../gtid.ts';
import { DumpConnection } from './dump-connection.ts';
import type { BinlogEvent, BinlogSource } from './events.ts';
import { TransactionDecoder } from './transactions.ts';

export interface BinlogSourceOptions {
  /** The source tablet, as errors and logs name it (never its password). */
  tablet: TabletRef;
  credentials: Credentials;
  /** The CA for a tablet with `tls: true` (--db-ca-file). */
  tls?: DbTls;
  /** Where to start: `MariaDB/<gtid list>` (as `_vt.blp_checkpoint.pos` keeps it); the first event is the next transaction's. */
  position: string;
  /** Ends the reading: the iteration throws the signal's reason, the connection is closed. */
  signal: AbortSignal;
  logger: Logger;
  /**
   * How often an idle source sends a heartbeat (each an `idle` event); a source silent for three times as long
   * (at least 5 s) while the reader keeps up is a lost connection. @default 1000
   */
  heartbeatMs?: number;
  /** Bytes of events read ahead of the consumer before the socket is paused. @default 4 MiB */
  readAheadBytes?: number;
}

/**
 * Connects to `tablet`, checks its binlog settings (a refusal names the variable: BinlogPreconditionError; a MySQL
 * server is refused as not supported yet) and starts reading after `position`. Errors are TabletErrors naming the
 * tablet that keep the server's errno, so retry.ts's classifyError tells a lost connection or a restart
 * (`connection`) from the rest. Each source identifies to the server with a server id of its own.
 */
export async function openBinlogSource(options: BinlogSourceOptions): Promise<BinlogSource> {
  const { tablet, signal, logger } = options;
  const position = parsePosition(options.position);
  if (position.flavor !== 'MariaDB')
    throw new PositionError(
      `binlog streaming reads from MariaDB GTID positions; ${JSON.stringify(options.position)} is not one (MySQL 8 binlog streaming is not supported yet)`,
    );
  parseGtidList(position.value);
  signal.throwIfAborted();
  const decoder = new TransactionDecoder(position.value, logger);
  const dump = await DumpConnection.open({
    tablet,
    credentials: options.credentials,
    tls: options.tls,
    gtidList: position.value,
    // Replica server ids are small numbers: ours are from the top half of the range, at random per connection.
    serverId: 0x80000000 + randomInt(0x7fffffff),
    heartbeatMs: options.heartbeatMs ?? 1000,
    readAheadBytes: options.readAheadBytes ?? 4 * 1024 * 1024,
    logger,
  });
  const onAbort = () => dump.close();
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) dump.close();
  logger.info({ tablet: tablet.alias, position: options.position }, 'binlog dump started');

  let closed = false;
  const close = async () => {
    closed = true;
    signal.removeEventListener('abort', onAbort);
    dump.close();
  };
  const decode = (bytes: Buffer): BinlogEvent | null => {
    try {
      return decoder.decode(bytes);
    } catch (err) {
      throw new TabletError(tablet, `decoding the binlog after ${decoder.position}`, err);
    }
  };
  // The events the connection has already read, decoded without a promise each: take() and the iterator share
  // one position (the iterator is only ever suspended after handing out its event).
  const take = (): BinlogEvent | undefined => {
    if (closed) return undefined;
    for (let bytes = dump.take(); bytes !== undefined; bytes = dump.take()) {
      const event = decode(bytes);
      if (event) return event;
    }
    return undefined;
  };
  async function* events(): AsyncGenerator<BinlogEvent> {
    try {
      for (;;) {
        const bytes = dump.take() ?? (await dump.next());
        signal.throwIfAborted();
        if (bytes === null) return;
        const event = decode(bytes);
        if (event) yield event;
        if (closed) return;
      }
    } finally {
      await close();
    }
  }
  let iterated = false;
  return {
    close,
    take,
    [Symbol.asyncIterator]() {
      if (iterated) throw new Error('a binlog source can be iterated once');
      iterated = true;
      return events();
    },
  };
}
