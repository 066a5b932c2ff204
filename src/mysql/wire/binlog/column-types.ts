// The MYSQL_TYPE_* codes a table map names its columns by, and the per-column metadata that tells a row image's
// value widths (include/mysql_com.h, sql/log_event.cc). Pure.

export const T = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;

/** How many bytes of table-map metadata a column of `type` has. */
export function metadataLength(type: number): number {
  switch (type) {
    case T.FLOAT:
    case T.DOUBLE:
    case T.BLOB:
    case T.TINY_BLOB:
    case T.MEDIUM_BLOB:
    case T.LONG_BLOB:
    case T.GEOMETRY:
    case T.JSON:
    case T.TIMESTAMP2:
    case T.DATETIME2:
    case T.TIME2:
      return 1;
    case T.VARCHAR:
    case T.VAR_STRING:
    case T.BIT:
    case T.NEWDECIMAL:
    case T.STRING:
    case T.ENUM:
    case T.SET:
      return 2;
    default:
      return 0;
  }
}

/**
 * Columns the SIGNEDNESS optional metadata has a bit for: the numeric ones, and on MariaDB YEAR too (a TINYINT
 * underneath; measured against MariaDB 10.11, whose bits are otherwise one column off).
 */
export function isNumericType(type: number): boolean {
  return (
    type === T.YEAR
    || type === T.TINY
    || type === T.SHORT
    || type === T.INT24
    || type === T.LONG
    || type === T.LONGLONG
    || type === T.FLOAT
    || type === T.DOUBLE
    || type === T.NEWDECIMAL
    || type === T.DECIMAL
  );
}
