// The CLI's one HTTP client of a running daemon (`shardworker stream …`, `shardworker ctl …`): the address from
// --host/--port, the token from --auth-token-file, and one message for a daemon that does not answer.

import type { GlobalFlags } from './args.ts';
import { readAuthToken } from './token.ts';

export class DaemonClient {
  readonly base: string;
  readonly #headers: Record<string, string>;

  private constructor(base: string, headers: Record<string, string>) {
    this.base = base;
    this.#headers = headers;
  }

  static async of(globals: GlobalFlags): Promise<DaemonClient> {
    const host = globals.host.includes(':') ? `[${globals.host}]` : globals.host;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (globals.authTokenFile) headers.authorization = `Bearer ${await readAuthToken(globals.authTokenFile)}`;
    return new DaemonClient(`http://${host}:${globals.port}`, headers);
  }

  /** GET `path`'s JSON; a reply that is no 2xx fails with `GET path: HTTP n: body`. */
  async get<T>(path: string): Promise<T> {
    const reply = await this.#fetch(path, { headers: this.#headers });
    if (!reply.ok) throw new Error(`GET ${path}: HTTP ${reply.status}: ${await reply.text()}`);
    return (await reply.json()) as T;
  }

  /** POSTs `body` as JSON; a reply that is no 2xx fails with the daemon's `error` (else `HTTP n`). */
  async post<T>(path: string, body: unknown = {}): Promise<T> {
    const reply = await this.#fetch(path, { method: 'POST', headers: { ...this.#headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const parsed = (await reply.json().catch(() => ({}))) as T & { error?: string };
    if (!reply.ok) throw new Error(parsed.error ?? `HTTP ${reply.status}`);
    return parsed;
  }

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, init);
    } catch (err) {
      // fetch itself failed (no HTTP reply at all): nothing listens there, or it is not reachable.
      if (err instanceof TypeError) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new Error(
          `no daemon answers at ${this.base} (${cause?.code ?? cause?.message ?? err.message}): start \`shardworker serve\`, or give its --host/--port`,
        );
      }
      throw err;
    }
  }
}
