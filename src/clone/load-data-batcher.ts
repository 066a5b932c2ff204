// Packs rows of one table for one destination into the tab-separated bytes of a LOAD DATA LOCAL INFILE
// (the `load-data` write method), bounded in bytes. Rows are written straight from the packets they were read
// in, escaped (the line format is mysql/wire/load-data.ts's), by PacketBatcher (shared with the bulk method).

import { LOAD_DATA_PREFIX, LoadDataEncoder, loadDataFile, loadDataStatement, loadFieldEncoding } from '../mysql/wire/load-data.ts';
import type { BatchColumn, BatchLimits, LoadDataBatch } from './batch.ts';
import { PacketBatcher } from './packet-batcher.ts';

export class LoadDataBatcher extends PacketBatcher<LoadDataBatch> {
  constructor(db: string, table: string, columns: readonly BatchColumn[], limits: BatchLimits) {
    const load = columns.map((c) => ({ name: c.name, encoding: loadFieldEncoding(c.dataType) }));
    const sql = loadDataStatement(db, table, load);
    super(
      LOAD_DATA_PREFIX,
      new LoadDataEncoder(load.map((c) => c.encoding)),
      limits.maxSize,
      (packet, rows, release) => ({ kind: 'load-data', sql, data: loadDataFile(packet), packet, rows, bytes: packet.length, release }),
      limits.arena,
    );
  }
}
