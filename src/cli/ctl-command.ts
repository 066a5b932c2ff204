// `shardworker ctl pause|resume|tune|status`: the running job's live control, through the daemon's HTTP API
// (POST /api/pause, /api/resume, /api/tune; GET /api/status) with --auth-token-file's token, so the same access
// control applies as to the status page's buttons.

import type { StatusSnapshot } from '../worker/status.ts';
import { UsageError, type GlobalFlags } from './args.ts';
import { DaemonClient } from './daemon-client.ts';

/** `ctl tune [--max-tps N] [--max-replication-lag DURATION]` → the /api/tune body. */
export function parseTuneArgs(rest: readonly string[]): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const list = rest.flatMap((a) => (a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a]));
  for (let i = 0; i < list.length; i += 2) {
    const [flag, value] = [list[i], list[i + 1]];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    if (flag === '--max-tps') {
      if (!/^\d+$/.test(value)) throw new UsageError(`--max-tps: expected a non-negative integer (0: unlimited), got ${JSON.stringify(value)}`);
      body.maxTps = Number(value);
    } else if (flag === '--max-replication-lag') {
      body.maxReplicationLag = value;
    } else {
      throw new UsageError(
        flag.startsWith('-') ? `unknown flag ${flag} for ctl tune (known: --max-tps, --max-replication-lag)` : `unexpected argument ${JSON.stringify(flag)}`,
      );
    }
  }
  if (Object.keys(body).length === 0) throw new UsageError('ctl tune needs --max-tps and/or --max-replication-lag');
  return body;
}

/** The job's control as `ctl status` prints it: one line, then one per destination replica. */
export function controlLines(s: StatusSnapshot): string[] {
  if (!s.job) return ['no job'];
  const head = `${s.job.command} ${s.job.keyspace}/${s.job.shard}: ${s.state}`;
  const c = s.control;
  if (!c) return [head];
  const writes = c.paused ? `paused since ${c.pausedSince}` : c.throttled ? `throttled since ${c.throttledSince}: ${c.throttleReason}` : 'writing';
  const lines = [
    `${head}; ${writes}; throttled ${c.throttledSecondsTotal.toFixed(1)} s in all, paused ${c.pausedSecondsTotal.toFixed(1)} s; max tps ${c.maxTps || 'unlimited'}, max replication lag ${c.maxReplicationLagSeconds ? `${c.maxReplicationLagSeconds}s` : 'none'}; ${Math.round(s.totals.rowsPerSecond)} rows/s`,
  ];
  if (c.paused && c.holding) lines.push(`holding ${c.holding}`);
  for (const r of c.replicas)
    lines.push(
      `replica ${r.tablet} (${r.shard}) ${r.lagSeconds === null ? `lag unknown${r.error ? `: ${r.error}` : ''}` : `${r.lagSeconds.toFixed(1)}s behind`}`,
    );
  return lines;
}

export async function ctlCommand(globals: GlobalFlags, rest: readonly string[]): Promise<number> {
  const [action, ...args] = rest;
  if (action !== 'pause' && action !== 'resume' && action !== 'tune' && action !== 'status')
    throw new UsageError(`ctl needs pause, resume, tune or status, got ${JSON.stringify(action ?? '')}`);
  if (action !== 'tune' && args.length) throw new UsageError(`ctl ${action} takes no arguments, got ${JSON.stringify(args[0])}`);
  const body = action === 'tune' ? parseTuneArgs(args) : null;
  const client = await DaemonClient.of(globals);
  let out: string[];
  switch (action) {
    case 'pause': {
      const r = await client.post<{ changed: boolean }>('/api/pause');
      out = [r.changed ? 'paused' : 'already paused'];
      break;
    }
    case 'resume': {
      const r = await client.post<{ changed: boolean }>('/api/resume');
      out = [r.changed ? 'resumed' : 'was not paused'];
      break;
    }
    case 'tune': {
      const r = await client.post<{ maxTps: number; maxReplicationLagSeconds: number }>('/api/tune', body);
      out = [`tuned: max tps ${r.maxTps || 'unlimited'}, max replication lag ${r.maxReplicationLagSeconds ? `${r.maxReplicationLagSeconds}s` : 'none'}`];
      break;
    }
    case 'status':
      out = controlLines(await client.get<StatusSnapshot>('/api/status'));
      break;
  }
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
