// Command-line parsing (docs/cli.md): global flags anywhere on the line, before or after the command word; the
// command, then its options and `keyspace/shard`. An unknown flag anywhere is an error naming it.

import { type OptionError, kebab, optionsFor, parseDuration, OPTION_DEFS } from '../worker/options.ts';
import { COMMANDS, type CommandName } from '../worker/status.ts';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface GlobalFlags {
  topo: string | undefined;
  dbCredentialsFile: string | undefined;
  dbCaFile: string | undefined;
  host: string;
  port: number;
  retryDuration: number;
  authTokenFile: string | undefined;
  publicStatus: boolean;
  logLevel: string;
  help: boolean;
}

const GLOBAL_VALUE_FLAGS = [
  '--topo',
  '--db-credentials-file',
  '--db-ca-file',
  '--host',
  '--port',
  '--retry-duration',
  '--auth-token-file',
  '--log-level',
] as const;
const GLOBAL_BOOLEAN_FLAGS = ['--public-status', '--help', '-h'] as const;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export { parseDuration };

/** Splits `--flag=value` into two words, so both spellings work everywhere. */
function words(argv: readonly string[]): string[] {
  return argv.flatMap((a) => (a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a]));
}

export interface Parsed {
  globals: GlobalFlags;
  /** The command word (`serve`, `run`, `sandbox`, `recover`) and what follows it, global flags taken out. */
  command: string | undefined;
  rest: string[];
}

const isGlobalValueFlag = (w: string): w is (typeof GLOBAL_VALUE_FLAGS)[number] => (GLOBAL_VALUE_FLAGS as readonly string[]).includes(w);
const isGlobalBooleanFlag = (w: string): boolean => (GLOBAL_BOOLEAN_FLAGS as readonly string[]).includes(w);

/** A flag-looking word (`--x`, `-x`), not a negative number or a lone `-`. */
const looksLikeFlag = (w: string): boolean => /^--?[A-Za-z]/.test(w);

export function parseGlobals(argv: readonly string[]): Parsed {
  const globals: GlobalFlags = {
    topo: undefined,
    dbCredentialsFile: undefined,
    dbCaFile: undefined,
    host: '127.0.0.1',
    port: 8080,
    retryDuration: 2 * 3_600_000,
    authTokenFile: undefined,
    publicStatus: false,
    logLevel: 'info',
    help: false,
  };
  // Global flags are taken out wherever they stand (`serve --topo f` is `--topo f serve`); the command's own words
  // keep their order. Before the command word only global flags may stand; after it, the command's parser refuses
  // what it does not know (job options, sandbox flags), naming it.
  const list = words(argv);
  let command: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const w = list[i];
    if (isGlobalBooleanFlag(w)) {
      if (w === '--public-status') globals.publicStatus = true;
      else globals.help = true;
      continue;
    }
    if (isGlobalValueFlag(w)) {
      const value = list[++i];
      if (value === undefined) throw new UsageError(`flag ${w} needs a value`);
      setGlobal(globals, w, value);
      continue;
    }
    if (command === undefined) {
      if (looksLikeFlag(w)) throw new UsageError(`unknown flag ${w}`);
      command = w;
    } else {
      rest.push(w);
    }
  }
  return { globals, command, rest };
}

/** For commands that take no flags of their own (`serve`, `recover`): a flag left after the globals is unknown. */
export function refuseUnknownFlags(command: string, rest: readonly string[]): void {
  const flag = rest.find(looksLikeFlag);
  if (flag !== undefined) throw new UsageError(`unknown flag ${flag} for ${command}`);
}

function setGlobal(g: GlobalFlags, flag: (typeof GLOBAL_VALUE_FLAGS)[number], value: string): void {
  switch (flag) {
    case '--topo':
      g.topo = value;
      break;
    case '--db-credentials-file':
      g.dbCredentialsFile = value;
      break;
    case '--db-ca-file':
      g.dbCaFile = value;
      break;
    case '--host':
      g.host = value;
      break;
    case '--port': {
      const port = /^\d+$/.test(value) ? Number(value) : NaN;
      if (!(port >= 0 && port <= 65535)) throw new UsageError(`--port: expected 0 to 65535, got ${JSON.stringify(value)}`);
      g.port = port;
      break;
    }
    case '--retry-duration': {
      const ms = parseDuration(value);
      if (ms === undefined) throw new UsageError(`--retry-duration: expected a duration like 30s, 2m or 2h, got ${JSON.stringify(value)}`);
      g.retryDuration = ms;
      break;
    }
    case '--auth-token-file':
      g.authTokenFile = value;
      break;
    case '--log-level':
      if (!LOG_LEVELS.includes(value)) throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
      g.logLevel = value;
      break;
  }
}

export interface JobArgs {
  command: CommandName;
  keyspace: string;
  shard: string;
  /** camelCase option → raw text, validated later by parseOptions (one place for CLI and HTTP). */
  options: Record<string, string>;
}

/** `<Command> [--option value …] <keyspace/shard>` (MigrateServedTypes: then the served type) */
export function parseJobArgs(rest: readonly string[]): JobArgs {
  const list = words(rest);
  const command = list[0];
  if (!command) throw new UsageError(`run needs a command: ${COMMANDS.join(', ')}`);
  if (!(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`unknown command ${JSON.stringify(command)} (known: ${COMMANDS.join(', ')})`);
  const defs = optionsFor(command as CommandName);
  const options: Record<string, string> = {};
  let target: string | undefined;
  for (let i = 1; i < list.length; i++) {
    const w = list[i];
    if (w.startsWith('--')) {
      const def = OPTION_DEFS.find((d) => '--' + kebab(d.name) === w);
      if (!def) throw new UsageError(`unknown option ${w} for ${command}`);
      if (!defs.includes(def)) throw new UsageError(`option ${w} does not apply to ${command}`);
      if (def.kind === 'boolean') {
        // A switch: `--verify` alone is true; `--verify false` (or `--verify=false`) says it outright.
        const next = list[i + 1];
        options[def.name] = next === 'true' || next === 'false' ? list[++i] : 'true';
        continue;
      }
      const value = list[++i];
      if (value === undefined) throw new UsageError(`option ${w} needs a value`);
      options[def.name] = value;
    } else if (target === undefined) {
      target = w;
    } else if (command === 'MigrateServedTypes' && options.servedType === undefined) {
      // Vitess's order: `MigrateServedTypes [--reverse] keyspace/shard servedType`.
      options.servedType = w;
    } else {
      throw new UsageError(`unexpected argument ${JSON.stringify(w)} after ${target}`);
    }
  }
  if (!target) throw new UsageError(`${command} needs keyspace/shard`);
  const slash = target.indexOf('/');
  if (slash <= 0 || slash === target.length - 1 || target.indexOf('/', slash + 1) >= 0)
    throw new UsageError(`expected keyspace/shard, got ${JSON.stringify(target)}`);
  return { command: command as CommandName, keyspace: target.slice(0, slash), shard: target.slice(slash + 1), options };
}

/** Turns an OptionError from shared validation into the CLI's words (flags in kebab-case). */
export function cliOptionMessage(err: OptionError): string {
  return err.message.replace(/\boption (\w+)/, (_m, name: string) => `--${kebab(name)}`);
}
