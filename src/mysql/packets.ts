// What the packet-built write methods (load-data, bulk) and the row reader's framer share about protocol packets:
// the header, the largest payload one packet holds, and the server's max_allowed_packet that bounds what is sent.

import type { RowDataPacket } from 'mysql2';
import type { PoolConnection } from './connection.ts';

/** Bytes of a packet header: the payload's length (3) and the sequence id (1). */
export const PACKET_HEADER = 4;
/** The largest payload of one packet; a longer one goes as several. */
export const MAX_PAYLOAD = 0xffffff;

/** Fills in the header of `packet` (PACKET_HEADER bytes, then a payload under MAX_PAYLOAD) in place. */
export function setPacketHeader(packet: Buffer, sequenceId: number): void {
  packet.writeUIntLE(packet.length - PACKET_HEADER, 0, 3);
  packet[3] = sequenceId;
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
