// Logging: pino JSON to the process's stream, and the job's last lines kept for the status page.

import { Writable } from 'node:stream';
import pino, { type DestinationStream, type Logger } from 'pino';

/** The last `capacity` log lines, formatted for people. */
export class LogRing {
  readonly #capacity: number;
  #lines: string[] = [];

  constructor(capacity = 200) {
    this.#capacity = capacity;
  }

  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#capacity) this.#lines.splice(0, this.#lines.length - this.#capacity);
  }

  lines(last = 50): string[] {
    return this.#lines.slice(-last);
  }
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const CONTEXT_KEYS = ['table', 'chunk', 'tablet', 'source', 'step', 'doing'];

export function formatLogLine(record: Record<string, unknown>): string {
  const time = new Date(Number(record.time)).toISOString().slice(11, 19);
  const level = LEVEL_NAMES[Number(record.level)] ?? String(record.level);
  const context = CONTEXT_KEYS.filter((k) => record[k] !== undefined).map((k) => `${k}=${String(record[k])}`);
  const err = record.err as { message?: string } | undefined;
  return [time, level, String(record.msg ?? ''), ...context, err?.message ? `error=${err.message}` : ''].filter(Boolean).join(' ');
}

function ringStream(ring: LogRing): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          ring.push(formatLogLine(JSON.parse(line) as Record<string, unknown>));
        } catch {
          ring.push(line);
        }
      }
      done();
    },
  });
}

export interface LogOptions {
  level: string;
  /** Where JSON lines go (stdout for the daemon; stderr for `run`, whose stdout is the status text). */
  destination: DestinationStream;
}

/** A logger for one job: JSON to the process's destination and readable lines to the job's ring. */
export function jobLogger(opts: LogOptions, ring: LogRing, bindings: Record<string, unknown>): Logger {
  const streams = pino.multistream([
    { level: opts.level as pino.Level, stream: opts.destination },
    { level: 'info', stream: ringStream(ring) },
  ]);
  return pino({ level: minLevel(opts.level), base: bindings }, streams);
}

function minLevel(level: string): string {
  const order = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
  return order.indexOf(level) >= 0 && order.indexOf(level) < order.indexOf('info') ? level : 'info';
}
