// Locates the MariaDB server binaries the sandbox runs, and says how to install them when they are missing.

import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export const INSTALL_HINT = 'install it with `sudo apt-get install -y mariadb-server` (or `bash scripts/ensure-mariadb.sh`)';

export class MariadbMissingError extends Error {
  constructor(binary: string) {
    super(`${binary} not found (looked on PATH and in /usr/sbin, /usr/bin, /usr/local/sbin, /usr/local/bin): ${INSTALL_HINT}`);
    this.name = 'MariadbMissingError';
  }
}

export interface MariadbBinaries {
  mariadbd: string;
  installDb: string;
}

// Debian puts mariadbd in /usr/sbin, which is often not on a non-root PATH.
const EXTRA_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/usr/local/mysql/bin'];

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** First executable called one of `names` on PATH or in the usual system dirs; undefined if none. */
export function findBinary(names: readonly string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

let cached: MariadbBinaries | undefined;

/** The server and installer binaries; throws MariadbMissingError (with the install command) when absent. */
export function mariadbBinaries(): MariadbBinaries {
  if (cached) return cached;
  const mariadbd = findBinary(['mariadbd', 'mysqld']);
  if (!mariadbd) throw new MariadbMissingError('mariadbd');
  const installDb = findBinary(['mariadb-install-db', 'mysql_install_db']);
  if (!installDb) throw new MariadbMissingError('mariadb-install-db');
  cached = { mariadbd, installDb };
  return cached;
}
