// Connections to sandbox instances (root over loopback TCP, empty password, through src/mysql) and port checks.

import net from 'node:net';
import { type AdminConnection, openAdminConnection, withAdminConnection } from '../mysql/admin-connection.ts';

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

const adminEndpoint = (instance: Endpoint, options: ConnectOptions) => ({
  host: instance.host ?? SANDBOX_HOST,
  port: instance.port,
  user: SANDBOX_USER,
  database: options.database,
  connectTimeoutMs: options.connectTimeoutMs,
});

/** A root connection over TCP (mysql/admin-connection.ts: multipleStatements on); the caller ends it. */
export async function connect(instance: Endpoint, options: ConnectOptions = {}): Promise<AdminConnection> {
  return openAdminConnection(adminEndpoint(instance, options));
}

/** Runs `fn` on a fresh connection and always closes it. */
export async function withConnection<T>(instance: Endpoint, fn: (conn: AdminConnection) => Promise<T>, options: ConnectOptions = {}): Promise<T> {
  return withAdminConnection(adminEndpoint(instance, options), fn);
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
