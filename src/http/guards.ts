// Checks every request passes before its body is read, whatever the auth settings:
// - a mutating request a browser sent from another site is refused, so a page on the web cannot drive a daemon
//   on the operator's loopback through the operator's browser (with a token, the session's CSRF token also
//   guards the forms; this covers the daemon without one);
// - the API takes JSON only: a cross-site HTML form can send urlencoded, multipart or text/plain bodies without
//   asking, but not application/json, and automation has no reason to send anything else.

import type { FastifyRequest } from 'fastify';
import { RequestError } from './request-error.ts';

export function isReadOnlyMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/**
 * The path a request is routed by: the matched route's (the router decodes `%61pi` to `api`, so the raw URL could
 * dodge a prefix check), or for no route the raw path without its query.
 */
export function routePathOf(request: FastifyRequest): string {
  const routed = request.routeOptions.url;
  if (routed !== undefined) return routed;
  const q = request.url.indexOf('?');
  return q < 0 ? request.url : request.url.slice(0, q);
}

/** Throws 403 for a mutating request a browser says came from another origin. */
export function checkSameOrigin(request: FastifyRequest): void {
  if (isReadOnlyMethod(request.method)) return;
  // Sent by every current browser; `none` is a navigation the user started (typed URL, bookmark).
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new RequestError(403, `refused a ${request.method} sent from another site (Sec-Fetch-Site: ${site})`);
  }
  const origin = request.headers.origin;
  if (origin === undefined) return; // not a browser, or an old one: the token (when set) still guards it
  if (!sameHost(origin, request.headers.host)) {
    throw new RequestError(403, `refused a ${request.method} from origin ${origin}: it is not this server (${request.headers.host ?? 'no Host header'})`);
  }
}

/** Whether a browser's Origin names the host the request was sent to (`http://h:80` and Host `h` are the same). */
function sameHost(origin: string, host: string | undefined): boolean {
  if (origin === 'null' || host === undefined) return false;
  try {
    const from = new URL(origin);
    return from.host === new URL(`${from.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/** Throws 415 for a POST to /api/* whose body is anything but JSON (no body at all is fine: cancel, reset). */
export function checkApiTakesJson(request: FastifyRequest): void {
  if (isReadOnlyMethod(request.method) || !routePathOf(request).startsWith('/api/')) return;
  const type = request.headers['content-type'];
  if (type === undefined) return;
  const mime = type.split(';')[0].trim().toLowerCase();
  if (mime !== 'application/json') throw new RequestError(415, `the API takes application/json bodies, got ${mime || 'an empty content type'}`, 'body');
}
