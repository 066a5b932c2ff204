// The Fastify app: pages for people, JSON for machines, both from one status snapshot (DESIGN.md "HTTP API").
// It never listens: the CLI does (the process apart from the app); tests call buildApp and app.inject.

import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import fastifyView from '@fastify/view';
import { Eta } from 'eta';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { JobConflictError, type JobControl } from '../worker/job-control.ts';
import { OptionError } from '../worker/options.ts';
import type { StatusSnapshot } from '../worker/status.ts';
import type { Topology } from '../topology/types.ts';
import { registerApiRoutes } from './api.ts';
import { createMetrics, type AppMetrics } from './metrics.ts';
import { registerPageRoutes } from './pages.ts';
import { SchemaError, formatSchemaErrors } from './schemas.ts';
import { UnknownTargetError, parseForm } from './start-job.ts';

export const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

export interface AppOptions {
  jobs: JobControl;
  /** Read on each page and job start, so the pickers follow the topology file. */
  readTopology: () => Promise<Topology>;
  /** A pino logger for requests; false or unset logs nothing. */
  logger?: Logger | false;
  /** Where /metrics registers its metrics; a new Registry of the app's own by default (never the global one). */
  metrics?: Registry;
}

/** What the route modules get. */
export interface RouteDeps {
  jobs: JobControl;
  readTopology: () => Promise<Topology>;
  metrics: AppMetrics;
  /** The job's status at this instant (and seen by the metrics). */
  snapshot(): StatusSnapshot;
}

const FORM_BODY_LIMIT = 64 * 1024;

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    schemaErrorFormatter: formatSchemaErrors,
    // JSON bodies are taken as sent: no type coercion, and an unknown field is an error rather than dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  }) as unknown as FastifyInstance; // typed with the default logger, whichever logger was given

  const { jobs, readTopology } = options;
  const metrics = createMetrics(() => jobs.snapshot(), options.metrics);
  const deps: RouteDeps = {
    jobs,
    readTopology,
    metrics,
    snapshot() {
      const s = jobs.snapshot();
      metrics.observe(s);
      return s;
    },
  };

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_request, body, done) => {
    done(null, parseForm(body as string));
  });

  await app.register(fastifyView, { engine: { eta: new Eta() }, root: VIEWS_DIR });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof SchemaError) return reply.code(400).send({ error: err.message, field: err.field });
    if (err instanceof OptionError || err instanceof UnknownTargetError) return reply.code(400).send({ error: err.message, field: err.field });
    if (err instanceof JobConflictError) return reply.code(409).send({ error: err.message });
    if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return reply.code(400).send({ error: 'the body is not valid JSON', field: 'body' });
    if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return reply.code(400).send({ error: 'the body is empty; expected a JSON object', field: 'body' });
    if (err.validation) return reply.code(400).send({ error: err.message, field: err.validationContext ?? 'body' });
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err }, 'request failed');
      return reply.code(status).send({ error: `internal error: ${err.message}` });
    }
    return reply.code(status).send({ error: err.message });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no route ${request.method} ${request.url}` }));

  registerPageRoutes(app, deps);
  registerApiRoutes(app, deps);
  return app;
}
