// One error type for everything wrong with a topology: a bad file, a malformed entry, a missing shard.

export class TopologyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TopologyError';
  }
}
