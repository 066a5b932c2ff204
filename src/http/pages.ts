// The HTML routes: the index with its forms, the status page (and GET /api/status/view, the view it renders from,
// which its script polls), and the plain forms that cancel and reset. Templates live in views/; the data they print
// comes from view-models.ts.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { JobConflictError } from '../worker/job-control.ts';
import { OptionError } from '../worker/options.ts';
import type { Topology } from '../topology/types.ts';
import { routeSchemas, SchemaError } from './schemas.ts';
import { UnknownTargetError, optionValuesOf, requestFromForm, startJob } from './start-job.ts';
import { EMPTY_ROW, indexView, statusView, type StatusView, type Submission } from './view-models.ts';
import type { RouteDeps } from './app.ts';
import type { WatchedStatus } from './status-cache.ts';
import { EMPTY_STREAM_ROW } from './stream-view.ts';

/** The status page's view of a snapshot, and the JSON of it: made once per snapshot for the page and the route. */
interface MadeView {
  view: StatusView;
  json: string;
}

function makeView(s: WatchedStatus): MadeView {
  const view = statusView(s);
  return { view, json: JSON.stringify(view) };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function registerPageRoutes(app: FastifyInstance, deps: RouteDeps): void {
  async function renderIndex(request: FastifyRequest, reply: FastifyReply, code: number, submission: Submission | null): Promise<string> {
    let topology: Topology | null = null;
    let topologyError: string | null = null;
    try {
      topology = await deps.readTopology();
    } catch (err) {
      topologyError = `cannot read the topology: ${messageOf(err)}`;
      reply.log.warn({ err }, 'cannot read the topology');
    }
    reply.code(code);
    return reply.viewAsync('index.eta', { ...indexView(deps.snapshot(), topology, topologyError, submission), auth: deps.pageAuth(request) });
  }

  app.get('/', { schema: routeSchemas.index }, async (request, reply) => renderIndex(request, reply, 200, null));

  app.post('/jobs', { schema: routeSchemas.postJobForm, attachValidation: true }, async (request, reply) => {
    const form = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, string>;
    const fail = (code: number, error: string, field: string | null) =>
      renderIndex(request, reply, code, {
        command: typeof form.command === 'string' ? form.command : '',
        target: typeof form.target === 'string' ? form.target : '',
        values: optionValuesOf(form),
        error,
        field,
      });

    if (request.validationError) {
      const err = request.validationError;
      return fail(400, err.message, err instanceof SchemaError ? err.field : null);
    }
    try {
      await startJob(deps, requestFromForm(form));
    } catch (err) {
      if (err instanceof OptionError || err instanceof UnknownTargetError) return fail(400, err.message, err.field);
      if (err instanceof JobConflictError) return fail(409, err.message, null);
      reply.log.error({ err }, 'cannot start the job');
      return fail(500, `cannot start the job: ${messageOf(err)}`, null);
    }
    return reply.redirect('/status', 303);
  });

  // Rendered once per snapshot and session (the page carries the session's CSRF token), whoever asks.
  app.get('/status', { schema: routeSchemas.status }, async (request, reply) => {
    const auth = deps.pageAuth(request);
    deps.snapshot(); // seen by the metrics
    const { view } = deps.made('view', makeView);
    const html = await deps.made(`page:status|${auth.enabled}|${auth.loggedIn}|${auth.csrf ?? ''}`, () =>
      app.view('status.eta', { ...view, emptyRow: EMPTY_ROW, emptyStreamRow: EMPTY_STREAM_ROW, auth }),
    );
    return reply.type('text/html; charset=utf-8').send(html);
  });

  // What the status page's script polls: the same view, as JSON, made once per snapshot whoever asks. A GET, so
  // access.ts makes it a read like /api/status (a session or the token unless --public-status; 401 without).
  app.get('/api/status/view', { schema: routeSchemas.apiStatusView }, async (_request, reply) => {
    deps.snapshot(); // seen by the metrics
    return reply.type('application/json; charset=utf-8').send(deps.made('view', makeView).json);
  });

  app.post('/cancel', { schema: routeSchemas.postCancelForm }, async (_request, reply) => {
    deps.jobs.cancel(); // false when nothing runs: the status page shows why
    return reply.redirect('/status', 303);
  });

  // The status page's Controls card: refused (no job, or a cutover) shows as nothing changed on the page.
  const control = (act: () => unknown) => {
    try {
      act();
    } catch (err) {
      if (!(err instanceof JobConflictError || err instanceof OptionError)) throw err;
      return messageOf(err);
    }
    return null;
  };
  app.post('/pause', { schema: routeSchemas.postPauseForm }, async (_request, reply) => {
    control(() => deps.jobs.pause());
    return reply.redirect('/status', 303);
  });
  app.post('/resume', { schema: routeSchemas.postResumeForm }, async (_request, reply) => {
    control(() => deps.jobs.resume());
    return reply.redirect('/status', 303);
  });
  app.post('/tune', { schema: routeSchemas.postTuneForm }, async (request, reply) => {
    const form = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
    const tune: Record<string, unknown> = {};
    if (typeof form.maxTps === 'string' && form.maxTps.trim() !== '') tune.maxTps = /^\d+$/.test(form.maxTps.trim()) ? Number(form.maxTps) : form.maxTps;
    if (typeof form.maxReplicationLag === 'string' && form.maxReplicationLag.trim() !== '') tune.maxReplicationLag = form.maxReplicationLag.trim();
    const error = control(() => deps.jobs.tune(tune));
    if (error) {
      reply.code(400);
      return reply.viewAsync('message.eta', {
        title: 'not tuned — shardworker',
        heading: 'Not tuned',
        message: error,
        link: { href: '/status', label: 'Back to the status page' },
        auth: deps.pageAuth(request),
      });
    }
    return reply.redirect('/status', 303);
  });

  app.post('/reset', { schema: routeSchemas.postResetForm }, async (_request, reply) => {
    deps.snapshot(); // lets the metrics count a job that ended in error before it is cleared
    try {
      deps.jobs.reset();
    } catch (err) {
      if (!(err instanceof JobConflictError)) throw err; // still running: the status page shows it
    }
    return reply.redirect('/status', 303);
  });
}
