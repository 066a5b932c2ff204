// `--help` texts, built from the same option table the code validates with.

import { isRequired, kebab, optionsFor } from '../worker/options.ts';
import { STRATEGY_FLAG_NAMES } from '../clone/strategy-flags.ts';
import { COMMANDS, type CommandName } from '../worker/status.ts';

const GLOBAL = `Global flags (anywhere on the line, before or after the command word; docs/cli.md):
  --topo SPEC                  where the topology lives (required for serve, run, recover, topo):
                               file:PATH (a JSON file, the default kind) or
                               etcd://HOST:PORT[,HOST:PORT…]/PREFIX[?lease-ttl=SECONDS] (etcd v3, shared by
                               several daemons; a daemon's shard locks die with it after lease-ttl, default 15)
  --db-credentials-file PATH   JSON object of user -> password; a user missing from it has no password
  --db-ca-file PATH            PEM CA bundle to verify tablets with "tls": true (default: the system CAs)
  --host HOST                  address to listen on (default 127.0.0.1)
  --port PORT                  port to listen on (default 8080; 0 picks a free port and prints it)
  --retry-duration DURATION    how long transient MySQL errors are retried (default 2h; 30s, 2m, 2h)
  --auth-token-file PATH       file holding the token (16+ characters) the daemon asks for: Bearer for
                               POST /api/*, a login for the pages; required to listen beyond loopback
  --public-status              with a token: serve the read-only pages, /api/status and /metrics without one
  --log-level LEVEL            trace, debug, info, warn, error, fatal, silent (default info)`;

export const MAIN_HELP = `shardworker: reshards MySQL/MariaDB databases by key range while operators watch.

Usage:
  shardworker serve --topo file:topo.json [global flags]              the daemon, idle until a job is posted
  shardworker run --topo file:topo.json <Command> [options] <keyspace/shard>
                                                                      one job, status printed every second
  shardworker sandbox up|down|status [--dir DIR] [--base-port N]      local mariadbd cluster for demos and tests
  shardworker recover --topo file:topo.json [keyspace/shard]          give back tablets a dead worker left "worker"
  shardworker topo import FILE [--replace] --topo etcd://H:P/PREFIX   copy a topology file into etcd (or export it)
  shardworker stream start|stop|status [keyspace/shard] [--port P]    the daemon's streams (filtered replication)
  shardworker ctl pause|resume|status [--port P]                      the running job, paused, resumed or shown
  shardworker ctl tune [--max-tps N] [--max-replication-lag D]        …or retuned while it runs
  shardworker <command> --help

An unknown flag anywhere is an error naming it.

Commands for run (and POST /api/jobs): ${COMMANDS.join(', ')}

${GLOBAL}
`;

export const SERVE_HELP = `Usage: shardworker serve --topo file:topo.json [--host H] [--port P] [--db-credentials-file F]
         [--stream-tablet-type replica|rdonly|primary] [--on-ddl stop|exec]

Serves the status pages (/, /status), the JSON API (/api/status, /api/status/view, POST /api/jobs, /api/cancel, /api/reset,
/api/pause, /api/resume, /api/tune, /api/streams/stop, /api/streams/start), /metrics and /healthz. One job runs at a time. Beside it, one stream per
destination shard and source shard in the topology's sourceShards carries the source's writes over from the
destination's _vt.blp_checkpoint row (unless the row says DontStart); streams start when a clone ends and
again when the daemon starts. With several daemons on one topology each stream runs in the one holding its lock
(the others show it as elsewhere and take it over when that daemon's lease expires). A stream stops in error on a
destination table with triggers (they would fire on applied rows): drop them there and create them at cutover.
A SplitDiff or VerticalSplitDiff holds its destination's streams, stops the source tablet at or past their
position, runs them to exactly there (within --wait-timeout), compares, and starts them again.
SIGINT/SIGTERM stops the streams, cancels a running job, waits for its cleanup, then closes the server.

  --stream-tablet-type TYPE    the source tablet streams read the binlog of (default replica; the primary
                               when there is no usable one)
  --on-ddl stop|exec           DDL on a streamed table stops its stream (default), or is applied

${GLOBAL}
`;

export const RECOVER_HELP = `Usage: shardworker recover --topo file:topo.json [--db-credentials-file F] [keyspace/shard]

Finds source tablets left \`worker\` by a worker process that is gone (recorded on this host, pid no longer running),
restarts their replication and restores the type they had. Prints what it did; exits 1 if any could not be recovered.
(To finish such a copy instead, run the same clone again with --resume.)

${GLOBAL}
`;

const MIGRATE_ABOUT = `    The cutover of a split: name a horizontal split's source shard, a vertical split's destination shard.
    rdonly and replica move in one topology change each. primary needs rdonly and replica moved and every
    stream running and under --max-lag behind, and the streams of \`shardworker serve\` (post it to the daemon:
    POST /api/jobs or the index page). Then: writes stop where the primary leaves (a split: the source
    primaries go read_only, open write transactions are ended, never acknowledged; a vertical split: the moved
    tables refuse application writes, the source's other tables write on), the streams drain to their
    positions (else writes are allowed again and nothing else changed), reverse streams are recorded, the
    topology flips, the destinations take writes, the reverse streams start. The status shows each step, the
    write pause and the positions. --reverse moves back (primary first). Application users must not hold
    SUPER or READ_ONLY ADMIN, which read_only does not stop.`;

export function runHelp(command?: CommandName): string {
  const commands = command ? [command] : [...COMMANDS];
  const sections = commands.map((c) => {
    const opts = optionsFor(c).map(
      (d) =>
        `    --${kebab(d.name).padEnd(28)} ${d.help}${isRequired(d, c) ? ' (required)' : ` (default ${d.kind === 'duration' ? `${Number(d.default) / 1000}s` : JSON.stringify(d.default)})`}`,
    );
    const args = c === 'MigrateServedTypes' ? '[options] <keyspace/shard> rdonly|replica|primary' : '[options] <keyspace/shard>';
    const about = c === 'MigrateServedTypes' ? `\n${MIGRATE_ABOUT}` : '';
    return `  ${c} ${args}${about}\n${opts.join('\n')}`;
  });
  return `Usage: shardworker run --topo file:topo.json [--port P] <Command> [options] <keyspace/shard>

Runs one job while serving the same pages, prints the status every second, exits 0 when it is done and 1
otherwise (the reason on stderr). SIGINT/SIGTERM cancels the job, lets cleanup finish, then exits 1.

${sections.join('\n\n')}

Strategy flags (--strategy, space-separated): ${STRATEGY_FLAG_NAMES.join(' ')}

${GLOBAL}
`;
}

export const TOPO_HELP = `Usage: shardworker topo import FILE [--replace] --topo SPEC
       shardworker topo export --topo SPEC

  import   validate the topology file FILE and write it into SPEC (e.g. etcd://127.0.0.1:2379/shardworker) as one
           update; refused when SPEC already holds keyspaces or tablets, unless --replace
  export   print the topology of SPEC as a topology file (JSON) on stdout

Jobs lock every shard they touch, in SPEC: on etcd, keys under PREFIX/locks/ on the daemon's lease.
`;

export const STREAM_HELP = `Usage: shardworker stream start|stop|status [keyspace/shard] [--host H] [--port P] [--auth-token-file F]

Asks the running daemon (\`shardworker serve\` at --host/--port) about the streams feeding a destination shard:
  status   one line per stream: state, position, seconds behind, transactions and rows applied, last error
  stop     stops them and sets DontStart in their _vt.blp_checkpoint rows, so a restarted daemon keeps them stopped
  start    clears DontStart and starts them from their checkpoints
Exits 1 if a stream shown is in error.
`;

export const CTL_HELP = `Usage: shardworker ctl pause|resume|status [--host H] [--port P] [--auth-token-file F]
       shardworker ctl tune [--max-tps N] [--max-replication-lag DURATION] [--host H] [--port P] [--auth-token-file F]

Controls the job the running daemon (\`shardworker serve\`, or \`shardworker run\`, at --host/--port) runs now:
  pause    holds its reads and writes from the next statement on; it keeps its source tablets (still worker,
           replication stopped at its snapshot) and its connections. Prints \`paused\` (or \`already paused\`)
  resume   lets it go on. Prints \`resumed\` (or \`was not paused\`)
  tune     changes --max-tps (write transactions per second per destination, 0 unlimited) and/or
           --max-replication-lag (2s, 500ms; 0 none) at once. Prints \`tuned: max tps N, max replication lag Ds\`
  status   one line: state, writing / paused / throttled and why, time throttled and paused in all, the
           settings and the rate; then one line per destination replica with its lag
Exits 1 when the daemon refuses (no copy or diff running: HTTP 409; no token: 401).
`;

export const SANDBOX_HELP = `Usage: shardworker sandbox up|down|status [--dir DIR] [--base-port N] [--destinations N] [--rows N] [--topo etcd://H:P/PREFIX]

  up       start local mariadbd instances (source primary, rdonly replica, N destination primaries; default 2),
           seed demo data (--rows per table, default 200000) and write DIR/topology.json and DIR/credentials.json
  down     stop the instances this sandbox started (and nothing else)
  status   show each instance and whether it runs
  With --topo etcd://…, up also writes the sandbox's topology into etcd (replacing what the prefix held).

  --dir DIR          where data dirs, logs and files live (default .sandbox)
  --base-port N      first port (default 15300); instances take the next ports
`;
