// The pages' stylesheet and the status page's script, served as files of their own rather than inside every page:
// a browser fetches them once (their URLs carry a hash of their content, so a new release is a new URL), and a page
// polled or reloaded by a wall dashboard is a few kilobytes instead of twenty-odd.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

/** The URLs the templates link to (`it.assets` in every view). */
export interface AssetUrls {
  css: string;
  statusJs: string;
}

interface Asset {
  body: Buffer;
  type: string;
  hash: string;
}

/** Where assets are served from: open to anyone (access.ts), as they hold no data. */
export const ASSETS_PREFIX = '/assets/';

const FILES: Record<keyof AssetUrls, { file: string; type: string }> = {
  css: { file: 'shardworker.css', type: 'text/css; charset=utf-8' },
  statusJs: { file: 'status.js', type: 'text/javascript; charset=utf-8' },
};

/** Reads the assets under `viewsDir`/assets once, and registers GET /assets/<file>. Returns their URLs. */
export function registerAssets(app: FastifyInstance, viewsDir: string): AssetUrls {
  const byFile = new Map<string, Asset>();
  const urls = {} as AssetUrls;
  for (const [key, { file, type }] of Object.entries(FILES) as [keyof AssetUrls, { file: string; type: string }][]) {
    const body = readFileSync(path.join(viewsDir, 'assets', file));
    const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
    byFile.set(file, { body, type, hash });
    urls[key] = `${ASSETS_PREFIX}${file}?v=${hash}`;
  }
  app.get<{ Params: { file: string }; Querystring: { v?: string } }>(`${ASSETS_PREFIX}:file`, async (request, reply) => {
    const asset = byFile.get(request.params.file);
    if (!asset) return reply.code(404).send({ error: `no asset ${request.params.file}` });
    // A URL with this content's hash may be kept for good; any other (no hash, an older one) is checked each time.
    const cache = request.query.v === asset.hash ? 'public, max-age=31536000, immutable' : 'no-cache';
    return reply.type(asset.type).header('cache-control', cache).header('etag', `"${asset.hash}"`).send(asset.body);
  });
  return urls;
}
