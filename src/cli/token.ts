// The daemon's token (`--auth-token-file`): read once at start. No message here quotes the file's content.

import { readFile } from 'node:fs/promises';
import { UsageError } from './args.ts';

/** Shorter tokens can be guessed; `openssl rand -hex 32` makes a good one. */
export const MIN_TOKEN_LENGTH = 16;

export async function readAuthToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT'
        ? 'does not exist'
        : err.code === 'EISDIR'
          ? 'is a directory'
          : err.code === 'EACCES'
            ? 'is not readable (permission denied)'
            : `cannot be read (${err.code ?? err.message})`;
    throw new UsageError(`--auth-token-file ${file} ${why}`);
  }
  // A trailing newline from `echo` or an editor is not part of the token.
  const token = text.trim();
  if (token === '')
    throw new UsageError(
      `--auth-token-file ${file} is empty; put a token of at least ${MIN_TOKEN_LENGTH} characters in it (e.g. openssl rand -hex 32 > ${file})`,
    );
  // Sent in an Authorization header, so printable ASCII without spaces.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError(`--auth-token-file ${file}: the token must be one line of printable ASCII without spaces`);
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new UsageError(
      `--auth-token-file ${file}: the token has ${token.length} characters; use at least ${MIN_TOKEN_LENGTH} (e.g. openssl rand -hex 32 > ${file})`,
    );
  }
  return token;
}
