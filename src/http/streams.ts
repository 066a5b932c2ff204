// The streams on the HTTP side (DESIGN.md "Filtered replication", Watching and control): `POST /api/streams/stop`
// and `/start`, and the per-stream metrics; the streams table on /status is stream-view.ts's. Forwards only: the
// stream manager does the work.

import type { FastifyInstance } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import type { StreamSnapshot } from '../stream/status.ts';
import { RequestError } from './request-error.ts';

/** What the app needs of the daemon's streams. */
export interface StreamControl {
  snapshot(): StreamSnapshot[];
  stop(keyspace: string, shard: string): Promise<StreamSnapshot[]>;
  start(keyspace: string, shard: string): Promise<StreamSnapshot[]>;
}

const targetBody = {
  type: 'object',
  additionalProperties: false,
  required: ['keyspace', 'shard'],
  properties: { keyspace: { type: 'string', minLength: 1 }, shard: { type: 'string', minLength: 1 } },
} as const;

const streamsReply = { type: 'object', properties: { streams: { type: 'array', items: { type: 'object', additionalProperties: true } } } } as const;
const errorReply = { type: 'object', properties: { error: { type: 'string' }, field: { type: 'string' } } } as const;

export function registerStreamRoutes(app: FastifyInstance, streams: StreamControl | undefined): void {
  const route = (action: 'stop' | 'start') =>
    app.post(
      `/api/streams/${action}`,
      {
        schema: {
          summary: `${action} the streams feeding a destination shard (DontStart kept in their checkpoint rows)`,
          body: targetBody,
          response: { 200: streamsReply, 404: errorReply, 409: errorReply },
        },
      },
      async (request) => {
        if (!streams) throw new RequestError(404, 'this process runs no streams (they run under `shardworker serve`)');
        const { keyspace, shard } = request.body as { keyspace: string; shard: string };
        try {
          return { streams: await streams[action](keyspace, shard) };
        } catch (err) {
          if (err instanceof Error && err.name === 'UnknownStreamError') throw new RequestError(404, err.message);
          // Another daemon runs the stream (holds its lock): the message names it.
          if (err instanceof Error && err.name === 'StreamOwnedElsewhereError') throw new RequestError(409, err.message);
          // A job (a diff) holds the stream stopped until it ends: the message names the job.
          if (err instanceof Error && err.name === 'StreamHeldError') throw new RequestError(409, err.message);
          throw err;
        }
      },
    );
  route('stop');
  route('start');
}

/** Per-stream gauges, read from the streams' snapshots when scraped. */
export function registerStreamMetrics(registry: Registry, snapshot: () => StreamSnapshot[]): void {
  const labels = (s: StreamSnapshot) => ({ destination: `${s.keyspace}/${s.shard}`, source: s.source });
  const gauge = (name: string, help: string, value: (s: StreamSnapshot) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['destination', 'source'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of snapshot()) {
          const v = value(s);
          if (v !== null) this.set(labels(s), v);
        }
      },
    });
  gauge('shardworker_stream_running', 'Whether the stream runs (1) or is stopped or in error (0)', (s) => (s.state === 'running' ? 1 : 0));
  gauge('shardworker_stream_seconds_behind', 'Now minus the source commit time of the last applied transaction; 0 when caught up', (s) => s.secondsBehind);
  gauge('shardworker_stream_transactions_applied_total', 'Source transactions the stream applied since the daemon started', (s) => s.transactionsApplied);
  gauge('shardworker_stream_rows_applied_total', 'Row changes the stream applied since the daemon started', (s) => s.rowsApplied);
  gauge('shardworker_stream_errors_total', 'Times the stream stopped in error since the daemon started', (s) => s.errors);
  gauge('shardworker_stream_retries_total', 'Transient failures the stream resumed from since the daemon started', (s) => s.retries);
}
