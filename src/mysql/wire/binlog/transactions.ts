// Raw binlog events in, the contract's events out (events.ts): a transaction is its GTID (begin), its rows events
// decoded against the table maps before them, and its XID or COMMIT; a DDL is a standalone GTID and its statement.
// Keeps the GTID list, so that each commit, ddl and idle carries the position after it. Pure: no server involved.

import type { Logger } from 'pino';
import { formatGtidList, parseGtidList, type GtidList } from '../../gtid.ts';
import { BinlogFormatError, E, readEvent, readFormatDescription, type BinlogFormat, type RawEvent } from './event-header.ts';
import type { BinlogEvent } from './events.ts';
import { gtidText, readGtid, type GtidEvent } from './gtid-event.ts';
import { readQuery } from './query-event.ts';
import { readRows, rowsChange, rowsTableId } from './rows-event.ts';
import { readTableId, readTableMap, type TableMap } from './table-map.ts';

/** Statements a row-based transaction may carry that change no row by themselves. */
const NO_CHANGE = /^(BEGIN|XA START|SAVEPOINT|ROLLBACK TO|RELEASE SAVEPOINT)\b/i;
/** Statements that end a transaction (a non-transactional change's, or one that was rolled back). */
const ENDS = /^(COMMIT|ROLLBACK)\s*$/i;

export class TransactionDecoder {
  #format: BinlogFormat | null = null;
  /** The position after the last transaction yielded. */
  readonly #position: GtidList;
  /** The transaction in progress, from its GTID event on. */
  #open: GtidEvent | null = null;
  /** Table maps of the transaction in progress, by table id. */
  readonly #tables = new Map<number, TableMap>();
  /**
   * Table maps read before, by table id, with the bytes they were read from: a table's map comes again in every
   * transaction, and one unchanged is not parsed again (its decoders and BinlogTable are reused, so consumers see
   * the same table object while its definition holds). A DDL gives the table a new id.
   */
  readonly #known = new Map<number, { body: Buffer; map: TableMap }>();
  readonly #logger: Logger;

  /** `gtidList`: the list the dump started from (the text after `MariaDB/`). */
  constructor(gtidList: string, logger: Logger) {
    this.#position = parseGtidList(gtidList);
    this.#positionText = `MariaDB/${formatGtidList(this.#position)}`;
    this.#logger = logger;
  }

  /** #position's text, made once per change. */
  #positionText: string;

  /** The position after the last complete transaction, as `_vt.blp_checkpoint` keeps it. */
  get position(): string {
    return this.#positionText;
  }

  /** Whether a transaction has begun and not yet ended. */
  get inTransaction(): boolean {
    return this.#open !== null;
  }

  /** One event's bytes in; the contract's event it makes, if any. */
  decode(bytes: Buffer): BinlogEvent | null {
    const ev = readEvent(bytes, this.#format);
    if (ev.type === E.FORMAT_DESCRIPTION) {
      this.#format = readFormatDescription(ev);
      return null;
    }
    const format = this.#format;
    if (format === null) {
      // The server sends a (fake) ROTATE first, then the format description: nothing else can be read before it.
      if (ev.type === E.ROTATE || ev.type === E.HEARTBEAT) return null;
      throw new BinlogFormatError(`binlog event of type ${ev.type} before any format description`);
    }
    switch (ev.type) {
      case E.GTID:
        return this.#gtid(ev);
      case E.TABLE_MAP: {
        const map = this.#tableMap(ev, format);
        this.#tables.set(map.id, map);
        return null;
      }
      case E.WRITE_ROWS_V1:
      case E.UPDATE_ROWS_V1:
      case E.DELETE_ROWS_V1:
      case E.WRITE_ROWS_V2:
      case E.UPDATE_ROWS_V2:
      case E.DELETE_ROWS_V2:
        return this.#rows(ev, format);
      case E.XID:
        return this.#commit(ev);
      case E.QUERY:
        return this.#query(ev);
      case E.HEARTBEAT:
        // Caught up and idle: the position is where the next transaction will start (never mid-transaction).
        return this.#open ? null : { type: 'idle', position: this.position, timestamp: Math.floor(Date.now() / 1000) };
      case E.QUERY_COMPRESSED:
      case E.WRITE_ROWS_COMPRESSED_V1:
      case E.UPDATE_ROWS_COMPRESSED_V1:
      case E.DELETE_ROWS_COMPRESSED_V1:
      case E.WRITE_ROWS_COMPRESSED_V2:
      case E.UPDATE_ROWS_COMPRESSED_V2:
      case E.DELETE_ROWS_COMPRESSED_V2:
        throw new BinlogFormatError('a compressed binlog event (log_bin_compress=ON): compressed events are not read yet');
      default:
        // ROTATE, GTID_LIST, BINLOG_CHECKPOINT, ANNOTATE_ROWS, STOP and the like say nothing about the data.
        return null;
    }
  }

  #tableMap(ev: RawEvent, format: BinlogFormat): TableMap {
    const body = ev.buf.subarray(ev.bodyStart, ev.bodyEnd);
    const id = readTableId(ev, format, E.TABLE_MAP).id;
    const known = this.#known.get(id);
    if (known && known.body.equals(body)) return known.map;
    const map = readTableMap(ev, format);
    if (!map.hasSignedness)
      throw new BinlogFormatError(`table map of ${map.table.database}.${map.table.table} has no column signedness (binlog_row_metadata must be FULL)`);
    // Bounded: ids of dropped or altered tables are never used again.
    if (this.#known.size >= 4096) this.#known.clear();
    this.#known.set(id, { body: Buffer.from(body), map });
    return map;
  }

  #gtid(ev: RawEvent): BinlogEvent | null {
    if (this.#open) throw new BinlogFormatError(`GTID ${gtidText(readGtid(ev))} begins inside transaction ${gtidText(this.#open)}, which never ended`);
    const gtid = readGtid(ev);
    // Its rows would commit (or not) at a later XA COMMIT: applying them at the PREPARE could apply a rollback.
    if (gtid.xa) throw new BinlogFormatError(`transaction ${gtidText(gtid)} is an XA transaction, which binlog streaming does not apply yet`);
    this.#open = gtid;
    this.#tables.clear();
    return gtid.standalone ? null : { type: 'begin', gtid: gtidText(gtid), timestamp: ev.timestamp };
  }

  #rows(ev: RawEvent, format: BinlogFormat): BinlogEvent {
    const change = rowsChange(ev.type)!;
    if (!this.#open || this.#open.standalone) throw new BinlogFormatError('a rows event outside a transaction');
    const id = rowsTableId(ev, format);
    const map = this.#tables.get(id);
    if (!map) throw new BinlogFormatError(`a rows event for table id ${id}, which no table map of transaction ${gtidText(this.#open)} names`);
    return { type: 'rows', change, table: map.table, rows: readRows(ev, format, map, change), timestamp: ev.timestamp };
  }

  #query(ev: RawEvent): BinlogEvent | null {
    const { database, statement } = readQuery(ev);
    const open = this.#open;
    if (!open) {
      this.#logger.debug({ statement: statement.slice(0, 200) }, 'binlog statement outside any transaction, skipped');
      return null;
    }
    if (open.standalone) {
      this.#open = null;
      this.#advance(open);
      return { type: 'ddl', gtid: gtidText(open), database, statement, position: this.position, timestamp: ev.timestamp };
    }
    const text = statement.trim();
    // A rolled-back transaction is logged only for its changes to non-transactional tables, which stay: a commit.
    if (ENDS.test(text)) return this.#commit(ev);
    if (NO_CHANGE.test(text)) return null;
    throw new BinlogFormatError(`transaction ${gtidText(open)} carries a statement a row-based stream cannot apply: ${text.slice(0, 200)}`);
  }

  #commit(ev: RawEvent): BinlogEvent {
    const open = this.#open;
    if (!open) throw new BinlogFormatError('a commit outside any transaction');
    this.#open = null;
    this.#advance(open);
    return { type: 'commit', position: this.position, timestamp: ev.timestamp };
  }

  #advance(gtid: GtidEvent): void {
    this.#position.set(gtid.domain, { serverId: gtid.serverId, seq: gtid.seq });
    this.#positionText = `MariaDB/${formatGtidList(this.#position)}`;
  }
}
