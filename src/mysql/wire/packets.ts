// What the packet-built write methods (load-data, bulk) and the row reader share about protocol packets: the header,
// the largest payload one packet holds, length-coded integers, and the server's max_allowed_packet.

import type { RowDataPacket } from 'mysql2';
import type { PoolConnection } from '../connection.ts';
import type { SameMemory } from './byte-builder.ts';
import type { RawRow } from './raw-rows.ts';

/** Bytes of a packet header: the payload's length (3) and the sequence id (1). */
export const PACKET_HEADER = 4;
/** The largest payload of one packet; a longer one goes as several. */
export const MAX_PAYLOAD = 0xffffff;

/** Fills in the header of `packet` (PACKET_HEADER bytes, then a payload under MAX_PAYLOAD) in place. */
export function setPacketHeader(packet: Buffer, sequenceId: number): void {
  packet.writeUIntLE(packet.length - PACKET_HEADER, 0, 3);
  packet[3] = sequenceId;
}

/**
 * The length a length-coded integer gives (a row value's length, an OK packet's counts): its first byte `first`, the
 * bytes after it (if any) at `p`. A first byte of 0xFB (NULL in a row) is the caller's to handle.
 */
export function codedLength(buffer: Buffer, p: number, first: number): number {
  if (first < 0xfb) return first;
  if (first === 0xfc) return buffer[p] | (buffer[p + 1] << 8);
  if (first === 0xfd) return buffer[p] | (buffer[p + 1] << 8) | (buffer[p + 2] << 16);
  return buffer.readUInt32LE(p) + buffer.readUInt32LE(p + 4) * 2 ** 32;
}

/** How many bytes a length-coded integer has after its first byte `first`. */
export function moreLengthBytes(first: number): number {
  return first === 0xfc ? 2 : first === 0xfd ? 3 : first === 0xfe ? 8 : 0;
}

const maxPackets = new WeakMap<object, number>();

/** The server's max_allowed_packet, asked once per connection. */
export async function maxAllowedPacket(conn: PoolConnection): Promise<number> {
  const key = conn.connection as object;
  let max = maxPackets.get(key);
  if (max === undefined) {
    const [rows] = await conn.query<({ m: number | string } & RowDataPacket)[]>('SELECT @@max_allowed_packet AS m');
    max = Number(rows[0].m);
    maxPackets.set(key, max);
  }
  return max;
}

/** The last statement's warnings (the first few), as text, and their codes. */
export async function lastWarnings(conn: PoolConnection): Promise<{ text: string; codes: number[] }> {
  const [rows] = await conn.query<({ Level: string; Code: number; Message: string } & RowDataPacket)[]>('SHOW WARNINGS LIMIT 5');
  return { text: rows.map((w) => `${w.Level} ${w.Code}: ${w.Message}`).join('; '), codes: rows.map((w) => Number(w.Code)) };
}

/** How a packet-built write method (bulk-rows.ts, load-data.ts) writes a row into its packet. */
export interface RowEncoder {
  /** The bytes `row` may take at most. */
  maxBytes(row: RawRow): number;
  /**
   * Writes `row` into `out` from `o` (room reserved); returns the offset after it. `same` is given when the row and
   * `out` lie in one ArrayBuffer: its values may then be copied with copyInto's fast path.
   */
  encode(out: Buffer, o: number, row: RawRow, same: SameMemory | null): number;
}
