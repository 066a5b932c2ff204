// Pure builders for the load-data write method: the LOAD DATA LOCAL INFILE statement of a table and how each
// column's raw text-protocol bytes are written into its tab-separated rows.

import { quoteId, quoteTable } from '../sql.ts';

/**
 * How a column's raw value is written into a LOAD DATA field.
 * - `plain`: numbers and temporal values: their text (which the server parses as it parses a literal) is ASCII
 *   digits and punctuation, never a byte that needs escaping, so it is copied without looking. Were a server ever
 *   to send one, the row would split or fail to parse, and the load's warnings check fails the batch.
 * - `escaped`: strings and binary values, byte for byte (CHARACTER SET binary: no conversion), with `\` `TAB`
 *   `LF` `NUL` escaped.
 * - `hex`: BIT: its raw bytes in a field would be stored as the bytes of a string, not read as bits; sent as hex
 *   and turned back into the same bytes by the statement's SET clause.
 */
export type LoadFieldEncoding = 'plain' | 'escaped' | 'hex';

const PLAIN_TYPES = new Set([
  'tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'numeric', 'float', 'double', 'real', 'year',
  'date', 'datetime', 'timestamp', 'time',
]);

export function loadFieldEncoding(dataType: string): LoadFieldEncoding {
  const t = dataType.toLowerCase();
  if (t === 'bit') return 'hex';
  return PLAIN_TYPES.has(t) ? 'plain' : 'escaped';
}

export interface LoadColumn {
  name: string;
  encoding: LoadFieldEncoding;
}

/** The file name the statement asks for; the client answers with the batch whatever the name. */
export const INFILE_NAME = 'shardworker-batch';

/**
 * `LOAD DATA LOCAL INFILE` for one batch of rows. CHARACTER SET binary: the bytes are the column's own, no
 * conversion. Terminators are written as hex literals so no sql_mode can change how they read.
 */
export function loadDataStatement(db: string, table: string, columns: readonly LoadColumn[]): string {
  const targets: string[] = [];
  const sets: string[] = [];
  columns.forEach((c, i) => {
    if (c.encoding === 'hex') {
      const v = `@shardworker_${i}`;
      targets.push(v);
      sets.push(`${quoteId(c.name)} = UNHEX(${v})`);
    } else {
      targets.push(quoteId(c.name));
    }
  });
  return `LOAD DATA LOCAL INFILE '${INFILE_NAME}' INTO TABLE ${quoteTable(db, table)} CHARACTER SET binary`
    + " FIELDS TERMINATED BY X'09' ENCLOSED BY '' ESCAPED BY X'5C' LINES STARTING BY '' TERMINATED BY X'0A'"
    + ` (${targets.join(',')})${sets.length ? ' SET ' + sets.join(', ') : ''}`;
}
