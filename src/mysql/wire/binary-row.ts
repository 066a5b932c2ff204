// How the values of a binary-protocol row (a prepared statement's result) lie in its packet, and how each binds
// as a parameter of the same type. Numbers and temporal values travel in their binary form (an integer as 8 bytes
// rather than up to 20 digits, a DATETIME(6) as 12 bytes rather than 26 characters): the source does not format
// them, the destination does not parse them, and the bytes the source sent are the bytes a bulk INSERT binds.

// Column types of the protocol (include/mysql_com.h: enum_field_types).
const TINY = 1;
const SHORT = 2;
const LONG = 3;
const FLOAT = 4;
const DOUBLE = 5;
const TIMESTAMP = 7;
const LONGLONG = 8;
const INT24 = 9;
const DATE = 10;
const TIME = 11;
const DATETIME = 12;
const YEAR = 13;
const BLOB = 0xfc;
const UNSIGNED_FLAG = 32;
/** The parameter type's flag byte for an unsigned integer. */
const PARAM_UNSIGNED = 0x80;

/** A value's layout: its fixed width in bytes, or one of these. */
export const LENGTH_CODED = 0;
export const TEMPORAL = -1;

/** What the layout needs of a result's column definition (mysql2's ColumnDefinition has these). */
export interface ResultField {
  columnType: number;
  flags: number;
  decimals: number;
}

export interface BinaryLayout {
  /** Per column: a fixed width (1, 2, 4 or 8 bytes), TEMPORAL (a length byte, then that many) or LENGTH_CODED. */
  widths: Int8Array;
  /** Per column, the parameter type and flag bytes that bind its value as sent (COM_STMT_BULK_EXECUTE's types). */
  paramTypes: Buffer;
  /** Column i's value [start, end) as the text protocol would send it: for the rare caller that needs text. */
  text(i: number, buffer: Buffer, start: number, end: number): Buffer;
}

/** The binding of each type: integers and temporal values as themselves; the rest as blobs of their bytes. */
function paramType(type: number): number {
  switch (type) {
    case TINY:
    case SHORT:
    case LONG:
    case LONGLONG:
    case FLOAT:
    case DOUBLE:
    case DATE:
    case TIME:
    case DATETIME:
    case TIMESTAMP:
      return type;
    // Neither has a parameter reader of its own (the server would take the bytes as a string).
    case INT24:
      return LONG;
    case YEAR:
      return SHORT;
    default:
      return BLOB;
  }
}

function width(type: number): number {
  switch (type) {
    case TINY:
      return 1;
    case SHORT:
    case YEAR:
      return 2;
    case LONG:
    case INT24:
    case FLOAT:
      return 4;
    case LONGLONG:
    case DOUBLE:
      return 8;
    case DATE:
    case TIME:
    case DATETIME:
    case TIMESTAMP:
      return TEMPORAL;
    default:
      return LENGTH_CODED;
  }
}

export function binaryLayout(fields: readonly ResultField[]): BinaryLayout {
  const widths = new Int8Array(fields.map((f) => width(f.columnType)));
  const paramTypes = Buffer.alloc(fields.length * 2);
  fields.forEach((f, i) => {
    const p = paramType(f.columnType);
    paramTypes[2 * i] = p;
    if (widths[i] > 0 && p !== FLOAT && p !== DOUBLE && f.flags & UNSIGNED_FLAG) paramTypes[2 * i + 1] = PARAM_UNSIGNED;
  });
  return {
    widths,
    paramTypes,
    text: (i, buffer, start, end) => Buffer.from(valueText(fields[i], buffer.subarray(start, end)), 'latin1'),
  };
}

const pad = (n: number, digits = 2): string => String(n).padStart(digits, '0');

/** The text protocol's form of a binary value (its bytes after any length prefix or length byte). */
export function valueText(field: ResultField, v: Buffer): string {
  const unsigned = (field.flags & UNSIGNED_FLAG) !== 0;
  switch (field.columnType) {
    case TINY:
      return String(unsigned ? v.readUInt8(0) : v.readInt8(0));
    case SHORT:
      return String(unsigned ? v.readUInt16LE(0) : v.readInt16LE(0));
    case YEAR:
      return pad(v.readUInt16LE(0), 4);
    case LONG:
    case INT24:
      return String(unsigned ? v.readUInt32LE(0) : v.readInt32LE(0));
    case LONGLONG:
      return String(unsigned ? v.readBigUInt64LE(0) : v.readBigInt64LE(0));
    case FLOAT:
      return String(v.readFloatLE(0));
    case DOUBLE:
      return String(v.readDoubleLE(0));
    case DATE:
      return date(v);
    case DATETIME:
    case TIMESTAMP:
      return `${date(v)} ${v.length >= 7 ? `${pad(v[4])}:${pad(v[5])}:${pad(v[6])}` : '00:00:00'}${fraction(field, v, 7)}`;
    case TIME: {
      if (v.length < 8) return `00:00:00${fraction(field, v, 8)}`;
      const hours = v.readUInt32LE(1) * 24 + v[5];
      return `${v[0] ? '-' : ''}${pad(hours)}:${pad(v[6])}:${pad(v[7])}${fraction(field, v, 8)}`;
    }
    default:
      return v.toString('latin1');
  }
}

function date(v: Buffer): string {
  return v.length >= 4 ? `${pad(v.readUInt16LE(0), 4)}-${pad(v[2])}-${pad(v[3])}` : '0000-00-00';
}

/** The fraction as the text protocol shows it: the column's number of digits (microseconds follow at `at`). */
function fraction(field: ResultField, v: Buffer, at: number): string {
  const digits = field.decimals > 0 && field.decimals <= 6 ? field.decimals : 0;
  if (digits === 0) return '';
  const micros = v.length >= at + 4 ? v.readUInt32LE(at) : 0;
  return '.' + pad(micros, 6).slice(0, digits);
}

/** The width of column i when it is a binary integer (1, 2, 4 or 8 bytes), else 0 (not an integer). */
export function integerWidth(layout: BinaryLayout, i: number): number {
  const t = layout.paramTypes[2 * i];
  return t === TINY || t === SHORT || t === LONG || t === LONGLONG ? layout.widths[i] : 0;
}

export function isUnsigned(layout: BinaryLayout, i: number): boolean {
  return layout.paramTypes[2 * i + 1] === PARAM_UNSIGNED;
}
