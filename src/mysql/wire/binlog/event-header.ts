// The frame every binlog event shares: the 19-byte header, the trailing CRC32 (stripped and verified), and the
// format description event that says how long each kind's fixed part is and whether events carry checksums.
// Pure; no server involved.

import { crc32 } from 'node:zlib';

/** Event type codes (MariaDB's sql/log_event.h) that the reader handles or names. */
export const E = {
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  TABLE_MAP: 19,
  WRITE_ROWS_V1: 23,
  UPDATE_ROWS_V1: 24,
  DELETE_ROWS_V1: 25,
  HEARTBEAT: 27,
  WRITE_ROWS_V2: 30,
  UPDATE_ROWS_V2: 31,
  DELETE_ROWS_V2: 32,
  ANNOTATE_ROWS: 160,
  BINLOG_CHECKPOINT: 161,
  GTID: 162,
  GTID_LIST: 163,
  START_ENCRYPTION: 164,
  QUERY_COMPRESSED: 165,
  WRITE_ROWS_COMPRESSED_V1: 169,
  UPDATE_ROWS_COMPRESSED_V1: 170,
  DELETE_ROWS_COMPRESSED_V1: 171,
  WRITE_ROWS_COMPRESSED_V2: 166,
  UPDATE_ROWS_COMPRESSED_V2: 167,
  DELETE_ROWS_COMPRESSED_V2: 168,
} as const;

export const HEADER_LENGTH = 19;
const CHECKSUM_LENGTH = 4;
const CHECKSUM_OFF = 0;
const CHECKSUM_CRC32 = 1;

export class BinlogFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BinlogFormatError';
  }
}

/** An event's header fields and its body, [bodyStart, bodyEnd) of `buf` (the checksum excluded). */
export interface RawEvent {
  buf: Buffer;
  timestamp: number;
  type: number;
  serverId: number;
  /** The next event's offset in the source's binlog file (0 for artificial events). */
  logPos: number;
  flags: number;
  bodyStart: number;
  bodyEnd: number;
}

/** What the format description event tells about the events after it. */
export interface BinlogFormat {
  /** The fixed ("post-header") part's length for each event type, by type code. */
  postHeader: Uint8Array;
  checksum: boolean;
}

/** Before any format description: MariaDB 10's lengths would be guessed, so nothing but it may come first. */
export const NO_FORMAT: BinlogFormat | null = null;

/**
 * Cuts an event (`buf`, the whole event as the dump packet carries it after its OK byte) into header and body,
 * verifying and stripping its CRC32 when the format says events carry one. The format description event itself
 * says whether it has one (its checksum algorithm byte), so it is read with `format` null.
 */
export function readEvent(buf: Buffer, format: BinlogFormat | null): RawEvent {
  if (buf.length < HEADER_LENGTH) throw new BinlogFormatError(`a binlog event of ${buf.length} bytes, shorter than its header`);
  const size = buf.readUInt32LE(9);
  if (size !== buf.length) throw new BinlogFormatError(`a binlog event says it has ${size} bytes but came with ${buf.length}`);
  const type = buf[4];
  let checksum = format?.checksum ?? false;
  if (type === E.FORMAT_DESCRIPTION) checksum = formatDescriptionChecksum(buf);
  let bodyEnd = buf.length;
  if (checksum) {
    bodyEnd -= CHECKSUM_LENGTH;
    const want = buf.readUInt32LE(bodyEnd);
    const got = crc32(buf.subarray(0, bodyEnd));
    if (want !== got)
      throw new BinlogFormatError(`binlog event of type ${type} at ${buf.readUInt32LE(13)} fails its CRC32 checksum (corrupt in transit or on the source)`);
  }
  return {
    buf,
    timestamp: buf.readUInt32LE(0),
    type,
    serverId: buf.readUInt32LE(5),
    logPos: buf.readUInt32LE(13),
    flags: buf.readUInt16LE(17),
    bodyStart: HEADER_LENGTH,
    bodyEnd,
  };
}

// The format description body: binlog version (2), server version (50), create time (4), header length (1), the
// post-header lengths (one byte per type), then the checksum algorithm (1) and the event's own checksum (4).
const FDE_FIXED = 2 + 50 + 4 + 1;

function formatDescriptionChecksum(buf: Buffer): boolean {
  const alg = buf[buf.length - CHECKSUM_LENGTH - 1];
  if (alg === CHECKSUM_CRC32) return true;
  if (alg === CHECKSUM_OFF) return false;
  throw new BinlogFormatError(`the source's binlog uses checksum algorithm ${alg}, which shardworker does not know`);
}

export function readFormatDescription(ev: RawEvent): BinlogFormat {
  const { buf, bodyStart } = ev;
  const version = buf.readUInt16LE(bodyStart);
  if (version !== 4) throw new BinlogFormatError(`binlog version ${version} (shardworker reads version 4, MySQL 5.0 and later)`);
  const headerLength = buf[bodyStart + 2 + 50 + 4];
  if (headerLength !== HEADER_LENGTH) throw new BinlogFormatError(`binlog event headers of ${headerLength} bytes (expected ${HEADER_LENGTH})`);
  // The checksum algorithm byte follows the lengths whether or not events carry checksums.
  const lengthsEnd = buf.length - CHECKSUM_LENGTH - 1;
  const postHeader = new Uint8Array(256);
  postHeader.set(buf.subarray(bodyStart + FDE_FIXED, lengthsEnd), 1);
  return { postHeader, checksum: buf[lengthsEnd] === CHECKSUM_CRC32 };
}

/** A length-encoded integer at `p` of `buf` (as the protocol codes them) and where it ends. */
export function lengthEncoded(buf: Buffer, p: number): { value: number; end: number } {
  const first = buf[p];
  if (first < 0xfb) return { value: first, end: p + 1 };
  if (first === 0xfc) return { value: buf.readUInt16LE(p + 1), end: p + 3 };
  if (first === 0xfd) return { value: buf.readUIntLE(p + 1, 3), end: p + 4 };
  if (first === 0xfe) return { value: Number(buf.readBigUInt64LE(p + 1)), end: p + 9 };
  throw new BinlogFormatError(`a length-encoded integer starting with 0x${first.toString(16)}`);
}
