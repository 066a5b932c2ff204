// The JSON routes (docs/http-api.md), /metrics and /healthz. Handlers only translate: the job control does the work.
// Errors thrown here (OptionError, UnknownTargetError, JobConflictError, schema failures) become
// `{ error, field }` replies in app.ts's error handler.

import type { FastifyInstance } from 'fastify';
import type { CommandName } from '../worker/status.ts';
import { routeSchemas } from './schemas.ts';
import { startJob } from './start-job.ts';
import type { RouteDeps } from './app.ts';

interface StartJobBody {
  command: CommandName;
  keyspace: string;
  shard: string;
  options?: Record<string, unknown>;
}

/** How old the /metrics text served may be (ms), unless snapshots are taken per request (statusMaxAgeMs 0). */
export const METRICS_MAX_AGE_MS = 1000;

export function registerApiRoutes(app: FastifyInstance, deps: RouteDeps): void {
  // Serialised once per snapshot, by the route's own serializer (the schema's shape), whoever asks.
  app.get('/api/status', { schema: routeSchemas.apiStatus }, async (_request, reply) => {
    deps.snapshot(); // seen by the metrics
    const text = deps.made('json', (s) => reply.serialize(s) as string);
    return reply.type('application/json; charset=utf-8').send(text);
  });

  app.post('/api/jobs', { schema: routeSchemas.apiStartJob }, async (request, reply) => {
    const { command, keyspace, shard, options } = request.body as StartJobBody;
    await startJob(deps, { command, keyspace, shard, options: options ?? {} });
    return reply.code(202).send({ status: '/status', statusUrl: '/api/status' });
  });

  app.post('/api/cancel', { schema: routeSchemas.apiCancel }, async (_request, reply) => {
    if (!deps.jobs.cancel()) return reply.code(409).send({ error: 'no job is running' });
    return { canceled: true };
  });

  // Live control (docs/http-api.md "Pause, resume, tune"): 409 when no copy or diff runs.
  app.post('/api/pause', { schema: routeSchemas.apiPause }, async () => ({ paused: true, changed: deps.jobs.pause() }));
  app.post('/api/resume', { schema: routeSchemas.apiResume }, async () => ({ paused: false, changed: deps.jobs.resume() }));
  app.post('/api/tune', { schema: routeSchemas.apiTune }, async (request) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    deps.jobs.tune(body);
    const control = deps.jobs.snapshot().control;
    return { maxTps: control?.maxTps ?? 0, maxReplicationLagSeconds: control?.maxReplicationLagSeconds ?? 0 };
  });

  app.post('/api/reset', { schema: routeSchemas.apiReset }, async () => {
    deps.snapshot(); // lets the metrics count a job that ended in error before it is cleared
    deps.jobs.reset();
    return { reset: true };
  });

  // The text is kept for METRICS_MAX_AGE_MS: a scrape every few seconds, however many scrapers, costs one rendering.
  let metricsText: { at: number; text: Promise<string> } | null = null;
  app.get('/metrics', { schema: routeSchemas.metrics }, async (_request, reply) => {
    const now = Date.now();
    if (!metricsText || now - metricsText.at >= deps.metricsMaxAgeMs) {
      deps.snapshot(); // seen by the metrics
      metricsText = { at: now, text: deps.made('metrics', () => deps.metrics.registry.metrics()) };
    }
    return reply.type(deps.metrics.registry.contentType).send(await metricsText.text);
  });

  app.get('/healthz', { schema: routeSchemas.healthz }, async () => ({ ok: true }));
}
