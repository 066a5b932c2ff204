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
