// Global flags stand anywhere on the line (docs/cli.md): `shardworker serve --topo f` is `shardworker --topo f serve`,
// for serve, run, recover and sandbox alike; an unknown flag anywhere is an error naming it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseGlobals, parseJobArgs, refuseUnknownFlags, UsageError } from '../../src/cli/args.ts';
import { TEST_SANDBOX_DIR } from '../helpers/cluster.ts';
import { BIN, startDaemon } from '../helpers/daemon.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'sw-flags-'));
const TOPO = path.join(dir, 'topo.json');
writeFileSync(TOPO, JSON.stringify({ keyspaces: {}, tablets: {} }));

function cli(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
}

describe('parseGlobals', () => {
  const same: [string, string[], string[]][] = [
    ['serve', ['serve', '--topo', 'file:topo.json', '--port', '0'], ['--topo', 'file:topo.json', '--port', '0', 'serve']],
    ['run', ['run', '--topo', 'file:topo.json', 'SplitClone', 'commerce/0'], ['--topo', 'file:topo.json', 'run', 'SplitClone', 'commerce/0']],
    [
      'run, flags among the options',
      ['run', 'SplitClone', '--topo=file:topo.json', '--chunk-count', '5', '--port', '0', 'commerce/0'],
      ['--port', '0', '--topo', 'file:topo.json', 'run', 'SplitClone', '--chunk-count', '5', 'commerce/0'],
    ],
    [
      'recover',
      ['recover', 'commerce/0', '--topo', 'file:topo.json', '--log-level', 'warn'],
      ['--log-level', 'warn', '--topo', 'file:topo.json', 'recover', 'commerce/0'],
    ],
    ['sandbox', ['sandbox', 'up', '--dir', 'd', '--log-level', 'warn'], ['--log-level', 'warn', 'sandbox', 'up', '--dir', 'd']],
  ];
  for (const [name, after, before] of same) {
    test(`${name}: flags after the command word parse as before it`, () => {
      assert.deepEqual(parseGlobals(after), parseGlobals(before));
    });
  }
  test('the command keeps its own words in order, the globals taken out', () => {
    const p = parseGlobals(['run', 'SplitClone', '--topo', 'file:t', '--tables', 'a,b', '--public-status', 'ks/0']);
    assert.equal(p.command, 'run');
    assert.deepEqual(p.rest, ['SplitClone', '--tables', 'a,b', 'ks/0']);
    assert.equal(p.globals.topo, 'file:t');
    assert.equal(p.globals.publicStatus, true);
    assert.deepEqual(parseJobArgs(p.rest).options, { tables: 'a,b' });
  });
  test('--help after the command word', () => {
    assert.equal(parseGlobals(['serve', '--help']).globals.help, true);
    assert.equal(parseGlobals(['run', 'SplitClone', '-h']).globals.help, true);
  });
  test('an unknown flag before the command is refused by name', () => {
    assert.throws(
      () => parseGlobals(['--bogus', 'serve']),
      (e: unknown) => e instanceof UsageError && e.message === 'unknown flag --bogus',
    );
  });
  test('an unknown flag after the command word is refused by name, whatever the command', () => {
    assert.throws(() => refuseUnknownFlags('serve', parseGlobals(['serve', '--topo', 'f', '--bogus']).rest), /^UsageError: unknown flag --bogus for serve$/);
    assert.throws(() => parseJobArgs(parseGlobals(['run', 'SplitClone', '--bogus', '--topo', 'f', 'ks/0']).rest), /unknown option --bogus for SplitClone/);
    assert.throws(() => parseGlobals(['--bogus', 'sandbox', 'status']), /unknown flag --bogus/);
    assert.doesNotThrow(() => refuseUnknownFlags('recover', parseGlobals(['recover', '--topo', 'f', 'ks/0']).rest));
  });
  test('a global flag without its value, after the command, is refused by name', () => {
    assert.throws(() => parseGlobals(['serve', '--port']), /flag --port needs a value/);
    assert.throws(() => parseGlobals(['serve', '--port', 'x']), /--port: expected 0 to 65535/);
  });
});

describe('the shardworker command line, flags before and after the command word', () => {
  test('serve --topo file:… --port 0 listens (and so does the other order)', async () => {
    for (const args of [
      ['serve', '--topo', `file:${TOPO}`, '--port', '0', '--log-level', 'warn'],
      ['--topo', `file:${TOPO}`, '--port', '0', '--log-level', 'warn', 'serve'],
    ]) {
      const daemon = await startDaemon(args);
      try {
        const res = await fetch(`${daemon.url}/healthz`);
        assert.equal(res.status, 200, args.join(' '));
      } finally {
        daemon.proc.kill('SIGTERM');
        await daemon.exited;
      }
    }
  });

  test('run --topo file:… SplitClone commerce/0 reads the topology (the job fails on its unknown keyspace, exit 1)', () => {
    for (const args of [
      ['run', '--topo', `file:${TOPO}`, '--port', '0', '--log-level', 'warn', 'SplitClone', 'commerce/0'],
      ['run', 'SplitClone', '--topo', `file:${TOPO}`, '--port', '0', '--log-level', 'warn', 'commerce/0'],
    ]) {
      const r = cli(args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout + r.stderr, /unknown keyspace "commerce"/, args.join(' '));
    }
  });

  test('recover --topo file:… (and --topo file:… recover) finds nothing to give back', () => {
    for (const args of [
      ['recover', '--log-level', 'warn', '--topo', `file:${TOPO}`],
      ['--topo', `file:${TOPO}`, 'recover'],
    ]) {
      const r = cli(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, 'no tablet is held by a worker\n');
    }
  });

  test('sandbox status --dir … --log-level warn (and the other order) report the test sandbox', () => {
    const outputs = [
      ['sandbox', 'status', '--dir', TEST_SANDBOX_DIR, '--log-level', 'warn'],
      ['--log-level', 'warn', 'sandbox', 'status', '--dir', TEST_SANDBOX_DIR],
    ].map((args) => {
      const r = cli(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      return r.stdout;
    });
    assert.equal(outputs[0], outputs[1]);
  });

  // Each place an unknown flag can stand is checked in-process (parseGlobals, refuseUnknownFlags, parseJobArgs);
  // two spawns show the exit code and the message as the process prints them.
  const unknown: [string[], string][] = [
    [['--bogus', 'serve'], 'unknown flag --bogus'],
    [['recover', '--bogus', '--topo', `file:${TOPO}`], 'unknown flag --bogus for recover'],
  ];
  for (const [args, message] of unknown) {
    test(`${args.join(' ')}: exit 2, "${message}"`, () => {
      const r = cli(args);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr, `shardworker: ${message}\n`);
    });
  }
});
