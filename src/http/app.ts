// The Fastify app: pages for people, JSON for machines, both from one status snapshot (docs/http-api.md).
// It never listens: the CLI does (the process apart from the app); tests call buildApp and app.inject.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyView from '@fastify/view';
import { Eta } from 'eta';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { JobConflictError, type JobControl } from '../worker/job-control.ts';
import { OptionError } from '../worker/options.ts';
import type { Topology } from '../topology/types.ts';
import { METRICS_MAX_AGE_MS, registerApiRoutes } from './api.ts';
import { NO_AUTH, registerAuth, type AuthOptions, type PageAuth } from './auth.ts';
import { checkApiTakesJson, checkSameOrigin } from './guards.ts';
import { registerClientLimits, type ClientLimitOptions } from './client-limits.ts';
import { BODY_LIMIT, parseJsonBody } from './json-body.ts';
import { createMetrics, type AppMetrics } from './metrics.ts';
import { DEFAULT_STATUS_MAX_AGE_MS, invalidatingJobs, StatusCache, type WatchedStatus } from './status-cache.ts';
import { registerPageRoutes } from './pages.ts';
import { RequestError } from './request-error.ts';
import { SchemaError, formatSchemaErrors } from './schemas.ts';
import { UnknownTargetError, parseForm } from './start-job.ts';
import { registerStreamMetrics, registerStreamRoutes, type StreamControl } from './streams.ts';
import { registerAssets } from './assets.ts';
import type { StreamSnapshot } from '../stream/status.ts';

/** views/ at the package's root, found from this module whether it runs from src/http or from the dist bundle. */
export const VIEWS_DIR = findViews(path.dirname(fileURLToPath(import.meta.url)));

function findViews(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'views'))) return path.join(dir, 'views') + path.sep;
    if (path.dirname(dir) === dir) throw new Error(`no views/ directory above ${from}`);
  }
}

export type { AuthOptions } from './auth.ts';

export interface AppOptions {
  jobs: JobControl;
  /** Read on each page and job start, so the pickers follow the topology file. */
  readTopology: () => Promise<Topology>;
  /** A pino logger for requests; false or unset logs nothing. */
  logger?: Logger | false;
  /** Where /metrics registers its metrics; a new Registry of the app's own by default (never the global one). */
  metrics?: Registry;
  /** --auth-token-file (and --public-status): without it nothing asks for a token (the CLI keeps it to loopback). */
  auth?: AuthOptions;
  /** How old a served status snapshot may be (ms); 0 takes one per request. Default DEFAULT_STATUS_MAX_AGE_MS. */
  statusMaxAgeMs?: number;
  /** The daemon's streams (`serve`); none under `run`. */
  streams?: StreamControl;
  /** What one client address may ask (client-limits.ts); false turns the limits off. Default ClientLimitOptions'. */
  clientLimits?: ClientLimitOptions | false;
}

/** What the route modules get. */
export interface RouteDeps {
  jobs: JobControl;
  readTopology: () => Promise<Topology>;
  metrics: AppMetrics;
  /** The job's status with the streams', at most statusMaxAgeMs old (and seen by the metrics). */
  snapshot(): WatchedStatus;
  /** What is made from the snapshot (JSON text, a page, the metrics text), made once per snapshot and key. */
  made<T>(key: string, make: (snapshot: WatchedStatus) => T): T;
  /** The CSRF token and login state a page prints. */
  pageAuth(request: FastifyRequest): PageAuth;
  /** The streams' snapshots, taken with the job's (none without a stream manager). */
  streams(): StreamSnapshot[];
  /** How old the /metrics text may be (api.ts METRICS_MAX_AGE_MS; 0 with statusMaxAgeMs 0). */
  metricsMaxAgeMs: number;
}

const KiB = 1024;

/** The clear message of an error Fastify raises itself, or null for one it does not. */
function frameworkMessage(err: FastifyError, request: FastifyRequest): string | null {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `the body is larger than the ${BODY_LIMIT / KiB} KiB this server takes`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `unsupported content type ${JSON.stringify(request.headers['content-type'] ?? '')}: send application/json (or a form)`;
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'the Content-Length header does not match the body';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'the body is not valid JSON';
    case 'FST_ERR_BAD_URL':
      return `the URL ${JSON.stringify(request.url.slice(0, 200))} is not valid`;
    default:
      return null;
  }
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: BODY_LIMIT,
    schemaErrorFormatter: formatSchemaErrors,
    // JSON bodies are taken as sent: no type coercion, and an unknown field is an error rather than dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    // Errors Fastify meets before routing (a malformed URL) get the same `{ error }` shape as the rest.
    frameworkErrors: (err, request, reply) => {
      const plain = reply as unknown as FastifyReply; // typed for route generics that do not apply before routing
      void plain.code(err.statusCode ?? 400).send({ error: frameworkMessage(err, request as FastifyRequest) ?? err.message });
    },
  }) as unknown as FastifyInstance; // typed with the default logger, whichever logger was given

  const { readTopology } = options;
  // The job's status and the streams', taken together at most every statusMaxAgeMs (see status-cache.ts).
  const cache = new StatusCache(
    () => ({ ...options.jobs.snapshot(), streams: options.streams?.snapshot() ?? [] }),
    options.statusMaxAgeMs ?? DEFAULT_STATUS_MAX_AGE_MS,
  );
  const jobs = invalidatingJobs(options.jobs, cache);
  const metrics = createMetrics(() => cache.snapshot(), options.metrics);
  const streamSnapshots = (): StreamSnapshot[] => cache.snapshot().streams;
  registerStreamMetrics(metrics.registry, streamSnapshots);

  // Bodies the daemon understands: JSON (the API) and urlencoded (the forms). text/plain is dropped on purpose:
  // it is what a cross-site form can send without asking, and nothing here takes it.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      // An empty body is no body, so `curl -X POST -H 'content-type: application/json' …/api/cancel` works.
      done(null, (body as string).trim() === '' ? undefined : parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, parseForm(body as string));
  });

  // Every view links the stylesheet (and /status its script) by the URLs of their current content.
  const assets = registerAssets(app, VIEWS_DIR);
  await app.register(fastifyView, { engine: { eta: new Eta() }, root: VIEWS_DIR, production: true, defaultContext: { assets } });

  // First of all: what one client may ask (a flood is refused before it costs anything else).
  if (options.clientLimits !== false) registerClientLimits(app, options.clientLimits ?? {});
  // Before the body is read: a cross-site browser request, then a missing token, then a body the API cannot take.
  app.addHook('onRequest', async (request) => checkSameOrigin(request));
  const auth = options.auth ? registerAuth(app, options.auth) : null;
  app.addHook('onRequest', async (request) => checkApiTakesJson(request));

  app.setErrorHandler((err: FastifyError, request, reply: FastifyReply) => {
    if (err instanceof RequestError) return reply.code(err.statusCode).send(err.field ? { error: err.message, field: err.field } : { error: err.message });
    if (err instanceof SchemaError) return reply.code(400).send({ error: err.message, field: err.field });
    if (err instanceof OptionError || err instanceof UnknownTargetError) return reply.code(400).send({ error: err.message, field: err.field });
    if (err instanceof JobConflictError) {
      const { holder } = err as unknown as JobConflictError; // FastifyError's type hides the narrowing
      return reply.code(409).send(holder ? { error: err.message, holder } : { error: err.message });
    }
    if (err.validation) return reply.code(400).send({ error: err.message, field: err.validationContext ?? 'body' });
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err }, 'request failed');
      return reply.code(status).send({ error: `internal error: ${err.message}` });
    }
    const known = frameworkMessage(err, request);
    if (known === null) return reply.code(status).send({ error: err.message });
    return reply.code(status).send(known.startsWith('the body') ? { error: known, field: 'body' } : { error: known });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no route ${request.method} ${request.url}` }));

  const deps: RouteDeps = {
    jobs,
    readTopology,
    metrics,
    snapshot() {
      const s = cache.snapshot();
      metrics.observe(s);
      return s;
    },
    made: (key, make) => cache.made(key, make),
    pageAuth: (request) => (auth ? auth.pageAuth(request) : NO_AUTH),
    streams: streamSnapshots,
    metricsMaxAgeMs: options.statusMaxAgeMs === 0 ? 0 : METRICS_MAX_AGE_MS,
  };
  registerPageRoutes(app, deps);
  registerApiRoutes(app, deps);
  registerStreamRoutes(app, options.streams);
  return app;
}
