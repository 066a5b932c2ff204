// One error type for everything wrong with a topology: a bad file, a malformed entry, a missing shard.

export class TopologyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TopologyError';
  }
}

/** Why a file could not be read, in words (Node's "EISDIR: illegal operation on a directory, read" says it poorly). */
export function readFailure(err: NodeJS.ErrnoException): string {
  if (err.code === 'EISDIR') return 'it is a directory, not a file';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  return err.message;
}
