// Packs rows of one table for one destination into a COM_STMT_BULK_EXECUTE packet (the `bulk` write method); the
// packet's bytes are mysql/wire/bulk-rows.ts's. Rows bound otherwise than the open batch's start a new batch.

import { BULK_ROW_ENCODER, bulkPrefix } from '../mysql/wire/bulk-rows.ts';
import type { RawRow } from '../mysql/wire/raw-rows.ts';
import { insertPrefix } from '../mysql/sql.ts';
import type { BatchColumn, BatchLimits, BulkBatch } from './batch.ts';
import { PacketBatcher } from './packet-batcher.ts';

export class BulkBatcher extends PacketBatcher<BulkBatch> {
  readonly #columns: number;
  /** The parameter types of the open batch's rows: null for text rows (all blobs). */
  #types: Buffer | null = null;

  constructor(db: string, table: string, columns: readonly BatchColumn[], limits: BatchLimits) {
    const sql =
      insertPrefix(
        db,
        table,
        columns.map((c) => c.name),
      ) + `(${columns.map(() => '?').join(',')})`;
    super(
      bulkPrefix(columns.length, null),
      BULK_ROW_ENCODER,
      limits.maxSize,
      (packet, rows, release) => ({ kind: 'bulk', sql, packet, rows, bytes: packet.length, release }),
      limits.arena,
    );
    this.#columns = columns.length;
  }

  override add(row: RawRow): BulkBatch | null {
    const types = row.layout?.paramTypes ?? null;
    if (types === this.#types || (types && this.#types?.equals(types))) return super.add(row);
    // Rows bound otherwise than the open batch's (a retried read that came back as text, say) start a batch of
    // their own: a batch's types hold for all its rows. The row is its first, so add() returns nothing more.
    const before = this.take();
    this.#types = types;
    this.prefix = bulkPrefix(this.#columns, types);
    super.add(row);
    return before;
  }
}
