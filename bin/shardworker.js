#!/usr/bin/env -S MALLOC_TRIM_THRESHOLD_=134217728 node --max-semi-space-size=4
// Entry point for `npx shardworker`: the bundle `npm run build` makes (dist/shardworker.mjs) while it is newer than
// every source file, else the TypeScript CLI through tsx's loader (slower to start, never stale).
// --max-semi-space-size=4: V8 grows the young generation to 16 MiB semi-spaces under a copy's steady allocation,
// which only added about 40 MB of RSS (measured with the bench) and no speed: the copy keeps little alive.
// MALLOC_TRIM_THRESHOLD_ (glibc): Node reads each socket chunk into a fresh 64 KiB buffer that V8 frees in bursts
// after a collection; glibc then handed the heap's top back to the kernel and faulted it in again at the next
// reads (measured: up to 3x the page faults, and the worker's kernel time doubled). 128 MiB of free heap is kept.
// Read once at start-up: removed here so that processes the CLI starts (mariadbd in a sandbox) do not inherit it.
if (process.env.MALLOC_TRIM_THRESHOLD_ === '134217728') delete process.env.MALLOC_TRIM_THRESHOLD_;
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = new URL('../dist/shardworker.mjs', import.meta.url);

/** The newest modification time under `dir` (ms), or Infinity when it cannot be read (the bundle is not used). */
function newest(dir) {
  try {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }
    return t;
  } catch {
    return Infinity;
  }
}

function bundleIsFresh() {
  try {
    const built = statSync(bundle).mtimeMs;
    return built >= newest(fileURLToPath(new URL('../src', import.meta.url))) && built >= statSync(new URL('../package-lock.json', import.meta.url)).mtimeMs;
  } catch {
    return false;
  }
}

if (bundleIsFresh()) {
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
