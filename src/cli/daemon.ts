// `serve` and `run`: the process around the app. Wires the topology, credentials, job controller and HTTP app,
// listens, and shuts down gracefully (cancel the job, wait for cleanup, close the server).

import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { buildApp } from '../http/app.ts';
import { isDiffCommand } from '../http/view-models.ts';
import { loadCredentials, loadDbTls } from '../topology/credentials.ts';
import { openTopology, type TopologyServer } from '../topology/server.ts';
import { JobController } from '../worker/controller.ts';
import type { JobDeps } from '../worker/tablet-session.ts';
import type { JobRequest, StatusSnapshot } from '../worker/status.ts';
import type { GlobalFlags } from './args.ts';
import { UsageError } from './args.ts';
import { statusText } from './status-text.ts';
import { readAuthToken } from './token.ts';
import { openSourceBinlog } from '../stream/binlog-reader.ts';
import { StreamManager } from '../stream/manager.ts';
import type { ServeOptions } from './stream-command.ts';

interface Daemon {
  app: FastifyInstance;
  topo: TopologyServer;
  jobs: JobController;
  /** The streams, under `serve` only. */
  streams: StreamManager | null;
  url: string;
  log: Logger;
}

async function startDaemon(
  globals: GlobalFlags,
  logTo: NodeJS.WritableStream & { fd?: number },
  onEnded?: (s: StatusSnapshot) => void,
  serveOptions?: ServeOptions,
): Promise<Daemon> {
  if (!globals.topo) throw new UsageError('--topo is required (e.g. --topo file:topo.json)');
  if (globals.host !== '127.0.0.1' && globals.host !== 'localhost' && globals.host !== '::1' && !globals.authTokenFile) {
    throw new UsageError(`refusing to listen on ${globals.host} without --auth-token-file: without a token anyone who reaches it could start or cancel a job`);
  }
  // Read before anything else is opened, so a bad token file fails fast.
  const token = globals.authTokenFile === undefined ? undefined : await readAuthToken(globals.authTokenFile);
  const tls = await loadDbTls(globals.dbCaFile); // read once; every job's pools use it
  const topo = await openTopology(globals.topo);
  await topo.read(); // a bad file is refused now, not at the first job
  const credentials = await loadCredentials(globals.dbCredentialsFile);
  const destination = pino.destination({ fd: logTo === process.stderr ? 2 : 1, sync: false });
  const log = pino({ level: globals.logLevel === 'silent' ? 'silent' : globals.logLevel }, destination);
  let streams: StreamManager | null = null;
  const jobEnded = (s: StatusSnapshot) => {
    onEnded?.(s);
    // A clone that ended has written fresh checkpoint rows and sourceShards: its streams start now.
    if (streams && s.state === 'done' && s.job && /Clone$/.test(s.job.command)) {
      void streams.refresh({ restart: true }).catch((err: unknown) => log.error({ err: String(err) }, 'starting the streams after the clone failed'));
    }
  };
  const jobDeps: JobDeps = { topo, credentials, tls, retryDuration: globals.retryDuration };
  const jobs = new JobController(jobDeps, { level: globals.logLevel, destination }, { onEnded: jobEnded });
  if (serveOptions) {
    streams = new StreamManager({
      topo,
      credentials,
      tls,
      openBinlog: openSourceBinlog,
      log,
      retryDuration: globals.retryDuration,
      tabletType: serveOptions.streamTabletType,
      onDdl: serveOptions.onDdl,
    });
    await streams.open();
    // MigrateServedTypes primary drains and turns round these streams.
    jobDeps.streams = streams;
  }
  if (globals.publicStatus && token === undefined) log.warn('--public-status has no effect without --auth-token-file: everything is open (on loopback only)');
  const auth = token === undefined ? undefined : { token, publicStatus: globals.publicStatus };
  const app = await buildApp({ jobs, readTopology: () => topo.read(), logger: false, auth, streams: streams ?? undefined });
  await app.listen({ host: globals.host, port: globals.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : globals.port;
  const host = globals.host.includes(':') ? `[${globals.host}]` : globals.host;
  return { app, topo, jobs, streams, url: `http://${host}:${port}`, log };
}

/** SIGINT/SIGTERM: cancel the job, let its cleanup finish, then `after`. A second signal does not skip cleanup. */
function onSignals(jobs: JobController, log: Logger, after: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    log.warn({ signal }, stopping ? 'still cleaning up; waiting' : 'signal received: canceling the job and cleaning up');
    if (stopping) return;
    stopping = true;
    jobs.cancel();
    void jobs.settled().then(after);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

export async function serve(globals: GlobalFlags, options: ServeOptions): Promise<void> {
  const d = await startDaemon(globals, process.stdout, undefined, options);
  d.log.info({ url: d.url }, 'shardworker listening');
  process.stderr.write(`shardworker listening on ${d.url}\n`);
  onSignals(d.jobs, d.log, async () => {
    // Streams stop between transactions or roll back the one in flight: each resumes from its row next time.
    await d.streams?.close();
    await d.app.close();
    await d.topo.close(); // gives back the lease and with it any lock at once
    process.exit(0);
  });
}

export async function run(globals: GlobalFlags, request: JobRequest): Promise<number> {
  let ended: (s: StatusSnapshot) => void = () => {};
  const endedPromise = new Promise<StatusSnapshot>((resolve) => (ended = resolve));
  // Logs go to stderr: stdout is the status text.
  const d = await startDaemon({ ...globals, logLevel: globals.logLevel }, process.stderr, (s) => ended(s));
  const cpuAtStart = process.cpuUsage();
  try {
    await d.jobs.start(request);
  } catch (err) {
    await d.app.close();
    await d.topo.close();
    throw err;
  }
  process.stdout.write(`status page: ${d.url}/status\n`);
  process.stdout.write('streams (filtered replication from the checkpoint) run under `shardworker serve`, not `run`\n');
  const timer = setInterval(() => process.stdout.write(statusText(d.jobs.snapshot()) + '\n'), 1000);
  let interrupted = false;
  onSignals(d.jobs, d.log, async () => {
    interrupted = true;
  });
  const final = await endedPromise;
  // The worker's own CPU over the job (start-up excluded): on a shared host, what the copy takes from the servers.
  const cpu = process.cpuUsage(cpuAtStart);
  clearInterval(timer);
  process.stdout.write(statusText(final) + '\n');
  await d.app.close();
  await d.topo.close();
  if (final.state === 'done') {
    const what = final.cutover
      ? `${final.cutover.servedType} moved${final.cutover.writePauseMs === null ? '' : ` (write pause ${final.cutover.writePauseMs} ms)`}`
      : isDiffCommand(final.job?.command)
        ? `${final.totals.rowsCopied} source rows compared`
        : `${final.totals.rowsCopied} rows copied`;
    process.stdout.write(`done: ${what} in ${elapsed(final)} (worker CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s)\n`);
    return 0;
  }
  process.stderr.write(`${request.command} ${final.state}${interrupted ? ' (interrupted)' : ''}: ${final.error ?? 'no reason recorded'}\n`);
  return 1;
}

function elapsed(s: StatusSnapshot): string {
  if (!s.startedAt || !s.endedAt) return '?';
  return `${((Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000).toFixed(2)}s`;
}
