// Browser sessions after a login: random ids kept in this process's memory (a restart logs everyone out, which is
// fine for an operator tool), each with the CSRF token its forms carry. The cookie holds only the id, never the
// daemon's token, so a leaked cookie dies with its session.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'shardworker_session';

/** A working day: long enough to watch a long copy, short enough that a forgotten browser does not stay in. */
export const SESSION_TTL_MS = 12 * 3_600_000;

/** Only a login with the token creates a session, so this bounds memory against a script that logs in in a loop. */
const MAX_SESSIONS = 1000;

/**
 * Constant-time equality of two secrets: hashing both first makes the lengths equal, so timingSafeEqual applies
 * and neither the content nor the length of the expected secret shows in the time taken.
 */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

export interface Session {
  readonly id: string;
  /** The hidden `_csrf` field of every form this session is shown; a POST without it is refused. */
  readonly csrf: string;
  readonly expiresAt: number;
}

export class SessionStore {
  // Insertion order is creation order, so the first entry is the oldest (evicted first when full).
  readonly #sessions = new Map<string, Session>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? SESSION_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  create(): Session {
    const now = this.#now();
    for (const [id, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(id);
    while (this.#sessions.size >= MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value as string);
    const session: Session = { id: randomBytes(32).toString('hex'), csrf: randomBytes(32).toString('hex'), expiresAt: now + this.#ttlMs };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id, or null (unknown, or expired: then it is forgotten). */
  get(id: string | undefined): Session | null {
    if (id === undefined) return null;
    const session = this.#sessions.get(id);
    if (!session) return null;
    if (session.expiresAt <= this.#now()) {
      this.#sessions.delete(id);
      return null;
    }
    return session;
  }

  delete(id: string): void {
    this.#sessions.delete(id);
  }
}

/** The value of cookie `name` in a Cookie header (the first one, as browsers send the most specific first). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * HttpOnly: page scripts never see it. SameSite=Strict: a browser does not send it with a request another site
 * started, which already stops most cross-site forgery; the CSRF field stops the rest. Secure only over HTTPS,
 * since a browser drops a Secure cookie set over plain HTTP (the daemon itself speaks HTTP).
 */
export function sessionCookie(session: Session, ttlMs: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${session.id}; Path=/; Max-Age=${Math.floor(ttlMs / 1000)}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}
