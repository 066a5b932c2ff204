import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteArena } from '../../../src/mysql/wire/byte-arena.ts';

test('an arena cuts buffers from one ArrayBuffer, reuses them per size, and has none once full', () => {
  const arena = new ByteArena(1000);
  assert.equal(arena.memory, null, 'nothing is allocated before the first take');
  const a = arena.take(300)!;
  const b = arena.take(100)!;
  assert.equal(a.length, 300);
  assert.equal(a.buffer, arena.memory);
  assert.equal(b.buffer, arena.memory);
  assert.equal(b.byteOffset % 8, 0, 'aligned');
  assert.ok(b.byteOffset >= a.byteOffset + 300, 'no overlap');
  assert.ok(arena.owns(a) && !arena.owns(Buffer.alloc(300)));
  assert.equal(arena.take(700), null, 'no room left');
  arena.give(a);
  assert.equal(arena.take(300), a, 'a buffer given back serves the next take of its size');
  arena.give(Buffer.alloc(100)); // not the arena's: ignored
  assert.equal(arena.outstanding, 2);
  arena.give(a);
  arena.give(b);
  assert.equal(arena.outstanding, 0);
  // All back: the arena starts over, so other sizes find the whole of it.
  const big = arena.take(992)!;
  assert.equal(big.byteOffset, 0);
  big.fill(1);
  assert.equal(arena.bytes[991], 1, 'bytes shows the same memory');
});
