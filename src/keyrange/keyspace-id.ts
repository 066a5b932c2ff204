// Keyspace ids from sharding column values (docs/topology.md "Keyspaces"):
// uint64 → the value as 8 big-endian bytes; bytes → the raw value.

import type { ShardingColumnType } from '../topology/types.ts';
import { KeyRangeError } from './keyrange.ts';

export const UINT64_MAX = (1n << 64n) - 1n;

/** The keyspace id of a uint64 sharding value: 8 big-endian bytes. */
export function uint64KeyspaceId(value: bigint): Buffer {
  if (value < 0n || value > UINT64_MAX) throw new KeyRangeError(`keyspace id ${value} is outside the unsigned 64-bit range`);
  const id = Buffer.allocUnsafe(8);
  id.writeBigUInt64BE(value);
  return id;
}

/** Shows a row value in an error without flooding it (values can be large or binary). */
export function describeRawValue(raw: Buffer): string {
  const shown = raw.subarray(0, 32);
  const printable = /^[\x20-\x7e]*$/.test(shown.toString('latin1'));
  const text = printable ? JSON.stringify(shown.toString('latin1')) : `0x${shown.toString('hex')}`;
  return raw.length > shown.length ? `${text}… (${raw.length} bytes)` : text;
}

/** Parses a uint64 as the MySQL text protocol sends it: 1–20 ASCII digits, at most 2^64-1. */
export function parseUint64Text(raw: Buffer): bigint {
  if (raw.length < 1 || raw.length > 20) throw notUint64(raw);
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c < 0x30 || c > 0x39) throw notUint64(raw);
  }
  const value = BigInt(raw.toString('latin1'));
  if (value > UINT64_MAX) throw notUint64(raw);
  return value;
}

export function notUint64(raw: Buffer): KeyRangeError {
  return new KeyRangeError(
    `sharding column value ${describeRawValue(raw)} is not an unsigned 64-bit integer (1-20 decimal digits, at most 18446744073709551615)`,
  );
}

/** The keyspace id of a sharding column value in text-protocol form (a copy for bytes, so callers may keep it). */
export function keyspaceIdFromText(type: ShardingColumnType, raw: Buffer): Buffer {
  return type === 'uint64' ? uint64KeyspaceId(parseUint64Text(raw)) : Buffer.from(raw);
}
