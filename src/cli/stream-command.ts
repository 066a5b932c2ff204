// `serve`'s stream options, and `shardworker stream start|stop|status [keyspace/shard]`: a client of the running
// daemon's HTTP API (POST /api/streams/stop|start, GET /api/status) at --host/--port, with --auth-token-file's token,
// so it goes through the same access control as every other change and acts on the streams the daemon runs.

import { TABLET_TYPES, type TabletType } from '../topology/types.ts';
import type { OnDdl } from '../stream/stream.ts';
import type { StreamSnapshot } from '../stream/status.ts';
import { UsageError, type GlobalFlags } from './args.ts';
import { DaemonClient } from './daemon-client.ts';

export interface ServeOptions {
  streamTabletType: TabletType;
  onDdl: OnDdl;
}

const STREAM_TABLET_TYPES: readonly TabletType[] = ['replica', 'rdonly', 'primary'];

/** `serve [--stream-tablet-type replica|rdonly|primary] [--on-ddl stop|exec]`. */
export function parseServeOptions(rest: readonly string[]): ServeOptions {
  const options: ServeOptions = { streamTabletType: 'replica', onDdl: 'stop' };
  const list = rest.flatMap((a) => (a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a]));
  for (let i = 0; i < list.length; i++) {
    const flag = list[i];
    const value = list[i + 1];
    if (flag === '--stream-tablet-type') {
      if (!STREAM_TABLET_TYPES.includes(value as TabletType) || !TABLET_TYPES.includes(value as TabletType))
        throw new UsageError(`--stream-tablet-type: expected ${STREAM_TABLET_TYPES.join(', ')}, got ${JSON.stringify(value ?? '')}`);
      options.streamTabletType = value as TabletType;
    } else if (flag === '--on-ddl') {
      if (value !== 'stop' && value !== 'exec') throw new UsageError(`--on-ddl: expected stop or exec, got ${JSON.stringify(value ?? '')}`);
      options.onDdl = value;
    } else {
      throw new UsageError(flag.startsWith('-') ? `unknown flag ${flag} for serve` : `serve takes no arguments, got ${flag}`);
    }
    i++;
  }
  return options;
}

/** `stream start|stop|status [keyspace/shard]`: prints one line per stream; exit 1 if any named stream is in error. */
export async function streamCommand(globals: GlobalFlags, rest: readonly string[]): Promise<number> {
  const [action, target, ...extra] = rest;
  if (action !== 'start' && action !== 'stop' && action !== 'status')
    throw new UsageError(`stream needs start, stop or status, got ${JSON.stringify(action ?? '')}`);
  if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  let keyspace: string | undefined;
  let shard: string | undefined;
  if (target !== undefined) {
    const slash = target.indexOf('/');
    if (slash <= 0 || slash === target.length - 1) throw new UsageError(`expected keyspace/shard, got ${JSON.stringify(target)}`);
    keyspace = target.slice(0, slash);
    shard = target.slice(slash + 1);
  } else if (action !== 'status') {
    throw new UsageError(`stream ${action} needs the destination keyspace/shard`);
  }
  const client = await DaemonClient.of(globals);
  let streams: StreamSnapshot[];
  if (action === 'status') {
    streams = (await client.get<{ streams?: StreamSnapshot[] }>('/api/status')).streams ?? [];
    if (keyspace !== undefined) streams = streams.filter((s) => s.keyspace === keyspace && s.shard === shard);
  } else {
    streams = (await client.post<{ streams?: StreamSnapshot[] }>(`/api/streams/${action}`, { keyspace, shard })).streams ?? [];
  }
  if (streams.length === 0) process.stdout.write(keyspace === undefined ? 'no streams\n' : `no streams feed ${keyspace}/${shard}\n`);
  for (const s of streams) process.stdout.write(streamLine(s) + '\n');
  return streams.some((s) => s.state === 'error') ? 1 : 0;
}

export function streamLine(s: StreamSnapshot): string {
  const behind = s.secondsBehind === null ? '?' : `${s.secondsBehind}s`;
  const error = s.lastError ? `  error: ${s.lastError}` : '';
  const owner = s.owner ? `  owner pid ${s.owner.pid} on ${s.owner.host}` : '';
  return `${s.keyspace}/${s.shard} <- ${s.source}  ${s.state}${owner}  position ${s.position ?? '?'}  behind ${behind}  ${s.transactionsApplied} transactions, ${s.rowsApplied} rows, ${s.rowsPerSecond} rows/s${error}`;
}
