// Database passwords (`--db-credentials-file`): a JSON object mapping user to password.
// No error here may carry a password, so JSON parse messages (which quote the text) are never passed on.

import { readFile } from 'node:fs/promises';
import { TopologyError, readFailure } from './errors.ts';
import { jsonErrorPlace } from './json.ts';
import type { Credentials, DbTls } from './types.ts';

/** Reads the credentials file; no path means no passwords. */
export async function loadCredentials(file: string | undefined): Promise<Credentials> {
  if (file === undefined) return Object.create(null) as Credentials;
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, ''); // a byte-order mark is no syntax error
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new TopologyError(`credentials file ${file} does not exist`);
    throw new TopologyError(`cannot read credentials file ${file}: ${readFailure(err)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TopologyError(`credentials file ${file}: invalid JSON ${jsonErrorPlace(e, text)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TopologyError(`credentials file ${file}: expected a JSON object mapping user to password`);
  }
  // Null prototype: a user named "constructor" must not find Object's.
  const creds = Object.create(null) as Credentials;
  for (const [user, password] of Object.entries(raw)) {
    if (typeof password !== 'string') throw new TopologyError(`credentials file ${file}: user ${JSON.stringify(user)}: the password must be a string`);
    creds[user] = password;
  }
  return creds;
}

/** The password of `user`, or undefined to connect without one. */
export function passwordFor(creds: Credentials, user: string): string | undefined {
  return Object.hasOwn(creds, user) ? creds[user] : undefined;
}

/** Reads the CA bundle (`--db-ca-file`) tablets with `tls: true` are verified against; no path means the system CAs. */
export async function loadDbTls(file: string | undefined): Promise<DbTls> {
  if (file === undefined) return {};
  let ca: Buffer;
  try {
    ca = await readFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new TopologyError(`CA file ${file} does not exist`);
    throw new TopologyError(`cannot read CA file ${file}: ${readFailure(err)}`);
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new TopologyError(`CA file ${file}: expected PEM certificates (-----BEGIN CERTIFICATE-----)`);
  return { ca };
}
