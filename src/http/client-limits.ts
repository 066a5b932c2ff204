// What one client may ask of the daemon: a dashboard, a scrape and a few curious operators must cost the job next
// to nothing, and a runaway poller must not take its cores. Per client address: a token bucket of requests
// (`ratePerSecond`, `burst`) and a cap on requests in flight; past either, 429 with Retry-After. A URL longer than
// `maxUrlLength` is refused with 414 before any routing. /healthz is exempt (liveness probes must always answer).

import type { FastifyInstance } from 'fastify';

export interface ClientLimitOptions {
  /** @default 50 */
  ratePerSecond?: number;
  /** @default 100 */
  burst?: number;
  /** @default 16 */
  maxInFlight?: number;
  /** @default 2048 */
  maxUrlLength?: number;
}

interface ClientState {
  tokens: number;
  at: number;
  inFlight: number;
}

/** Clients remembered at most; idle, full ones are forgotten first. */
const MAX_CLIENTS = 10_000;

export class ClientLimits {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxInFlight: number;
  readonly #clients = new Map<string, ClientState>();
  readonly #now: () => number;

  constructor(opts: ClientLimitOptions = {}, now: () => number = Date.now) {
    this.#rate = opts.ratePerSecond ?? 50;
    this.#burst = opts.burst ?? 100;
    this.#maxInFlight = opts.maxInFlight ?? 16;
    this.#now = now;
  }

  /** null when `client` may go on (count it in flight until done()), else why not and when to retry (s). */
  admit(client: string): { reason: string; retryAfter: number } | null {
    const now = this.#now();
    let c = this.#clients.get(client);
    if (!c) {
      if (this.#clients.size >= MAX_CLIENTS) this.#forgetIdle(now);
      c = { tokens: this.#burst, at: now, inFlight: 0 };
      this.#clients.set(client, c);
    }
    c.tokens = Math.min(this.#burst, c.tokens + ((now - c.at) * this.#rate) / 1000);
    c.at = now;
    if (c.inFlight >= this.#maxInFlight) return { reason: `more than ${this.#maxInFlight} requests at once from ${client}`, retryAfter: 1 };
    if (c.tokens < 1)
      return { reason: `more than ${this.#rate} requests a second from ${client}`, retryAfter: Math.max(1, Math.ceil((1 - c.tokens) / this.#rate)) };
    c.tokens -= 1;
    c.inFlight++;
    return null;
  }

  done(client: string): void {
    const c = this.#clients.get(client);
    if (c && c.inFlight > 0) c.inFlight--;
  }

  #forgetIdle(now: number): void {
    for (const [key, c] of this.#clients) {
      if (c.inFlight === 0 && c.tokens + ((now - c.at) * this.#rate) / 1000 >= this.#burst) this.#clients.delete(key);
    }
  }
}

/** Registers the limits as the app's first onRequest hook. */
export function registerClientLimits(app: FastifyInstance, opts: ClientLimitOptions = {}): void {
  const limits = new ClientLimits(opts);
  const maxUrl = opts.maxUrlLength ?? 2048;
  const admitted = new WeakSet<object>();
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.length > maxUrl) return reply.code(414).send({ error: `the URL is longer than the ${maxUrl} characters this server takes` });
    if (request.url === '/healthz') return;
    const refused = limits.admit(request.ip);
    if (refused)
      return reply
        .code(429)
        .header('retry-after', String(refused.retryAfter))
        .send({ error: `too many requests: ${refused.reason}; retry after ${refused.retryAfter} s` });
    admitted.add(request);
  });
  app.addHook('onResponse', async (request) => {
    if (admitted.has(request)) limits.done(request.ip);
  });
}
