import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadCredentials, passwordFor } from '../../src/topology/credentials.ts';
import { TopologyError } from '../../src/topology/errors.ts';

const SECRET = 'hunter2-s3cret';
let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'shardworker-creds-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function credsFile(text: string): Promise<string> {
  const file = path.join(dir, `creds-${++n}.json`);
  await writeFile(file, text);
  return file;
}

async function refuses(file: string, ...parts: string[]) {
  await assert.rejects(loadCredentials(file), (e: unknown) => {
    assert.ok(e instanceof TopologyError);
    assert.ok(e.message.includes(file), `message ${JSON.stringify(e.message)} does not name the file`);
    for (const part of parts) assert.ok(e.message.includes(part), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(part)}`);
    assert.ok(!e.message.includes(SECRET) && !e.message.includes('hunter2'), `message ${JSON.stringify(e.message)} leaks a password`);
    return true;
  });
}

describe('loadCredentials', () => {
  it('no file means no passwords', async () => {
    const creds = await loadCredentials(undefined);
    assert.deepEqual(Object.keys(creds), []);
    assert.equal(passwordFor(creds, 'root'), undefined);
  });

  it('reads user -> password', async () => {
    const creds = await loadCredentials(await credsFile(JSON.stringify({ root: '', app: SECRET })));
    assert.equal(passwordFor(creds, 'root'), '');
    assert.equal(passwordFor(creds, 'app'), SECRET);
    assert.equal(creds.app, SECRET);
    assert.equal(passwordFor(creds, 'nobody'), undefined);
  });

  it('does not find Object.prototype members as passwords', async () => {
    const creds = await loadCredentials(await credsFile('{"root": "x", "__proto__": "p"}'));
    assert.equal(passwordFor(creds, 'constructor'), undefined);
    assert.equal(passwordFor(creds, 'toString'), undefined);
    assert.equal(creds.constructor, undefined);
    assert.equal(passwordFor(creds, '__proto__'), 'p');
  });

  it('names a missing file', async () => {
    const file = path.join(dir, 'missing.json');
    await refuses(file, 'does not exist');
  });

  it('names the file and place of invalid JSON without quoting it', async () => {
    await refuses(await credsFile(`{"root": "${SECRET}" "app": "x"}`), 'invalid JSON at line 1 column');
    await refuses(await credsFile(`{"root": ${SECRET}}`), 'invalid JSON at line 1 column 10');
    await refuses(await credsFile(`{"root": "${SECRET}`), 'invalid JSON');
  });

  it('refuses anything but an object', async () => {
    for (const text of ['[]', '"x"', 'null', '3']) await refuses(await credsFile(text), 'expected a JSON object mapping user to password');
  });

  it('names the user whose password is not a string, without the value', async () => {
    await refuses(await credsFile(`{"root": "", "app": ["${SECRET}"]}`), 'user "app": the password must be a string');
    await refuses(await credsFile('{"app": 1234}'), 'user "app"');
  });
});
