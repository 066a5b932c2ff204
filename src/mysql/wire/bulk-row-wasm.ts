// A binary row's bulk parameters written by WebAssembly: an indicator byte before each value, then its bytes as the
// source sent them. In JavaScript every value is a copy of its own (a copyWithin call, or a loop a byte at a time
// for short ones): about 110 ns for a row of five values. Here it is 8 bytes a step, about 20 ns (measured, Node
// 20). It runs on the copy's arena (see mysql/wire/byte-arena.ts), whose memory is a WebAssembly.Memory: the staged
// row, its offsets (RawRow keeps them there) and the batch all lie in it.
//
// The module is assembled here from its instructions (no toolchain needed to build it); in text form:
//
//   (func (export "encode") (param $wire i32) (param $end i32) (param $n i32) (param $base i32) (param $d i32)
//         (result i32) (local $i i32) (local $w i32) (local $s i32) (local $e i32)
//     (block $done (loop $columns
//       (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
//       (local.set $w (i32.load (i32.add (local.get $wire) (i32.shl (local.get $i) (i32.const 2)))))
//       (if (i32.lt_s (local.get $w) (i32.const 0))
//         (then (i32.store8 (local.get $d) (i32.const 1)) (local.set $d (i32.add (local.get $d) (i32.const 1))))
//         (else
//           (i32.store8 (local.get $d) (i32.const 0)) (local.set $d (i32.add (local.get $d) (i32.const 1)))
//           (local.set $s (i32.add (local.get $base) (local.get $w)))
//           (local.set $e (i32.add (local.get $base) (i32.load (i32.add (local.get $end) (i32.shl (local.get $i) (i32.const 2))))))
//           (block $short (loop $words          ;; 8 bytes a step while 8 are left: never past the value's end
//             (br_if $short (i32.lt_s (i32.sub (local.get $e) (local.get $s)) (i32.const 8)))
//             (i64.store (local.get $d) (i64.load (local.get $s)))
//             (local.set $d (i32.add (local.get $d) (i32.const 8))) (local.set $s (i32.add (local.get $s) (i32.const 8)))
//             (br $words)))
//           (block $copied (loop $bytes
//             (br_if $copied (i32.ge_u (local.get $s) (local.get $e)))
//             (i32.store8 (local.get $d) (i32.load8_u (local.get $s)))
//             (local.set $d (i32.add (local.get $d) (i32.const 1))) (local.set $s (i32.add (local.get $s) (i32.const 1)))
//             (br $bytes)))))
//       (local.set $i (i32.add (local.get $i) (i32.const 1)))
//       (br $columns)))
//     (local.get $d))
//
// $wire and $end are the byte offsets of the row's Int32Arrays (RawRow.wire, RawRow.end), $base that of its packet's
// buffer, $d where the row goes; all in the memory. Returns the offset after the row. A NULL's wire offset is -1.

import { INDICATOR_NONE, INDICATOR_NULL } from './bulk-execute.ts';

/** Writes the row whose offsets are at `wire`/`end` (`columns` of each) from `base` at `at`; returns the end. */
export type BulkRowWasm = (wire: number, end: number, columns: number, base: number, at: number) => number;

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
/** Small non-negative constants only (below 64): one byte each. */
const i32const = (n: number): number[] => [0x41, n];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'latin1')];

const I32 = 0x7f;
const get = (i: number): number[] => [0x20, i];
const set = (i: number): number[] => [0x21, i];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const IF = [0x04, 0x40];
const ELSE = [0x05];
const END = [0x0b];
const br = (depth: number): number[] => [0x0c, depth];
const brIf = (depth: number): number[] => [0x0d, depth];
const ADD = [0x6a];
const SUB = [0x6b];
const SHL = [0x74];
const LT_S = [0x48];
const GE_U = [0x4f];
// Memory instructions: opcode, alignment (log2, a hint), offset.
const LOAD32 = [0x28, 2, 0];
const LOAD64 = [0x29, 0, 0];
const LOAD8_U = [0x2d, 0, 0];
const STORE8 = [0x3a, 0, 0];
const STORE64 = [0x37, 0, 0];

const [WIRE, END_AT, COLUMNS, BASE, D, I, W, S, E] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const bump = (local: number, by: number): number[] => [...get(local), ...i32const(by), ...ADD, ...set(local)];
const offsetOf = (array: number): number[] => [...get(array), ...get(I), ...i32const(2), ...SHL, ...ADD];

const BODY = [
  ...BLOCK,
  ...LOOP,
  ...get(I),
  ...get(COLUMNS),
  ...GE_U,
  ...brIf(1),
  ...offsetOf(WIRE),
  ...LOAD32,
  ...set(W),
  ...get(W),
  ...i32const(0),
  ...LT_S,
  ...IF,
  ...get(D),
  ...i32const(INDICATOR_NULL),
  ...STORE8,
  ...bump(D, 1),
  ...ELSE,
  ...get(D),
  ...i32const(INDICATOR_NONE),
  ...STORE8,
  ...bump(D, 1),
  ...get(BASE),
  ...get(W),
  ...ADD,
  ...set(S),
  ...get(BASE),
  ...offsetOf(END_AT),
  ...LOAD32,
  ...ADD,
  ...set(E),
  ...BLOCK,
  ...LOOP,
  ...get(E),
  ...get(S),
  ...SUB,
  ...i32const(8),
  ...LT_S,
  ...brIf(1),
  ...get(D),
  ...get(S),
  ...LOAD64,
  ...STORE64,
  ...bump(D, 8),
  ...bump(S, 8),
  ...br(0),
  ...END,
  ...END,
  ...BLOCK,
  ...LOOP,
  ...get(S),
  ...get(E),
  ...GE_U,
  ...brIf(1),
  ...get(D),
  ...get(S),
  ...LOAD8_U,
  ...STORE8,
  ...bump(D, 1),
  ...bump(S, 1),
  ...br(0),
  ...END,
  ...END,
  ...END,
  ...bump(I, 1),
  ...br(0),
  ...END,
  ...END,
  ...get(D),
  ...END,
];

const FUNCTION = [...vec([[4, I32]]), ...BODY];

const MODULE_BYTES = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00,
  ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), ...vec([[I32]])]])),
  // The memory is imported: the arena's, whatever its size (at least one page).
  ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(1)]])),
  ...section(3, vec([[0]])),
  ...section(7, vec([[...name('encode'), 0x00, 0]])),
  ...section(10, vec([[...uleb(FUNCTION.length), ...FUNCTION]])),
]);

let compiled: WebAssembly.Module | null = null;
const instances = new WeakMap<WebAssembly.Memory, BulkRowWasm>();
// Asked for every row: the last memory's answered without a lookup.
let lastMemory: WebAssembly.Memory | null = null;
let lastEncode: BulkRowWasm | null = null;

/** The encoder working on `memory` (one instance per arena). */
export function bulkRowWasm(memory: WebAssembly.Memory): BulkRowWasm {
  if (memory === lastMemory) return lastEncode!;
  let encode = instances.get(memory);
  if (!encode) {
    compiled ??= new WebAssembly.Module(MODULE_BYTES);
    encode = new WebAssembly.Instance(compiled, { env: { memory } }).exports.encode as BulkRowWasm;
    instances.set(memory, encode);
  }
  lastMemory = memory;
  lastEncode = encode;
  return encode;
}
