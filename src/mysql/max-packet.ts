// A destination server's max_allowed_packet, asked once per connection: what the write methods size their
// packets by.

import type { RowDataPacket } from 'mysql2';
import type { PoolConnection } from './connection.ts';

const maxPackets = new WeakMap<object, number>();

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
