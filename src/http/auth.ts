// Access control with --auth-token-file (docs/http-api.md "Access"; what needs what is in access.ts):
// - the API takes the token as `Authorization: Bearer <token>`;
// - people log in once with the token (GET/POST /login) and get a session cookie; every form carries the session's
//   CSRF token, checked when the form is posted;
// - read-only pages, /api/status, /api/status/view and /metrics need the cookie or the token unless --public-status;
// - /healthz is always open.
// Without a token the app has none of this (the CLI then listens on loopback only).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { accessOf } from './access.ts';
import { routePathOf } from './guards.ts';
import { routeSchemas } from './schemas.ts';
import { SESSION_COOKIE, SessionStore, clearedSessionCookie, cookieValue, sameSecret, sessionCookie, type Session } from './sessions.ts';

export interface AuthOptions {
  /** The daemon's token (from --auth-token-file). */
  token: string;
  /** --public-status: the read-only pages, /api/status and /metrics need no token. */
  publicStatus: boolean;
}

/** What a page needs to know to print its forms and its log in/out link. */
export interface PageAuth {
  enabled: boolean;
  loggedIn: boolean;
  /** The value of every form's hidden `_csrf` field; null without a session. */
  csrf: string | null;
}

export const NO_AUTH: PageAuth = { enabled: false, loggedIn: false, csrf: null };

/** The hidden form field that carries the session's CSRF token. */
export const CSRF_FIELD = '_csrf';

export interface Auth {
  pageAuth(request: FastifyRequest): PageAuth;
}

type Form = Record<string, unknown>;
const isForm = (v: unknown): v is Form => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A redirect target after login: a path on this server only (`//host` and `/\host` would leave it). */
export function safeNext(value: unknown): string {
  return typeof value === 'string' && value.length <= 512 && /^\/(?![/\\])[^\s\\]*$/.test(value) ? value : '/';
}

/** The Bearer token of the request; '' for a Bearer header without one; undefined for no Bearer header. */
function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const m = /^\s*bearer(?:\s+(.*))?$/i.exec(header);
  return m ? (m[1] ?? '').trim() : undefined;
}

export function registerAuth(app: FastifyInstance, options: AuthOptions): Auth {
  const sessions = new SessionStore();
  // Per-request facts found in onRequest and used after the body is read, and by the pages.
  const sessionOf = new WeakMap<FastifyRequest, Session>();
  const viaBearer = new WeakSet<FastifyRequest>();

  function unauthorized(reply: FastifyReply, error: string): FastifyReply {
    return reply.code(401).header('www-authenticate', 'Bearer realm="shardworker"').send({ error });
  }

  async function page(reply: FastifyReply, code: number, template: string, data: Form): Promise<FastifyReply> {
    const html = await reply.viewAsync(template, { auth: { enabled: true, loggedIn: false, csrf: null }, ...data });
    return reply.code(code).type('text/html; charset=utf-8').send(html);
  }

  function loginPage(reply: FastifyReply, code: number, next: string, error: string | null): Promise<FastifyReply> {
    return page(reply, code, 'login.eta', { title: 'log in — shardworker', next, error, publicStatus: options.publicStatus });
  }

  app.addHook('onRequest', async (request, reply) => {
    const path = routePathOf(request);
    const access = accessOf(request.method, path);
    if (access === 'open') return;
    const bearer = bearerOf(request);
    if (bearer !== undefined) {
      if (bearer !== '' && sameSecret(bearer, options.token)) {
        viaBearer.add(request);
        return;
      }
      return unauthorized(reply, 'the Bearer token is wrong');
    }
    const session = sessions.get(cookieValue(request.headers.cookie, SESSION_COOKIE));
    if (session) sessionOf.set(request, session);
    switch (access) {
      case 'read':
        if (options.publicStatus || session) return;
        if (path.startsWith('/api/') || path === '/metrics') return unauthorized(reply, `${path} needs the token: send Authorization: Bearer <token>`);
        return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
      case 'api-write':
        // Not the session cookie: the API is for automation, and a cookie is what a forged request would carry.
        return unauthorized(reply, `${request.method} ${path} needs the token: send Authorization: Bearer <token>`);
      case 'form-write':
        if (session) return; // its CSRF field is checked once the body is read (preValidation below)
        return loginPage(reply, 401, '/', 'Log in to start, cancel or reset a job.');
    }
  });

  app.addHook('preValidation', async (request, reply) => {
    if (viaBearer.has(request) || accessOf(request.method, routePathOf(request)) !== 'form-write') return;
    const session = sessionOf.get(request);
    if (!session) return; // refused in onRequest already
    const given = isForm(request.body) ? request.body[CSRF_FIELD] : undefined;
    if (typeof given === 'string' && sameSecret(given, session.csrf)) return;
    request.log.warn({ url: request.url, csrf: given === undefined ? 'missing' : 'wrong' }, 'refused a form without its CSRF token');
    return page(reply, 403, 'message.eta', {
      title: 'refused — shardworker',
      heading: 'Refused: the form is stale or came from elsewhere',
      message: `The form did not carry this session's CSRF token (${given === undefined ? 'missing' : 'wrong'}). Reload the page and submit it again.`,
      link: { href: '/status', label: 'Back to the status page' },
      auth: { enabled: true, loggedIn: true, csrf: session.csrf },
    });
  });

  app.get('/login', { schema: routeSchemas.loginPage }, async (request, reply) => {
    const query = isForm(request.query) ? request.query : {};
    return loginPage(reply, 200, safeNext(query.next), null);
  });

  app.post('/login', { schema: routeSchemas.login }, async (request, reply) => {
    const form = isForm(request.body) ? request.body : {};
    const next = safeNext(form.next);
    const token = typeof form.token === 'string' ? form.token.trim() : '';
    if (token === '') return loginPage(reply, 400, next, 'Enter the token.');
    if (!sameSecret(token, options.token)) {
      request.log.warn({ ip: request.ip }, 'login with a wrong token');
      return loginPage(reply, 401, next, 'That is not the token.');
    }
    const old = sessionOf.get(request);
    if (old) sessions.delete(old.id);
    const session = sessions.create();
    reply.header('set-cookie', sessionCookie(session, sessions.ttlMs, request.protocol === 'https'));
    return reply.redirect(next, 303);
  });

  app.post('/logout', { schema: routeSchemas.logout }, async (request, reply) => {
    const session = sessionOf.get(request);
    if (session) sessions.delete(session.id);
    reply.header('set-cookie', clearedSessionCookie(request.protocol === 'https'));
    return reply.redirect('/login', 303);
  });

  return {
    pageAuth(request) {
      const session = sessionOf.get(request);
      return { enabled: true, loggedIn: session !== undefined || viaBearer.has(request), csrf: session?.csrf ?? null };
    },
  };
}
