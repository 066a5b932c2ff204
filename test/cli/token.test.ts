// --auth-token-file: each bad file is refused with a message naming the file, and never quoting its content.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { UsageError } from '../../src/cli/args.ts';
import { readAuthToken } from '../../src/cli/token.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'sw-token-'));
let n = 0;
function file(content: string): string {
  const f = path.join(dir, `token-${++n}`);
  writeFileSync(f, content);
  return f;
}

const SHORT = 'short-secret';

describe('readAuthToken', () => {
  test('trims the newline an editor or echo leaves', async () => {
    assert.equal(await readAuthToken(file('  0123456789abcdef0123\n')), '0123456789abcdef0123');
  });

  const bad: Array<[string, () => string, RegExp]> = [
    ['missing', () => path.join(dir, 'nope'), /does not exist$/],
    ['a directory', () => dir, /is a directory$/],
    ['empty', () => file(''), /is empty; put a token of at least 16 characters in it/],
    ['only whitespace', () => file(' \n\t\n'), /is empty/],
    ['too short', () => file(`${SHORT}\n`), /the token has 12 characters; use at least 16 \(e\.g\. openssl rand -hex 32 > /],
    ['two lines', () => file('0123456789abcdef\n0123456789abcdef\n'), /one line of printable ASCII without spaces/],
    ['a space inside', () => file('0123456789 abcdef0123'), /one line of printable ASCII/],
    ['not ASCII', () => file('0123456789abcdéf0123'), /one line of printable ASCII/],
  ];
  for (const [name, make, message] of bad) {
    test(`refuses a file that is ${name}, naming it`, async () => {
      const f = make();
      await assert.rejects(readAuthToken(f), (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.ok(e.message.startsWith(`--auth-token-file ${f}`), e.message);
        assert.match(e.message, message);
        assert.ok(!e.message.includes(SHORT) && !e.message.includes('0123456789'), `quotes the token: ${e.message}`);
        return true;
      });
    });
  }
});

describe('shardworker serve --auth-token-file', () => {
  const BIN = new URL('../../bin/shardworker.js', import.meta.url).pathname;

  test('a bad token file stops it before it listens: exit 2 and the reason', () => {
    const f = file(SHORT);
    const r = spawnSync(process.execPath, [BIN, '--topo', 'file:/nonexistent/topo.json', '--auth-token-file', f, '--port', '0', 'serve'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^shardworker: --auth-token-file ${f}: the token has 12 characters`));
    assert.ok(!r.stderr.includes(SHORT));
  });

  test('no token file: a non-loopback host is refused', () => {
    const r = spawnSync(process.execPath, [BIN, '--topo', 'file:/nonexistent/topo.json', '--host', '0.0.0.0', '--port', '0', 'serve'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without --auth-token-file/);
  });
});
