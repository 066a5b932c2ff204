// Row packets as the MySQL text protocol sends them, for testing code that reads them in place.

/** A text-protocol row packet payload: each value length-coded, null as 0xfb. */
export function rowPacket(values: (Buffer | string | null)[]): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) {
    if (v === null) {
      parts.push(Buffer.from([0xfb]));
      continue;
    }
    const b = Buffer.isBuffer(v) ? v : Buffer.from(v);
    if (b.length < 251) parts.push(Buffer.from([b.length]));
    else if (b.length < 65536) parts.push(Buffer.from([0xfc, b.length & 0xff, b.length >> 8]));
    else parts.push(Buffer.from([0xfd, b.length & 0xff, (b.length >> 8) & 0xff, b.length >> 16]));
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/**
 * A binary-protocol row packet payload: a 0x00 header, the NULL bitmap (offset by 2 bits), then each non-NULL value
 * as given: the caller passes the value's wire bytes (a fixed-width integer, a temporal value with its length byte,
 * or a string with its length prefix).
 */
export function binaryRowPacket(values: (Buffer | null)[]): Buffer {
  const bitmap = Buffer.alloc((values.length + 9) >> 3);
  values.forEach((v, i) => {
    if (v === null) bitmap[(i + 2) >> 3] |= 1 << ((i + 2) & 7);
  });
  return Buffer.concat([Buffer.from([0]), bitmap, ...values.filter((v): v is Buffer => v !== null)]);
}
