// The JSON routes (DESIGN.md "HTTP API"), /metrics and /healthz. Handlers only translate: the job control does the work.
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

export function registerApiRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.get('/api/status', { schema: routeSchemas.apiStatus }, async () => ({ ...deps.snapshot(), streams: deps.streams() }));

  app.post('/api/jobs', { schema: routeSchemas.apiStartJob }, async (request, reply) => {
    const { command, keyspace, shard, options } = request.body as StartJobBody;
    await startJob(deps, { command, keyspace, shard, options: options ?? {} });
    return reply.code(202).send({ status: '/status', statusUrl: '/api/status' });
  });

  app.post('/api/cancel', { schema: routeSchemas.apiCancel }, async (_request, reply) => {
    if (!deps.jobs.cancel()) return reply.code(409).send({ error: 'no job is running' });
    return { canceled: true };
  });

  app.post('/api/reset', { schema: routeSchemas.apiReset }, async () => {
    deps.snapshot(); // lets the metrics count a job that ended in error before it is cleared
    deps.jobs.reset();
    return { reset: true };
  });

  app.get('/metrics', { schema: routeSchemas.metrics }, async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });

  app.get('/healthz', { schema: routeSchemas.healthz }, async () => ({ ok: true }));
}
