// Which credential a request needs, from its method and path alone. Anything not listed as open or read-only
// needs the strongest check, so a route added later is guarded until someone decides otherwise.

import { ASSETS_PREFIX } from './assets.ts';
import { isReadOnlyMethod } from './guards.ts';

export type Access =
  /** Anyone: liveness, the login page itself, and the pages' stylesheet and script (no data in them). */
  | 'open'
  /** Pages, /api/status (and /api/status/view) and /metrics: open with --public-status, otherwise a session cookie or the token. */
  | 'read'
  /** POST /api/*: the token as `Authorization: Bearer`. */
  | 'api-write'
  /** The pages' forms: a session cookie and its CSRF token (or the Bearer token). */
  | 'form-write';

/** `path` is the routed path (guards.ts routePathOf), without a query. */
export function accessOf(method: string, path: string): Access {
  if (isReadOnlyMethod(method)) return path === '/healthz' || path === '/login' || path.startsWith(ASSETS_PREFIX) ? 'open' : 'read';
  if (method === 'POST' && path === '/login') return 'open';
  return path.startsWith('/api/') ? 'api-write' : 'form-write';
}
