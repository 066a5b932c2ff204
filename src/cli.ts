// The process entry point: parse the command line, run the command, exit with its code.

import { assertMysql2Internals } from './mysql/wire/mysql2-internals.ts';
import { cliOptionMessage, parseGlobals, parseJobArgs, refuseUnknownFlags, UsageError } from './cli/args.ts';
import { run, serve } from './cli/daemon.ts';
import { CTL_HELP, MAIN_HELP, RECOVER_HELP, runHelp, SANDBOX_HELP, SERVE_HELP, STREAM_HELP, TOPO_HELP } from './cli/help.ts';
import { sandboxCommand } from './cli/sandbox.ts';
import { ctlCommand } from './cli/ctl-command.ts';
import { parseServeOptions, streamCommand } from './cli/stream-command.ts';
import { topoCommand } from './cli/topo.ts';
import { loadCredentials, loadDbTls } from './topology/credentials.ts';
import { openTopology } from './topology/server.ts';
import { recoverTablets } from './worker/recover.ts';
import { validateRequest } from './worker/controller.ts';
import { OptionError } from './worker/options.ts';
import { COMMANDS, type CommandName } from './worker/status.ts';

async function main(argv: string[]): Promise<number> {
  assertMysql2Internals(); // a mysql2 that is not the pinned one fails here, naming what it lacks, not mid-copy
  const { globals, command, rest } = parseGlobals(argv);
  const wantsHelp = globals.help || rest.includes('--help') || rest.includes('-h');
  switch (command) {
    case undefined:
    case 'help':
      process.stdout.write(MAIN_HELP);
      return command === undefined && !globals.help ? 2 : 0;
    case 'serve':
      if (wantsHelp) return print(SERVE_HELP);
      await serve(globals, parseServeOptions(rest));
      return -1; // keeps running
    case 'run': {
      if (wantsHelp) return print(runHelp(COMMANDS.includes(rest[0] as CommandName) ? (rest[0] as CommandName) : undefined));
      const args = parseJobArgs(rest);
      const request = { command: args.command, keyspace: args.keyspace, shard: args.shard, options: args.options };
      validateRequest(request); // bad flags fail before anything listens or connects
      return run(globals, request);
    }
    case 'recover': {
      if (wantsHelp) return print(RECOVER_HELP);
      refuseUnknownFlags(command, rest);
      if (!globals.topo) throw new UsageError('--topo is required (e.g. --topo file:topo.json)');
      if (rest.length > 1) throw new UsageError(`recover takes at most one keyspace/shard, got ${rest.join(' ')}`);
      const [keyspace, shard] = rest[0] ? rest[0].split('/') : [];
      if (rest[0] && (!keyspace || !shard)) throw new UsageError(`expected keyspace/shard, got ${JSON.stringify(rest[0])}`);
      const tls = await loadDbTls(globals.dbCaFile);
      const topo = await openTopology(globals.topo);
      const { lines, failed } = await recoverTablets(topo, await loadCredentials(globals.dbCredentialsFile), { keyspace, shard }, tls);
      process.stdout.write(lines.join('\n') + '\n');
      return failed ? 1 : 0;
    }
    case 'stream':
      if (wantsHelp) return print(STREAM_HELP);
      return streamCommand(globals, rest);
    case 'ctl':
      if (wantsHelp) return print(CTL_HELP);
      return ctlCommand(globals, rest);
    case 'sandbox':
      if (wantsHelp) return print(SANDBOX_HELP);
      return sandboxCommand(rest, globals.topo);
    case 'topo':
      if (wantsHelp) return print(TOPO_HELP);
      return topoCommand(globals, rest);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}; see shardworker --help`);
  }
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    const message = err instanceof OptionError ? cliOptionMessage(err) : err instanceof Error ? err.message : String(err);
    process.stderr.write(`shardworker: ${message}\n`);
    process.exit(err instanceof UsageError || err instanceof OptionError ? 2 : 1);
  },
);
