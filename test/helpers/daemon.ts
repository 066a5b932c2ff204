// A real `shardworker serve` process for the tests: started with the command line given, its URL read from the
// "listening on" line it logs, and its JSON API called over HTTP.

import { spawn, type ChildProcess } from 'node:child_process';

export const BIN = new URL('../../bin/shardworker.js', import.meta.url).pathname;

export interface Daemon {
  proc: ChildProcess;
  url: string;
  exited: Promise<number | null>;
  /** What it logged (pino JSON on stdout) so far. */
  log: () => string;
}

/** Spawns `shardworker ARGS` and resolves once it listens (rejects, with what it printed, if it exits first). */
export async function startDaemon(args: readonly string[]): Promise<Daemon> {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    proc.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]);
    });
    void exited.then(() => reject(new Error(`serve exited: ${err}`)));
  });
  return { proc, url, exited, log: () => log };
}

/** One JSON API call. */
export async function api(d: Daemon, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(d.url + path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
