// The watchers of bench/watch-cost.ts, in a process of their own on the same machine: `clients` clients, each from
// an address of its own on loopback (127.0.0.10 and up), together asking `rate` requests a second of /status,
// /api/status and /metrics in turn, over keep-alive connections. Runs until SIGTERM, then prints one JSON line:
// requests sent, answered 200, 429, failed, and latency percentiles.
//
// usage: node --import tsx/esm bench/watch-load.ts URL|- RATE CLIENTS
// With `-`, it starts, prints `ready`, and waits for the URL on stdin: bench/watch-cost.ts starts it before the job,
// so that its own start-up (Node and tsx, about half a CPU-second) is not counted as what watching costs.

import http from 'node:http';
import { createInterface } from 'node:readline';

const [base, rateArg, clientsArg] = process.argv.slice(2);
const rate = Number(rateArg ?? 500);
const clients = Number(clientsArg ?? 20);

/** The daemon's URL: the argument, or the first line on stdin after `ready`. */
async function daemonUrl(): Promise<URL> {
  if (base !== '-') return new URL(base);
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    lines.close();
    return new URL(line.trim());
  }
  throw new Error('stdin ended before the URL came');
}
const url = await daemonUrl();
const PATHS = ['/status', '/api/status', '/metrics'];
const counts = { sent: 0, ok: 0, tooMany: 0, other: 0, failed: 0 };
const latencies: number[] = [];
const started = performance.now();
let stopping = false;

const agents = Array.from(
  { length: clients },
  (_, i) => new http.Agent({ keepAlive: true, maxSockets: 4, localAddress: `127.0.0.${10 + i}` } as http.AgentOptions),
);

function ask(i: number): void {
  const path = PATHS[counts.sent % PATHS.length];
  counts.sent++;
  const t0 = performance.now();
  const req = http.get({ host: url.hostname, port: url.port, path, agent: agents[i % clients] }, (res) => {
    res.resume();
    res.on('end', () => {
      latencies.push(performance.now() - t0);
      if (res.statusCode === 200) counts.ok++;
      else if (res.statusCode === 429) counts.tooMany++;
      else counts.other++;
    });
  });
  req.on('error', () => counts.failed++);
}

// Every 10 ms, the requests due by now (spread over the clients in turn).
let due = 0;
let next = 0;
const timer = setInterval(() => {
  if (stopping) return;
  due = ((performance.now() - started) / 1000) * rate;
  while (next < due) ask(next++);
}, 10);

function percentile(p: number): number {
  if (!latencies.length) return 0;
  const sorted = [...latencies].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]);
}

process.on('SIGTERM', () => {
  stopping = true;
  clearInterval(timer);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    JSON.stringify({
      ...counts,
      seconds: Math.round(seconds * 10) / 10,
      perSecond: Math.round(counts.sent / seconds),
      p50Ms: percentile(0.5),
      p99Ms: percentile(0.99),
    }) + '\n',
  );
  for (const a of agents) a.destroy();
  process.exit(0);
});
