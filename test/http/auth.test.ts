// Access control with a token (--auth-token-file), table-driven: every mutating route with no token, a wrong token
// and the right one (API: Bearer; forms: session cookie and CSRF field), and the read-only routes with
// --public-status on and off.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { accessOf } from '../../src/http/access.ts';
import { buildApp } from '../../src/http/app.ts';
import { safeNext } from '../../src/http/auth.ts';
import { SESSION_COOKIE, SessionStore, cookieValue, sameSecret } from '../../src/http/sessions.ts';
import type { StatusSnapshot } from '../../src/worker/status.ts';
import { FakeJobs, TOPOLOGY, idleSnapshot } from './fake-jobs.ts';

const TOKEN = 'tok-0123456789abcdef-XYZ';
const WRONG = 'tok-0123456789abcdef-XYz';
const START = { command: 'SplitClone', keyspace: 'commerce', shard: '0' } as const;
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' };

function runningSnapshot(): StatusSnapshot {
  return { ...idleSnapshot(), state: 'copying the data', job: { ...START, options: {} }, startedAt: '2026-11-23T19:00:00.000Z' };
}
function endedSnapshot(): StatusSnapshot {
  return { ...runningSnapshot(), state: 'done', endedAt: '2026-11-23T19:01:00.000Z' };
}

async function appWith(publicStatus = false, jobs = new FakeJobs()): Promise<{ app: FastifyInstance; jobs: FakeJobs }> {
  // Some tests swap the fake job's snapshot between requests: one snapshot per request.
  const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY, auth: { token: TOKEN, publicStatus }, statusMaxAgeMs: 0 });
  return { app, jobs };
}

interface Browser {
  cookie: string;
  csrf: string;
}

/** Logs in through the form, as a browser would, and reads the CSRF token off the index page. */
async function logIn(app: FastifyInstance): Promise<Browser> {
  const res = await app.inject({ method: 'POST', url: '/login', headers: FORM_TYPE, payload: new URLSearchParams({ token: TOKEN, next: '/' }).toString() });
  assert.equal(res.statusCode, 303, res.body);
  const setCookie = String(res.headers['set-cookie']);
  const id = cookieValue(setCookie.split(';')[0], SESSION_COOKIE);
  assert.ok(id);
  const cookie = `${SESSION_COOKIE}=${id}`;
  const index = await app.inject({ method: 'GET', url: '/', headers: { cookie } });
  assert.equal(index.statusCode, 200);
  const m = /name="_csrf" value="([0-9a-f]{64})"/.exec(index.body);
  assert.ok(m, 'the index forms carry a CSRF token');
  return { cookie, csrf: m[1] };
}

function bearer(token: string) {
  return { authorization: `Bearer ${token}` };
}

// --- The API: Bearer only ------------------------------------------------------------------------------------

interface ApiRoute {
  url: string;
  payload?: object;
  /** Puts the fake job control where the route succeeds. */
  arrange?: (jobs: FakeJobs) => void;
  ok: number;
  effect: (jobs: FakeJobs) => boolean;
}

const API_ROUTES: ApiRoute[] = [
  { url: '/api/jobs', payload: START, ok: 202, effect: (j) => j.started.length === 1 },
  { url: '/api/cancel', arrange: (j) => j.start({ ...START, options: {} }), ok: 200, effect: (j) => j.cancels === 1 },
  { url: '/api/reset', arrange: (j) => (j.current = endedSnapshot()), ok: 200, effect: (j) => j.resets === 1 },
];

const API_CREDENTIALS: Array<{ name: string; headers: (b: Browser) => Record<string, string>; allowed: boolean; message: RegExp }> = [
  { name: 'no token', headers: () => ({}), allowed: false, message: /needs the token: send Authorization: Bearer <token>/ },
  { name: 'a wrong token', headers: () => bearer(WRONG), allowed: false, message: /^the Bearer token is wrong$/ },
  { name: 'a token of another length', headers: () => bearer(TOKEN + 'x'), allowed: false, message: /the Bearer token is wrong/ },
  { name: 'an empty Bearer', headers: () => ({ authorization: 'Bearer ' }), allowed: false, message: /the Bearer token is wrong/ },
  {
    name: 'Basic instead of Bearer',
    headers: () => ({ authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }),
    allowed: false,
    message: /needs the token/,
  },
  { name: 'the session cookie alone', headers: (b) => ({ cookie: b.cookie }), allowed: false, message: /needs the token/ },
  { name: 'the token as a cookie', headers: () => ({ cookie: `${SESSION_COOKIE}=${TOKEN}` }), allowed: false, message: /needs the token/ },
  { name: 'the right token', headers: () => bearer(TOKEN), allowed: true, message: /./ },
  { name: 'the right token, scheme in lower case', headers: () => ({ authorization: `bearer ${TOKEN}` }), allowed: true, message: /./ },
];

describe('POST /api/*: Authorization: Bearer <token>', () => {
  for (const route of API_ROUTES) {
    for (const cred of API_CREDENTIALS) {
      test(`${route.url} with ${cred.name}: ${cred.allowed ? route.ok : 401}`, async () => {
        const { app, jobs } = await appWith();
        const browser = await logIn(app);
        route.arrange?.(jobs);
        const res = await app.inject({ method: 'POST', url: route.url, headers: cred.headers(browser), ...(route.payload ? { payload: route.payload } : {}) });
        if (cred.allowed) {
          assert.equal(res.statusCode, route.ok, res.body);
          assert.ok(route.effect(jobs), 'the route did its work');
        } else {
          assert.equal(res.statusCode, 401, res.body);
          assert.match(res.json().error, cred.message);
          assert.equal(res.headers['www-authenticate'], 'Bearer realm="shardworker"');
          assert.ok(!route.effect(jobs), 'nothing changed');
          assert.ok(!res.body.includes(TOKEN));
        }
      });
    }
  }

  test('a route spelled with percent-encoding is still the API', async () => {
    const { app, jobs } = await appWith();
    const res = await app.inject({ method: 'POST', url: '/%61pi/jobs', payload: START });
    assert.equal(res.statusCode, 401);
    assert.equal(jobs.started.length, 0);
  });

  test('an unknown POST /api/ route: 401 before 404, so it tells nothing without the token', async () => {
    const { app } = await appWith();
    assert.equal((await app.inject({ method: 'POST', url: '/api/nope' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'POST', url: '/api/nope', headers: bearer(TOKEN) })).statusCode, 404);
  });
});

// --- The forms: session cookie + CSRF field ------------------------------------------------------------------

interface FormRoute {
  url: string;
  fields: Record<string, string>;
  arrange?: (jobs: FakeJobs) => void;
  location: string;
  effect: (jobs: FakeJobs) => boolean;
}

const FORM_ROUTES: FormRoute[] = [
  { url: '/jobs', fields: { command: 'SplitClone', target: 'commerce/0' }, location: '/status', effect: (j) => j.started.length === 1 },
  { url: '/cancel', fields: {}, arrange: (j) => j.start({ ...START, options: {} }), location: '/status', effect: (j) => j.cancels === 1 },
  { url: '/reset', fields: {}, arrange: (j) => (j.current = endedSnapshot()), location: '/status', effect: (j) => j.resets === 1 },
  { url: '/logout', fields: {}, location: '/login', effect: () => true },
];

const FORM_CREDENTIALS: Array<{ name: string; send: (b: Browser) => { headers: Record<string, string>; csrf?: string }; status: number; message: RegExp }> = [
  { name: 'no session', send: (b) => ({ headers: {}, csrf: b.csrf }), status: 401, message: /Log in to start, cancel or reset a job/ },
  { name: 'an unknown session', send: (b) => ({ headers: { cookie: `${SESSION_COOKIE}=${'0'.repeat(64)}` }, csrf: b.csrf }), status: 401, message: /Log in/ },
  { name: 'the token as the cookie', send: (b) => ({ headers: { cookie: `${SESSION_COOKIE}=${TOKEN}` }, csrf: b.csrf }), status: 401, message: /Log in/ },
  {
    name: 'a session but no CSRF field',
    send: (b) => ({ headers: { cookie: b.cookie } }),
    status: 403,
    message: /did not carry this session&#39;s CSRF token \(missing\)/,
  },
  {
    name: 'a session and a wrong CSRF field',
    send: (b) => ({ headers: { cookie: b.cookie }, csrf: b.csrf.replace(/.$/, (c) => (c === '0' ? '1' : '0')) }),
    status: 403,
    message: /CSRF token \(wrong\)/,
  },
  {
    name: 'a session and the token as the CSRF field',
    send: (b) => ({ headers: { cookie: b.cookie }, csrf: TOKEN }),
    status: 403,
    message: /CSRF token \(wrong\)/,
  },
  { name: 'a wrong Bearer', send: () => ({ headers: bearer(WRONG) }), status: 401, message: /the Bearer token is wrong/ },
  { name: 'a session and its CSRF field', send: (b) => ({ headers: { cookie: b.cookie }, csrf: b.csrf }), status: 303, message: /^$/ },
  { name: 'the right Bearer (no browser, so no CSRF needed)', send: () => ({ headers: bearer(TOKEN) }), status: 303, message: /^$/ },
];

describe('the forms: a session cookie and its CSRF field', () => {
  for (const route of FORM_ROUTES) {
    for (const cred of FORM_CREDENTIALS) {
      test(`POST ${route.url} with ${cred.name}: ${cred.status}`, async () => {
        const { app, jobs } = await appWith();
        const browser = await logIn(app);
        route.arrange?.(jobs);
        const { headers, csrf } = cred.send(browser);
        const fields = csrf === undefined ? route.fields : { ...route.fields, _csrf: csrf };
        const res = await app.inject({
          method: 'POST',
          url: route.url,
          headers: { ...FORM_TYPE, ...headers },
          payload: new URLSearchParams(fields).toString(),
        });
        assert.equal(res.statusCode, cred.status, res.body.slice(0, 500));
        if (cred.status === 303) {
          assert.equal(res.headers.location, route.location);
          assert.ok(route.effect(jobs), 'the form did its work');
        } else {
          assert.match(res.body, cred.message);
          if (route.url !== '/logout') assert.ok(!route.effect(jobs), 'nothing changed');
        }
      });
    }
  }

  test('the login page a refused form shows has a token field, and no token in it', async () => {
    const { app } = await appWith();
    const res = await app.inject({ method: 'POST', url: '/cancel', headers: FORM_TYPE, payload: '' });
    assert.equal(res.statusCode, 401);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(res.body, /<input type="password" id="login-token" name="token"/);
    assert.ok(!res.body.includes(TOKEN));
  });

  test('a session from another app (another daemon, or before a restart) is unknown here', async () => {
    const a = await appWith();
    const b = await appWith();
    const browser = await logIn(a.app);
    const res = await b.app.inject({
      method: 'POST',
      url: '/jobs',
      headers: { ...FORM_TYPE, cookie: browser.cookie },
      payload: new URLSearchParams({ command: 'SplitClone', target: 'commerce/0', _csrf: browser.csrf }).toString(),
    });
    assert.equal(res.statusCode, 401);
    assert.equal(b.jobs.started.length, 0);
  });

  test('after logout the session and its CSRF token no longer work', async () => {
    const { app, jobs } = await appWith();
    const browser = await logIn(app);
    const out = await app.inject({ method: 'POST', url: '/logout', headers: { ...FORM_TYPE, cookie: browser.cookie }, payload: `_csrf=${browser.csrf}` });
    assert.equal(out.statusCode, 303);
    assert.match(String(out.headers['set-cookie']), new RegExp(`^${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict$`));
    const res = await app.inject({
      method: 'POST',
      url: '/jobs',
      headers: { ...FORM_TYPE, cookie: browser.cookie },
      payload: new URLSearchParams({ command: 'SplitClone', target: 'commerce/0', _csrf: browser.csrf }).toString(),
    });
    assert.equal(res.statusCode, 401);
    assert.equal(jobs.started.length, 0);
    assert.equal((await app.inject({ method: 'GET', url: '/status', headers: { cookie: browser.cookie } })).statusCode, 303);
  });

  test('each session has its own CSRF token', async () => {
    const { app, jobs } = await appWith();
    const one = await logIn(app);
    const two = await logIn(app);
    assert.notEqual(one.cookie, two.cookie);
    assert.notEqual(one.csrf, two.csrf);
    const res = await app.inject({
      method: 'POST',
      url: '/jobs',
      headers: { ...FORM_TYPE, cookie: one.cookie },
      payload: new URLSearchParams({ command: 'SplitClone', target: 'commerce/0', _csrf: two.csrf }).toString(),
    });
    assert.equal(res.statusCode, 403);
    assert.equal(jobs.started.length, 0);
  });
});

// --- Logging in ----------------------------------------------------------------------------------------------

describe('GET and POST /login', () => {
  const login = (fields: Record<string, string>): InjectOptions => ({
    method: 'POST',
    url: '/login',
    headers: FORM_TYPE,
    payload: new URLSearchParams(fields).toString(),
  });

  test('the right token: an HttpOnly, SameSite=Strict session cookie that is not the token, then 303 to next', async () => {
    const { app } = await appWith();
    const res = await app.inject(login({ token: `  ${TOKEN}\n`, next: '/status' }));
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/status');
    const cookie = String(res.headers['set-cookie']);
    assert.match(cookie, new RegExp(`^${SESSION_COOKIE}=[0-9a-f]{64}; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict$`));
    assert.ok(!cookie.includes(TOKEN));
  });

  const refused: Array<[string, Record<string, string>, number, RegExp]> = [
    ['a wrong token', { token: WRONG }, 401, /That is not the token/],
    ['a prefix of the token', { token: TOKEN.slice(0, 16) }, 401, /That is not the token/],
    ['no token', {}, 400, /Enter the token/],
    ['an empty token', { token: '   ' }, 400, /Enter the token/],
  ];
  for (const [name, fields, status, message] of refused) {
    test(`${name}: ${status}, the form again, no cookie`, async () => {
      const { app } = await appWith();
      const res = await app.inject(login({ ...fields, next: '/status' }));
      assert.equal(res.statusCode, status);
      assert.match(res.body, message);
      assert.match(res.body, /name="next" value="\/status"/);
      assert.equal(res.headers['set-cookie'], undefined);
      assert.ok(!res.body.includes(TOKEN));
    });
  }

  test('a wrong token is logged, without the token typed', async () => {
    const { pino } = await import('pino');
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const app = await buildApp({ jobs: new FakeJobs(), readTopology: async () => TOPOLOGY, logger, auth: { token: TOKEN, publicStatus: false } });
    await app.inject(login({ token: WRONG }));
    await app.inject(login({ token: TOKEN }));
    assert.ok(lines.some((l) => /login with a wrong token/.test(l)));
    assert.ok(!lines.join('').includes(WRONG) && !lines.join('').includes(TOKEN));
  });

  test('next stays on this server', async () => {
    for (const [next, to] of [
      ['/status', '/status'],
      ['/api/status', '/api/status'],
      ['//evil.example/x', '/'],
      ['/\\evil.example', '/'],
      ['https://evil.example', '/'],
      ['javascript:alert(1)', '/'],
      ['', '/'],
    ]) {
      assert.equal(safeNext(next), to, next);
    }
    const { app } = await appWith();
    const res = await app.inject(login({ token: TOKEN, next: '//evil.example/' }));
    assert.equal(res.headers.location, '/');
  });

  test('a login sent from another site is refused', async () => {
    const { app } = await appWith();
    const res = await app.inject({ ...login({ token: TOKEN }), headers: { ...FORM_TYPE, 'sec-fetch-site': 'cross-site' } });
    assert.equal(res.statusCode, 403);
    assert.equal(res.headers['set-cookie'], undefined);
  });

  test('the login page is open, with public-status or not, and says what the token is', async () => {
    for (const publicStatus of [false, true]) {
      const { app } = await appWith(publicStatus);
      const res = await app.inject({ method: 'GET', url: '/login?next=%2Fstatus' });
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /--auth-token-file/);
      assert.match(res.body, /name="next" value="\/status"/);
      assert.doesNotMatch(res.body, /id="read-only-notice"/);
    }
  });
});

// --- Read-only routes and --public-status --------------------------------------------------------------------

const READ_ROUTES: Array<{ url: string; page: boolean }> = [
  { url: '/', page: true },
  { url: '/status', page: true },
  { url: '/api/status', page: false },
  { url: '/api/status/view', page: false },
  { url: '/metrics', page: false },
];

describe('read-only routes', () => {
  for (const publicStatus of [false, true]) {
    for (const route of READ_ROUTES) {
      test(`GET ${route.url}, public-status ${publicStatus ? 'on' : 'off'}: anonymous, wrong token, session, right token`, async () => {
        const { app, jobs } = await appWith(publicStatus);
        jobs.current = runningSnapshot();
        const browser = await logIn(app);
        const get = (headers: Record<string, string>) => app.inject({ method: 'GET', url: route.url, headers });

        const anonymous = await get({});
        if (publicStatus) {
          assert.equal(anonymous.statusCode, 200);
        } else if (route.page) {
          assert.equal(anonymous.statusCode, 303);
          assert.equal(anonymous.headers.location, `/login?next=${encodeURIComponent(route.url)}`);
        } else {
          assert.equal(anonymous.statusCode, 401);
          assert.match(anonymous.json().error, new RegExp(`${route.url} needs the token: send Authorization: Bearer <token>`));
        }
        assert.equal((await get(bearer(WRONG))).statusCode, 401, 'a wrong token is refused even where none is needed');
        assert.equal((await get({ cookie: browser.cookie })).statusCode, 200);
        assert.equal((await get(bearer(TOKEN))).statusCode, 200);
        const head = await app.inject({ method: 'HEAD', url: route.url });
        assert.equal(head.statusCode, publicStatus ? 200 : route.page ? 303 : 401, 'HEAD as GET');
      });
    }
  }

  test('/healthz is always open', async () => {
    for (const publicStatus of [false, true]) {
      const { app } = await appWith(publicStatus);
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    }
  });

  test('public pages tell an anonymous reader to log in, and show no CSRF token', async () => {
    const { app, jobs } = await appWith(true);
    jobs.current = runningSnapshot();
    for (const url of ['/', '/status']) {
      const res = await app.inject({ method: 'GET', url });
      assert.match(res.body, /id="read-only-notice">Read-only view: <a href="\/login">log in<\/a>/);
      assert.match(res.body, /id="login-link"/);
      assert.doesNotMatch(res.body, /name="_csrf"/);
      assert.doesNotMatch(res.body, /id="logout-form"/);
    }
  });

  test('logged-in pages: every form carries the CSRF token, a logout button, no token anywhere', async () => {
    const { app, jobs } = await appWith();
    const browser = await logIn(app);
    const index = (await app.inject({ method: 'GET', url: '/', headers: { cookie: browser.cookie } })).body;
    const forms = index.match(/<form /g)?.length ?? 0;
    const csrfFields = index.match(new RegExp(`name="_csrf" value="${browser.csrf}"`, 'g'))?.length ?? 0;
    assert.equal(csrfFields, forms, 'one CSRF field per form (five commands and logout)');
    assert.equal(forms, 6);
    jobs.current = runningSnapshot();
    const status = (await app.inject({ method: 'GET', url: '/status', headers: { cookie: browser.cookie } })).body;
    assert.match(status, new RegExp(`id="cancel-form"><input type="hidden" name="_csrf" value="${browser.csrf}">`));
    assert.match(status, new RegExp(`id="reset-form" hidden><input type="hidden" name="_csrf" value="${browser.csrf}">`));
    assert.match(status, /id="logout-form"/);
    assert.doesNotMatch(status, /id="read-only-notice"/);
    for (const body of [index, status]) assert.ok(!body.includes(TOKEN));
  });
});

// --- Without a token: as before ------------------------------------------------------------------------------

describe('without --auth-token-file', () => {
  test('everything is open, no login route, no CSRF fields', async () => {
    const jobs = new FakeJobs();
    const app = await buildApp({ jobs, readTopology: async () => TOPOLOGY });
    for (const url of ['/', '/status', '/api/status', '/metrics', '/healthz']) assert.equal((await app.inject({ method: 'GET', url })).statusCode, 200, url);
    assert.equal((await app.inject({ method: 'GET', url: '/login' })).statusCode, 404);
    assert.doesNotMatch((await app.inject({ method: 'GET', url: '/' })).body, /_csrf|log in|log out/);
    assert.equal((await app.inject({ method: 'POST', url: '/api/jobs', payload: START })).statusCode, 202);
  });
});

// --- The pieces ----------------------------------------------------------------------------------------------

describe('access policy, sessions, secrets', () => {
  test('accessOf: open, read, api-write, form-write; anything new is guarded', () => {
    const cases: Array<[string, string, string]> = [
      ['GET', '/healthz', 'open'],
      ['GET', '/login', 'open'],
      ['POST', '/login', 'open'],
      ['HEAD', '/healthz', 'open'],
      ['GET', '/assets/status.js', 'open'],
      ['GET', '/assets/shardworker.css', 'open'],
      ['POST', '/assets/status.js', 'form-write'],
      ['GET', '/', 'read'],
      ['GET', '/status', 'read'],
      ['GET', '/api/status', 'read'],
      ['GET', '/api/status/view', 'read'],
      ['GET', '/metrics', 'read'],
      ['GET', '/anything-new', 'read'],
      ['POST', '/api/jobs', 'api-write'],
      ['POST', '/api/cancel', 'api-write'],
      ['DELETE', '/api/jobs', 'api-write'],
      ['POST', '/api/new', 'api-write'],
      ['POST', '/jobs', 'form-write'],
      ['POST', '/cancel', 'form-write'],
      ['POST', '/reset', 'form-write'],
      ['POST', '/logout', 'form-write'],
      ['PUT', '/status', 'form-write'],
      ['OPTIONS', '/', 'form-write'],
      ['POST', '/healthz', 'form-write'],
    ];
    for (const [method, path, access] of cases) assert.equal(accessOf(method, path), access, `${method} ${path}`);
  });

  test('sameSecret', () => {
    assert.equal(sameSecret(TOKEN, TOKEN), true);
    assert.equal(sameSecret(WRONG, TOKEN), false);
    assert.equal(sameSecret('', TOKEN), false);
    assert.equal(sameSecret(TOKEN + TOKEN, TOKEN), false);
  });

  test('sessions expire, and an expired one is forgotten', () => {
    let now = 1_000_000;
    const store = new SessionStore({ ttlMs: 1000, now: () => now });
    const s = store.create();
    assert.equal(store.get(s.id), s);
    now += 999;
    assert.equal(store.get(s.id), s);
    now += 1;
    assert.equal(store.get(s.id), null);
    assert.equal(store.get(undefined), null);
    assert.equal(store.get('nope'), null);
    const t = store.create();
    store.delete(t.id);
    assert.equal(store.get(t.id), null);
    assert.match(t.id, /^[0-9a-f]{64}$/);
    assert.notEqual(t.id, t.csrf);
  });

  test('a thousand logins later, the oldest session gives way', () => {
    const store = new SessionStore();
    const first = store.create();
    for (let i = 0; i < 1000; i++) store.create();
    assert.equal(store.get(first.id), null);
  });

  test('cookieValue', () => {
    assert.equal(cookieValue('a=1; shardworker_session=abc; b=2', SESSION_COOKIE), 'abc');
    assert.equal(cookieValue('xshardworker_session=abc', SESSION_COOKIE), undefined);
    assert.equal(cookieValue(undefined, SESSION_COOKIE), undefined);
    assert.equal(cookieValue('shardworker_session', SESSION_COOKIE), undefined);
  });
});
