// Direct sockets against a local TCP server: reads land in the reader's memory when it names some, in the socket's
// own buffer (handed on as copies) otherwise, and memory a reader stops naming is given back only once no read
// can land in it any more.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { directSocket, setReadTarget, stopReadTarget } from '../../../src/mysql/wire/direct-reads.ts';

let server: net.Server;
let port: number;
/** Server sides of connections not yet claimed, and claims waiting for one. */
const accepted: net.Socket[] = [];
const claims: ((s: net.Socket) => void)[] = [];

before(async () => {
  server = net.createServer((s) => {
    const claim = claims.shift();
    if (claim) claim(s);
    else accepted.push(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});

after(() => server.close());

/** A direct socket, its server side, and the chunks it delivers as 'data'. */
async function connect() {
  const remote = accepted.length > 0 ? Promise.resolve(accepted.shift()!) : new Promise<net.Socket>((resolve) => claims.push(resolve));
  const socket = directSocket('127.0.0.1', port);
  const chunks: Buffer[] = [];
  let arrived: () => void = () => {};
  socket.on('data', (c: Buffer) => {
    chunks.push(c);
    arrived();
  });
  await new Promise((resolve) => socket.once('connect', resolve));
  const server = await remote;
  /** Sends `bytes` and waits until the socket has delivered them (in one or more chunks). */
  const send = async (bytes: Buffer) => {
    const before = chunks.reduce((n, c) => n + c.length, 0);
    const done = new Promise<void>((resolve) => {
      arrived = () => {
        if (chunks.reduce((n, c) => n + c.length, 0) >= before + bytes.length) resolve();
      };
    });
    server.write(bytes);
    await done;
  };
  return { socket, server, chunks, send };
}

test('reads land in the memory a reader names, else in the socket’s own buffer, handed on as copies', async () => {
  const { socket, chunks, send } = await connect();
  try {
    await send(Buffer.from('hello'));
    assert.equal(chunks[0].toString(), 'hello');
    const first = chunks[0];
    await send(Buffer.from('again'));
    assert.equal(first.toString(), 'hello', 'a chunk read into the own buffer is a copy: the next read does not change it');

    const memory = Buffer.alloc(1024);
    assert.equal(
      setReadTarget(socket, () => memory.subarray(100)),
      true,
    );
    await send(Buffer.from('x')); // this read was already waiting on the own buffer
    await send(Buffer.from('in place'));
    const last = chunks.at(-1)!;
    assert.equal(last.toString(), 'in place');
    assert.equal(last.buffer, memory.buffer, 'read into the named memory');
    assert.equal(last.byteOffset, memory.byteOffset + 100);
    assert.equal(memory.subarray(100, 108).toString(), 'in place');
  } finally {
    socket.destroy();
  }
});

test('memory a reader stops naming goes back once the read waiting on it has come, and that read is a copy', async () => {
  const { socket, chunks, send } = await connect();
  try {
    const memory = Buffer.alloc(1024);
    setReadTarget(socket, () => memory);
    await send(Buffer.from('a')); // the next read now waits on `memory`
    let released = 0;
    stopReadTarget(socket, () => released++);
    assert.equal(released, 0, 'a read is still waiting on the memory');
    await send(Buffer.from('late bytes'));
    assert.equal(released, 1, 'given back once the read came');
    const late = chunks.at(-1)!;
    assert.equal(late.toString(), 'late bytes');
    assert.notEqual(late.buffer, memory.buffer, 'handed on as a copy: the memory is no longer the reader’s');
    // Reads go to the own buffer now: the memory is never written again.
    memory.fill(7);
    await send(Buffer.from('more'));
    assert.ok(memory.every((b) => b === 7));
    // Nothing waits on the reader's memory any more: given back at once.
    setReadTarget(socket, () => null);
    await send(Buffer.from('b'));
    stopReadTarget(socket, () => released++);
    assert.equal(released, 2);
  } finally {
    socket.destroy();
  }
});

test('memory a reader stops naming goes back when the socket closes, if no read came first', async () => {
  const { socket, server, send } = await connect();
  const memory = Buffer.alloc(1024);
  setReadTarget(socket, () => memory);
  await send(Buffer.from('a'));
  let released = 0;
  stopReadTarget(socket, () => released++);
  assert.equal(released, 0);
  const closed = new Promise((resolve) => socket.once('close', resolve));
  server.destroy();
  await closed;
  assert.equal(released, 1);
});

test('a socket that is not a direct one is left alone, and its reader gives memory back at once', () => {
  const plain = new net.Socket();
  assert.equal(
    setReadTarget(plain, () => Buffer.alloc(10)),
    false,
  );
  let released = 0;
  stopReadTarget(plain, () => released++);
  assert.equal(released, 1);
});
