// JSON schemas of the routes, and the one place that turns a schema failure into `{ error, field }`.

import type { FastifySchemaValidationError } from 'fastify';
import type { SchemaErrorDataVar } from 'fastify/types/schema.js';
import { COMMANDS, WORKER_STATES, TABLE_STATES } from '../worker/status.ts';

/** Keyspace and shard names: letters, digits, `_` and `-` (so never `/`, `..` or NUL). */
export const NAME_PATTERN = '^[A-Za-z0-9_-]+$';
const NAME = { type: 'string', minLength: 1, maxLength: 128, pattern: NAME_PATTERN } as const;

export const startJobBody = {
  type: 'object',
  required: ['command', 'keyspace', 'shard'],
  additionalProperties: false,
  properties: {
    command: { type: 'string', enum: [...COMMANDS] },
    keyspace: NAME,
    shard: NAME,
    options: { type: 'object' },
  },
} as const;

/** The index's forms: `command`, `target` (`keyspace/shard`) and `opt.<name>` fields, all strings. */
export const startJobForm = {
  type: 'object',
  required: ['command', 'target'],
  additionalProperties: { type: 'string' },
  properties: {
    command: { type: 'string', enum: [...COMMANDS] },
    target: { type: 'string', minLength: 3, maxLength: 257, pattern: '^[A-Za-z0-9_-]+/[A-Za-z0-9_-]+$' },
  },
} as const;

const errorReply = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'string' }, field: { type: 'string' } },
} as const;

/** A job refused because another job holds its shards: the error, and who holds them. */
const conflictReply = {
  type: 'object',
  required: ['error'],
  properties: {
    error: { type: 'string' },
    holder: { type: 'object', properties: { host: { type: 'string' }, pid: { type: 'number' }, jobId: { type: 'string' }, since: { type: 'string' } } },
  },
} as const;

const html = { description: 'an HTML page', type: 'string' } as const;
const redirect = { description: 'see /status', type: 'null' } as const;
const nullableNumber = { type: ['number', 'null'] } as const;
const nullableString = { type: ['string', 'null'] } as const;

/** docs/http-api.md "GET /api/status": the snapshot, with room for fields the worker adds later. */
const statusSnapshot = {
  type: 'object',
  additionalProperties: true,
  required: ['state', 'job', 'startedAt', 'endedAt', 'error', 'sources', 'destinations', 'tables', 'totals', 'log'],
  properties: {
    state: { type: 'string', enum: Object.values(WORKER_STATES) },
    job: {
      type: ['object', 'null'],
      additionalProperties: true,
      properties: {
        command: { type: 'string' },
        keyspace: { type: 'string' },
        shard: { type: 'string' },
        options: { type: 'object', additionalProperties: true },
      },
    },
    startedAt: nullableString,
    endedAt: nullableString,
    error: nullableString,
    sources: { type: 'array', items: { type: 'string' } },
    destinations: { type: 'array', items: { type: 'string' } },
    tables: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: {
          name: { type: 'string' },
          kind: { type: 'string', enum: ['table', 'view'] },
          state: { type: 'string', enum: [...TABLE_STATES] },
          rowsEstimated: { type: 'number' },
          rowsCopied: { type: 'number' },
          chunksTotal: { type: 'number' },
          chunksDone: { type: 'number' },
          rowsPerSecond: { type: 'number' },
          etaSeconds: nullableNumber,
        },
      },
    },
    totals: {
      type: 'object',
      additionalProperties: true,
      properties: {
        rowsEstimated: { type: 'number' },
        rowsCopied: { type: 'number' },
        rowsPerSecond: { type: 'number' },
        etaSeconds: nullableNumber,
      },
    },
    log: { type: 'array', items: { type: 'string' } },
    /** The daemon's filtered-replication streams (src/stream/status.ts). */
    streams: { type: 'array', items: { type: 'object', additionalProperties: true } },
    retries: {
      type: 'object',
      additionalProperties: true,
      properties: { total: { type: 'number' }, byTablet: { type: 'object', additionalProperties: { type: 'number' } } },
    },
    waits: { type: 'array', items: { type: 'string' } },
    /** --snapshot consistent (src/worker/status.ts SnapshotStatus). */
    snapshot: {
      type: 'object',
      additionalProperties: true,
      properties: {
        openedAt: { type: 'string' },
        closedAt: { type: ['string', 'null'] },
        ageSeconds: { type: 'number' },
        position: { type: 'string' },
        tablets: { type: 'array', items: { type: 'object', additionalProperties: true } },
      },
    },
    locks: {
      type: 'object',
      properties: {
        names: { type: 'array', items: { type: 'string' } },
        holder: { type: 'object', properties: { host: { type: 'string' }, pid: { type: 'number' }, jobId: { type: 'string' }, since: { type: 'string' } } },
      },
    },
  },
} as const;

/** docs/http-api.md "GET /api/status/view": view-models.ts StatusView, sent as made (no serializer runs on it). */
const statusView = {
  type: 'object',
  additionalProperties: true,
  required: ['job', 'startedAtIso', 'elapsed', 'tables', 'totals', 'streams', 'cutover', 'control', 'live'],
} as const;

export const routeSchemas = {
  index: { summary: 'index: the current job and a form per command', response: { 200: html } },
  postJobForm: {
    summary: 'start a job from the index form; 303 to /status, or the index again with the error',
    body: startJobForm,
    response: { 303: redirect, 400: html, 409: html },
  },
  status: { summary: 'the current job page', response: { 200: html } },
  postCancelForm: { summary: 'cancel the running job, then 303 to /status', response: { 303: redirect } },
  postResetForm: { summary: 'clear an ended job, then 303 to /status', response: { 303: redirect } },
  apiStatus: { summary: 'the status snapshot', response: { 200: statusSnapshot } },
  apiStatusView: { summary: "what /status shows, formatted (view-models.ts StatusView): the page's script places it as is", response: { 200: statusView } },
  apiPause: {
    summary: 'hold the running copy or diff (it keeps its tablets and snapshot)',
    response: { 200: { type: 'object', properties: { paused: { type: 'boolean' }, changed: { type: 'boolean' } } }, 409: errorReply },
  },
  apiResume: {
    summary: 'let a paused job go on',
    response: { 200: { type: 'object', properties: { paused: { type: 'boolean' }, changed: { type: 'boolean' } } }, 409: errorReply },
  },
  apiTune: {
    summary: 'change maxTps and/or maxReplicationLag of the running job',
    body: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxTps: { type: 'integer', minimum: 0 },
        maxReplicationLag: {
          anyOf: [
            { type: 'number', minimum: 0 },
            { type: 'string', maxLength: 32 },
          ],
        },
        sourceReaderCount: {},
        destinationWriterCount: {},
      },
    },
    response: {
      200: { type: 'object', properties: { maxTps: { type: 'number' }, maxReplicationLagSeconds: { type: 'number' } } },
      400: errorReply,
      409: errorReply,
    },
  },
  postPauseForm: { summary: 'pause the running job, then 303 to /status', response: { 303: redirect } },
  postResumeForm: { summary: 'resume the paused job, then 303 to /status', response: { 303: redirect } },
  postTuneForm: {
    summary: 'change maxTps / maxReplicationLag from the status page, then 303 to /status (400: the page says why)',
    response: { 303: redirect, 400: html },
  },
  apiStartJob: {
    summary: 'start a job',
    body: startJobBody,
    response: {
      202: { type: 'object', required: ['status', 'statusUrl'], properties: { status: { type: 'string' }, statusUrl: { type: 'string' } } },
      400: errorReply,
      409: conflictReply,
    },
  },
  apiCancel: {
    summary: 'cancel the running job (cleanup still runs)',
    response: { 200: { type: 'object', properties: { canceled: { type: 'boolean' } } }, 409: errorReply },
  },
  apiReset: {
    summary: 'clear an ended job',
    response: { 200: { type: 'object', properties: { reset: { type: 'boolean' } } }, 409: errorReply },
  },
  metrics: { summary: 'Prometheus text', response: { 200: { description: 'Prometheus text format', type: 'string' } } },
  loginPage: {
    summary: 'the login form (only with --auth-token-file)',
    response: { 200: html },
  },
  login: { summary: 'log in with the token: a session cookie, then 303 to `next`; 401 with the form again for a wrong token', response: { 303: redirect } },
  logout: { summary: 'end the session, then 303 to /login', response: { 303: redirect } },
  healthz: { summary: 'liveness', response: { 200: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } } },
} as const;

/** A request that failed its schema: the message says what is wrong, `field` names the field. */
export class SchemaError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'SchemaError';
    this.field = field;
  }
}

function describe(e: FastifySchemaValidationError, field: string): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${field} is required`;
    case 'additionalProperties':
      return `unknown field ${field}`;
    case 'enum':
      return `${field} must be one of ${(p.allowedValues as unknown[]).join(', ')}`;
    case 'pattern':
      return field === 'target' ? `${field} must be keyspace/shard, each of letters, digits, _ and -` : `${field} may hold only letters, digits, _ and -`;
    case 'minLength':
      return `${field} must not be empty`;
    case 'maxLength':
      return `${field} must be at most ${String(p.limit)} characters`;
    case 'type':
      return field === 'body' ? 'the body must be a JSON object' : `${field} must be ${p.type === 'object' ? 'an object' : `a ${String(p.type)}`}`;
    default:
      return `${field} ${e.message ?? 'is invalid'}`;
  }
}

/** Fastify's schemaErrorFormatter: the first error, as a SchemaError naming its field. */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: SchemaErrorDataVar): Error {
  const e = errors[0];
  if (!e) return new SchemaError(dataVar, `invalid ${dataVar}`);
  const p = e.params as Record<string, unknown>;
  const path = e.instancePath
    .split('/')
    .filter((s) => s !== '')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') path.push(String(p.missingProperty));
  if (e.keyword === 'additionalProperties') path.push(String(p.additionalProperty));
  const field = path.length > 0 ? path.join('.') : dataVar;
  return new SchemaError(field, describe(e, field));
}
