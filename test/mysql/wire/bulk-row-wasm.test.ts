// The bulk encoder's WebAssembly path (rows staged in the copy's arena) writes the very bytes its JavaScript path
// writes, for binary rows of every layout: fixed widths, temporal values of every length, length-coded values
// around every prefix size, NULLs anywhere.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeBulkRow } from '../../../src/mysql/wire/bulk-rows.ts';
import { binaryLayout, type ResultField } from '../../../src/mysql/wire/binary-row.ts';
import { ByteArena } from '../../../src/mysql/wire/byte-arena.ts';
import { RawRow } from '../../../src/mysql/wire/raw-rows.ts';

// LONGLONG, TINY, SHORT, LONG, DATETIME (temporal), VAR_STRING and NEWDECIMAL (length-coded), DOUBLE.
const FIELDS: ResultField[] = [8, 1, 2, 3, 12, 253, 246, 5].map((columnType) => ({ columnType, flags: 0, decimals: 0 }));
const WIDTH: Record<number, number> = { 8: 8, 1: 1, 2: 2, 3: 4, 5: 8 };

/** A deterministic pseudo-random sequence (a test must fail the same way every run). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x / 0x80000000;
  };
}

/** A binary row packet's payload: header, NULL bitmap (offset by 2 bits), then each non-NULL value. */
function binaryRow(next: () => number): Buffer {
  const parts: Buffer[] = [];
  const bitmap = Buffer.alloc((FIELDS.length + 9) >> 3);
  for (const [i, f] of FIELDS.entries()) {
    if (next() < 0.15) {
      bitmap[(i + 2) >> 3] |= 1 << ((i + 2) & 7);
      continue;
    }
    const fill = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
    if (WIDTH[f.columnType]) {
      parts.push(fill(WIDTH[f.columnType]));
    } else if (f.columnType === 12) {
      const len = [0, 4, 7, 11][Math.floor(next() * 4)];
      parts.push(Buffer.from([len]), fill(len));
    } else {
      // Lengths at every prefix boundary and some long ones.
      const len = [0, 1, 7, 8, 9, 15, 16, 17, 250, 251, 252, 300, 70_000][Math.floor(next() * 13)];
      const prefix =
        len < 251
          ? Buffer.from([len])
          : len < 0x10000
            ? Buffer.from([0xfc, len & 0xff, len >> 8])
            : Buffer.from([0xfd, len & 0xff, (len >> 8) & 0xff, len >> 16]);
      parts.push(prefix, fill(len));
    }
  }
  return Buffer.concat([Buffer.from([0]), bitmap, ...parts]);
}

test('binary rows staged in the arena: WebAssembly writes the bytes JavaScript writes, and its offsets go back', () => {
  const arena = new ByteArena(4 << 20);
  const staging = arena.take(256 * 1024)!;
  const out = arena.take(1 << 20)!;
  const same = { bytes: arena.bytes, outBase: out.byteOffset, srcBase: staging.byteOffset, wasm: arena.wasm };
  const layout = binaryLayout(FIELDS);
  const row = new RawRow(FIELDS.length, layout, arena);
  assert.equal(row.offsetsIn, arena.memory, 'the offsets lie in the arena');
  const plainRow = new RawRow(FIELDS.length, layout);
  assert.equal(plainRow.offsetsIn, null);
  const next = random(7);
  const plain = Buffer.alloc(1 << 20);
  for (let batch = 0; batch < 20; batch++) {
    let o = 3; // not at the start: offsets within the batch count
    let p = 3;
    let at = 0;
    let rows = 0;
    while (rows < 40) {
      const packet = binaryRow(next);
      if (at + packet.length > staging.length) break;
      packet.copy(staging, at);
      row.parse(staging, at, at + packet.length);
      plainRow.parse(Buffer.from(packet), 0, packet.length);
      out.fill(0xee, o, o + packet.length + FIELDS.length + 16);
      const end = encodeBulkRow(out, o, row, same);
      p = encodeBulkRow(plain, p, plainRow, null);
      assert.equal(end, p, `batch ${batch} row ${rows}: length`);
      assert.ok(out.subarray(3, end).equals(plain.subarray(3, p)), `batch ${batch} row ${rows}: bytes`);
      assert.equal(out[end], 0xee, 'nothing written past the row');
      o = end;
      at += packet.length;
      rows++;
    }
  }
  row.release(arena);
  arena.give(staging);
  arena.give(out);
  assert.equal(arena.outstanding, 0);
});
