// Connections to sandbox instances (root over loopback TCP, empty password) and port checks.

import net from 'node:net';
import mysql from 'mysql2/promise';

export const SANDBOX_HOST = '127.0.0.1';
export const SANDBOX_USER = 'root';

/** Anything with a port on loopback: an Instance, a RunningInstance, a topology tablet. */
export interface Endpoint {
  port: number;
  host?: string;
}

export interface ConnectOptions {
  database?: string;
  connectTimeoutMs?: number;
}

/** A root connection over TCP with multipleStatements on; the caller ends it. */
export async function connect(instance: Endpoint, options: ConnectOptions = {}): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: instance.host ?? SANDBOX_HOST,
    port: instance.port,
    user: SANDBOX_USER,
    password: '',
    database: options.database,
    multipleStatements: true,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    // Sandbox data has BIGINT UNSIGNED keyspace ids above 2^53: never round them through a JS number.
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    charset: 'utf8mb4_general_ci',
  });
}

/** Runs `fn` on a fresh connection and always closes it. */
export async function withConnection<T>(
  instance: Endpoint,
  fn: (conn: mysql.Connection) => Promise<T>,
  options: ConnectOptions = {},
): Promise<T> {
  const conn = await connect(instance, options);
  try {
    return await fn(conn);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

/** True when something accepts TCP connections on host:port. */
export function portInUse(port: number, host = SANDBOX_HOST, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (inUse: boolean): void => {
      socket.destroy();
      resolve(inUse);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** True when we could bind host:port ourselves right now. */
function portBindable(port: number, host = SANDBOX_HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * First base port >= `start` (stepping by `step`) where `count` consecutive ports are all free:
 * lets tests pick a block that does not collide with a sandbox someone else is running.
 */
export async function findFreePortBlock(start: number, count: number, step = 10, attempts = 50): Promise<number> {
  for (let i = 0; i < attempts; i++) {
    const base = start + i * step;
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await portBindable(p);
    if (free) return base;
  }
  throw new Error(`no block of ${count} free ports found from ${start} (step ${step}, ${attempts} tries)`);
}
