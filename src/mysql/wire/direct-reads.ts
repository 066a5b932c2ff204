// Sockets to tablets whose reads land where their reader wants them. Node reads every chunk into a fresh 64 KiB
// buffer and pushes it through its stream machinery; the row framer then copied each chunk into its staging. With
// Node's `onread` option the socket reads into memory it is given: the framer's staging, right after the start
// of a packet the last read cut short, so a copy's rows are read in place. Whatever else arrives (handshakes, OK
// packets, column definitions) is read into the socket's own buffer and handed on as a copy, since mysql2 keeps
// views of what it is given.

import net from 'node:net';

/**
 * Where the next read may land, asked after every read: a view the reader will recognise in its next chunk, or
 * null for the socket's own buffer.
 */
export type ReadTarget = () => Buffer | null;

/** Bytes Node reads at most per chunk on its own. */
const OWN_BUFFER = 64 * 1024;

class DirectReads {
  readonly own = Buffer.allocUnsafe(OWN_BUFFER);
  target: ReadTarget | null = null;
  /** The reader's view that the next read will land in; null when it is the own buffer, and during a read's callback. */
  waiting: Buffer | null = null;
  /** Gives the reader's memory back once no read can land in `waiting` any more (see stopReadTarget). */
  release: (() => void) | null = null;

  next(): Buffer {
    this.waiting = this.target?.() ?? null;
    return this.waiting ?? this.own;
  }

  /** A read of `nread` bytes into `buf`: what to hand on. */
  landed(nread: number, buf: Buffer): Buffer {
    this.waiting = null;
    const release = this.release;
    if (buf !== this.own && release === null) return buf.subarray(0, nread);
    // The own buffer is read into again next time; a retired view is no longer the reader's. (Buffer.from of a
    // Buffer copies byte by byte in JavaScript: after every hold of the framer, a whole read went through it.)
    const copy = Buffer.allocUnsafe(nread);
    buf.copy(copy, 0, 0, nread);
    if (release) {
      this.release = null;
      release();
    }
    return copy;
  }

  closed(): void {
    const release = this.release;
    this.release = null;
    this.waiting = null;
    release?.();
  }
}

const states = new WeakMap<object, DirectReads>();

/**
 * A TCP connection for mysql2's `stream` option, set up as mysql2 sets up its own (no delay, keep-alive); its
 * chunks reach mysql2's listener as 'data' events.
 */
export function directSocket(host: string, port: number, keepAliveDelayMs = 0): net.Socket {
  const state = new DirectReads();
  const socket: net.Socket = net.connect({
    host,
    port,
    onread: {
      buffer: () => state.next(),
      callback: (nread: number, buf: Uint8Array) => {
        socket.emit('data', state.landed(nread, buf as Buffer));
        return true; // false would pause the socket: mysql2 and the framer pause it themselves
      },
    },
  });
  socket.setNoDelay(true);
  socket.once('connect', () => socket.setKeepAlive(true, keepAliveDelayMs));
  socket.once('close', () => state.closed());
  states.set(socket, state);
  return socket;
}

/**
 * Points `stream`'s next reads at `target`. False when `stream` is not a direct socket (a TLS one, say): it reads
 * into buffers of its own, and its reader copies.
 */
export function setReadTarget(stream: object, target: ReadTarget): boolean {
  const state = states.get(stream);
  if (!state) return false;
  state.target = target;
  return true;
}

/**
 * Back to the socket's own buffer; `release` runs once no read can land in the reader's memory: at once, or when
 * the read already waiting on it has come (its bytes then handed on as a copy) or the socket has closed. A reader
 * that stops mid-result (a failed or aborted scan) must not reuse that memory before.
 */
export function stopReadTarget(stream: object, release: () => void): void {
  const state = states.get(stream);
  if (state) state.target = null;
  if (!state?.waiting) {
    release();
    return;
  }
  const earlier = state.release;
  state.release = earlier ? () => (earlier(), release()) : release;
}
