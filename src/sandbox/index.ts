// The sandbox's public surface: real local mariadbd instances for the demo and the tests.

export * from './binaries.ts';
export * from './connect.ts';
export * from './databases.ts';
export * from './instance.ts';
export * from './replication.ts';
export * from './seed.ts';
export * from './state.ts';
export * from './topology.ts';
export * from './sandbox.ts';
