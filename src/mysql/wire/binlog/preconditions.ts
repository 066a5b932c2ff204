// What a source must have for its binlog to be streamed, checked before the dump starts and refused naming the
// variable: a binlog (log_bin), row events (binlog_format=ROW) with whole images (binlog_row_image=FULL) and, where
// the server has the variable (MariaDB 10.5+), column names and signedness (binlog_row_metadata=FULL; without
// signedness a BIGINT UNSIGNED cannot be told from a signed one). Pure: the caller reads the variables.

/** The server variables the check reads (SHOW GLOBAL VARIABLES names). */
export const BINLOG_VARIABLES = [
  'version',
  'log_bin',
  'binlog_format',
  'binlog_row_image',
  'binlog_row_metadata',
  'log_bin_compress',
  'binlog_checksum',
  'server_id',
];

export class BinlogPreconditionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BinlogPreconditionError';
  }
}

/** Why `vars` (lower-case names to values) rule out streaming, or null when they do not. */
export function binlogPreconditionProblem(vars: Map<string, string>): string | null {
  const version = vars.get('version') ?? '';
  if (!/mariadb/i.test(version)) return `the server is MySQL ${version}: MySQL 8 binlog streaming is not supported yet (MariaDB only)`;
  const want = (name: string, value: string, why: string): string | null => {
    const got = vars.get(name);
    return got !== undefined && got.toUpperCase() === value ? null : `${name} is ${got ?? '(unset)'}, must be ${value} (${why})`;
  };
  const logBin = vars.get('log_bin');
  if (logBin !== 'ON' && logBin !== '1') return `log_bin is ${logBin ?? '(unset)'}, must be ON (the source keeps no binlog to stream from)`;
  const problem =
    want('binlog_format', 'ROW', 'row events are what the streams apply')
    ?? want('binlog_row_image', 'FULL', 'a change must carry its whole row')
    ?? (vars.has('binlog_row_metadata') ? want('binlog_row_metadata', 'FULL', 'column names and signedness in the table maps') : null);
  if (problem) return problem;
  const compress = vars.get('log_bin_compress');
  if (compress !== undefined && compress !== 'OFF' && compress !== '0')
    return `log_bin_compress is ${compress}, must be OFF (compressed binlog events are not read yet)`;
  return null;
}
