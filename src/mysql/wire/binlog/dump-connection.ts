// The replication connection: mysql2 makes the connection (handshake, auth, TLS) and runs the set-up statements;
// then this module sends COM_BINLOG_DUMP itself and cuts the events out of the socket's chunks, queueing them for
// the reader and pausing the socket while the reader is behind, so memory holds a bounded read-ahead, never the
// binlog or a whole transaction.
//
// mysql2 internals used here (lib/base/connection.js, 3.x), as row-framer.ts uses them: `packetParser` (its
// 'data' listener hands every socket chunk to `packetParser.execute`, looked up per chunk), `write(buffer)` (raw
// bytes to the socket), `stream` (the socket, paused and resumed), and the 'error' event it emits when the
// socket closes or fails with no command running. Checked at take-over; a mismatch is an error naming mysql2.

import mysql from 'mysql2';
import type { Logger } from 'pino';
import { connectionBasics, describeTablet, TabletError, type TabletRef } from '../../connection.ts';
import { MAX_PAYLOAD, PACKET_HEADER } from '../packets.ts';
import type { Credentials, DbTls } from '../../../topology/types.ts';
import { E } from './event-header.ts';
import { BINLOG_VARIABLES, BinlogPreconditionError, binlogPreconditionProblem } from './preconditions.ts';

export interface DumpSettings {
  tablet: TabletRef;
  credentials: Credentials;
  tls?: DbTls;
  /** The MariaDB GTID list to start after (`0-100-57,1-2-9`; '' for the start of the binlogs). */
  gtidList: string;
  /** The server id this connection identifies as: unique among the source's replicas and other dumps. */
  serverId: number;
  heartbeatMs: number;
  /** Bytes of events queued ahead of the reader before the socket is paused (one event may exceed it). */
  readAheadBytes: number;
  logger: Logger;
}

/** The server's dump command (COM_BINLOG_DUMP). */
const COM_BINLOG_DUMP = 0x12;
/** What a source sends at once, before it has found the start position: no sign of life past the scan. */
const PREAMBLE_EVENTS = new Set<number>([E.ROTATE, E.FORMAT_DESCRIPTION, E.GTID_LIST, E.BINLOG_CHECKPOINT]);
/** MARIA_SLAVE_CAPABILITY_GTID: the replica understands GTID events and positions. */
const MARIA_SLAVE_CAPABILITY_GTID = 4;

interface CoreConnection {
  packetParser: { execute(chunk: Buffer): unknown };
  write(buffer: Buffer): void;
  stream: { pause(): void; resume(): void; destroy(): void };
  on(event: 'error', listener: (err: Error) => void): unknown;
  destroy(): void;
  promise(): { query(sql: string, values?: unknown[]): Promise<[unknown, unknown]> };
}

export class DumpConnection {
  readonly #settings: DumpSettings;
  readonly #core: CoreConnection;
  /** Events (each the bytes after a packet's OK byte) not yet taken by the reader. */
  readonly #queue: Buffer[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #paused = false;
  /** Socket chunks making up the packet in progress, and their total length. */
  #parts: Buffer[] = [];
  #partsLength = 0;
  /** The payloads of an event longer than one packet (16 MiB), in order. */
  #longEvent: Buffer[] | null = null;
  #ended = false;
  #failure: Error | null = null;
  #wake: (() => void) | null = null;
  #lastPacketAt = Date.now();
  /** Whether the source sent an event past the preamble (fake rotate, format description, GTID list, checkpoint). */
  #started = false;
  #watchdog: NodeJS.Timeout | null = null;
  /** For the log at close: how far the read-ahead went, and how often the socket was paused. */
  #peakQueuedBytes = 0;
  #pauses = 0;

  private constructor(settings: DumpSettings, core: CoreConnection) {
    this.#settings = settings;
    this.#core = core;
  }

  /** Connects, checks the source's binlog settings (refusing by variable name) and starts the dump. */
  static async open(settings: DumpSettings): Promise<DumpConnection> {
    const { tablet: ref, credentials, tls } = settings;
    const { tablet } = ref;
    const core = mysql.createConnection({
      ...connectionBasics(tablet, credentials, tls),
      // No statement is prepared here.
      maxPreparedStatements: 1,
    }) as unknown as CoreConnection;
    const dump = new DumpConnection(settings, core);
    // Before anything can fail: mysql2 emits connection errors as events.
    core.on('error', (err) => dump.#fail(err));
    try {
      await dump.#setUp();
    } catch (err) {
      dump.close();
      if (err instanceof BinlogPreconditionError) throw err;
      throw new TabletError(ref, 'starting the binlog dump', err);
    }
    return dump;
  }

  async #setUp(): Promise<void> {
    const { tablet: ref, gtidList, serverId, heartbeatMs } = this.#settings;
    const conn = this.#core.promise();
    const [rows] = await conn.query(`SHOW GLOBAL VARIABLES WHERE Variable_name IN (${BINLOG_VARIABLES.map(() => '?').join(',')})`, BINLOG_VARIABLES);
    const vars = new Map((rows as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name.toLowerCase(), String(r.Value)]));
    const problem = binlogPreconditionProblem(vars);
    if (problem) throw new BinlogPreconditionError(`cannot stream the binlog of ${describeTablet(ref)}: ${problem}`);
    if (Number(vars.get('server_id')) === serverId) throw new Error(`the replication server id ${serverId} is the source's own`);
    await conn.query(
      'SET @master_binlog_checksum = @@GLOBAL.binlog_checksum, @mariadb_slave_capability = ?, @slave_connect_state = ?, @slave_gtid_strict_mode = 1, @master_heartbeat_period = ?',
      [MARIA_SLAVE_CAPABILITY_GTID, gtidList, String(BigInt(heartbeatMs) * 1_000_000n)],
    );
    this.#takeOver();
  }

  /** From here on the socket's bytes are the dump's: the framer gets them, not mysql2's parser. */
  #takeOver(): void {
    const core = this.#core;
    if (typeof core.packetParser?.execute !== 'function' || typeof core.write !== 'function' || typeof core.stream?.pause !== 'function') {
      throw new Error("mysql2's connection internals changed (packetParser, write, stream): shardworker must be updated");
    }
    core.packetParser = { execute: (chunk: Buffer) => this.#chunk(chunk) };
    // Empty file name and position 4: the server starts from @slave_connect_state.
    const packet = Buffer.alloc(PACKET_HEADER + 11);
    packet.writeUIntLE(packet.length - PACKET_HEADER, 0, 3);
    packet[3] = 0;
    packet[4] = COM_BINLOG_DUMP;
    packet.writeUInt32LE(4, 5);
    packet.writeUInt16LE(0, 9);
    packet.writeUInt32LE(this.#settings.serverId, 11);
    core.write(packet);
    this.#lastPacketAt = Date.now();
    // A source that went silent (no events, no heartbeats) while the socket reads: a connection that is gone. Only
    // once its first event past the preamble came: before it, a source scans its binlog file for the start GTID
    // (seconds to minutes for a large file on a busy host) and sends nothing, not even heartbeats; TCP keepalive
    // covers a connection lost meanwhile.
    const limit = Math.max(3 * this.#settings.heartbeatMs, 5_000);
    this.#watchdog = setInterval(
      () => {
        if (!this.#paused && this.#started && Date.now() - this.#lastPacketAt > limit) {
          this.#fail(Object.assign(new Error(`no event or heartbeat from the source for ${Math.round(limit / 1000)}s`), { code: 'ETIMEDOUT' }));
        }
      },
      Math.min(limit, 1_000),
    );
    this.#watchdog.unref();
  }

  /** A socket chunk: complete packets are handled, the start of the next kept. */
  #chunk(chunk: Buffer): void {
    this.#lastPacketAt = Date.now();
    if (this.#ended) return;
    let buf = chunk;
    if (this.#partsLength > 0) {
      this.#parts.push(chunk);
      this.#partsLength += chunk.length;
      if (this.#partsLength < PACKET_HEADER) return;
      const first = this.#parts[0];
      const length = first.length >= 3 ? first.readUIntLE(0, 3) : Buffer.concat(this.#parts).readUIntLE(0, 3);
      if (this.#partsLength < PACKET_HEADER + length) return;
      buf = Buffer.concat(this.#parts, this.#partsLength);
      this.#parts = [];
      this.#partsLength = 0;
    }
    let at = 0;
    while (buf.length - at >= PACKET_HEADER) {
      const length = buf.readUIntLE(at, 3);
      const next = at + PACKET_HEADER + length;
      if (next > buf.length) break;
      this.#packet(buf.subarray(at + PACKET_HEADER, next));
      if (this.#ended) return;
      at = next;
    }
    if (at < buf.length) {
      this.#parts = [buf.subarray(at)];
      this.#partsLength = buf.length - at;
    }
  }

  #packet(payload: Buffer): void {
    if (this.#longEvent) {
      this.#longEvent.push(payload);
      if (payload.length === MAX_PAYLOAD) return;
      const event = Buffer.concat(this.#longEvent);
      this.#longEvent = null;
      this.#push(event);
      return;
    }
    const kind = payload[0];
    if (kind === 0x00) {
      // The event type follows the OK byte and the 4-byte timestamp.
      if (!this.#started && payload.length > 5 && !PREAMBLE_EVENTS.has(payload[5])) this.#started = true;
      if (payload.length === MAX_PAYLOAD) {
        this.#longEvent = [payload.subarray(1)];
        return;
      }
      this.#push(payload.subarray(1));
    } else if (kind === 0xff) {
      this.#fail(serverError(payload));
    } else if (kind === 0xfe && payload.length < 9) {
      // The end of the binlog in non-blocking mode (never asked for): the source stopped sending.
      this.#fail(Object.assign(new Error('the source ended the binlog dump'), { code: 'PROTOCOL_CONNECTION_LOST' }));
    } else {
      this.#fail(new Error(`an unexpected packet (first byte 0x${kind.toString(16)}) in the binlog dump`));
    }
  }

  #push(event: Buffer): void {
    this.#queue.push(event);
    this.#queuedBytes += event.length;
    if (this.#queuedBytes > this.#peakQueuedBytes) this.#peakQueuedBytes = this.#queuedBytes;
    if (!this.#paused && this.#queuedBytes >= this.#settings.readAheadBytes) {
      this.#paused = true;
      this.#pauses++;
      this.#core.stream.pause();
    }
    this.#wakeReader();
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #fail(err: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#failure = new TabletError(this.#settings.tablet, 'reading the binlog', err);
    this.#stop();
    this.#wakeReader();
  }

  /** The next queued event's bytes (header to checksum), or undefined when none is queued: no promise per event. */
  take(): Buffer | undefined {
    if (this.#queueHead >= this.#queue.length) return undefined;
    const event = this.#queue[this.#queueHead];
    this.#queue[this.#queueHead++] = undefined as unknown as Buffer;
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
    this.#queuedBytes -= event.length;
    if (this.#paused && !this.#ended && this.#queuedBytes <= this.#settings.readAheadBytes / 2) {
      this.#paused = false;
      this.#lastPacketAt = Date.now();
      this.#core.stream.resume();
    }
    return event;
  }

  /**
   * The next event's bytes, or null once closed. Waits while none is queued; throws the connection's failure once
   * the events read before it are taken.
   */
  async next(): Promise<Buffer | null> {
    for (;;) {
      const event = this.take();
      if (event) return event;
      if (this.#failure) throw this.#failure;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** Ends the dump and the connection; a waiting next() returns null. */
  close(): void {
    if (!this.#ended) {
      this.#settings.logger.debug({ tablet: this.#settings.tablet.alias, peakQueuedBytes: this.#peakQueuedBytes, pauses: this.#pauses }, 'binlog dump closed');
      this.#ended = true;
      this.#queue.length = 0;
      this.#queueHead = 0;
      this.#queuedBytes = 0;
    }
    this.#stop();
    this.#wakeReader();
  }

  #stop(): void {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = null;
    try {
      this.#core.destroy();
      // A paused socket with unread bytes would never see its end: destroyed, it closes now.
      this.#core.stream.destroy();
    } catch {
      // Already closed.
    }
  }
}

/** An error packet from the server: errno (2), '#' and SQL state (5), message. */
function serverError(payload: Buffer): Error {
  const errno = payload.readUInt16LE(1);
  const hasState = payload[3] === 0x23;
  const message = payload.toString('utf8', hasState ? 9 : 3);
  return Object.assign(new Error(`${message} (errno ${errno})`), { errno, sqlState: hasState ? payload.toString('latin1', 4, 9) : undefined });
}
