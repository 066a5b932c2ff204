// Starting a job, shared by the JSON API and the index form: the topology must know the target, then the job
// control validates the options and starts it (OptionError, JobConflictError pass through to the caller).

import type { JobControl } from '../worker/job-control.ts';
import type { CommandName, JobRequest } from '../worker/status.ts';
import type { Topology } from '../topology/types.ts';
import { OPTION_DEFS } from '../worker/options.ts';
import { checkTableNames } from './names.ts';
import { OPTION_FIELD_PREFIX, optionDefaultText } from './view-models.ts';

/** A request naming something that does not exist (HTTP 400, `field` says which). */
export class UnknownTargetError extends Error {
  readonly field: 'keyspace' | 'shard';
  constructor(field: 'keyspace' | 'shard', message: string) {
    super(message);
    this.name = 'UnknownTargetError';
    this.field = field;
  }
}

export interface StartDeps {
  jobs: JobControl;
  readTopology: () => Promise<Topology>;
}

export async function startJob(deps: StartDeps, request: JobRequest): Promise<void> {
  checkTableNames(request.options ?? {});
  const topology = await deps.readTopology();
  const keyspaces = topology.keyspaces ?? {};
  if (!Object.hasOwn(keyspaces, request.keyspace)) {
    throw new UnknownTargetError('keyspace', `keyspace ${request.keyspace} is not in the topology`);
  }
  if (!Object.hasOwn(keyspaces[request.keyspace].shards ?? {}, request.shard)) {
    throw new UnknownTargetError('shard', `shard ${request.keyspace}/${request.shard} is not in the topology`);
  }
  await deps.jobs.start(request);
}

/**
 * The index form's fields (already schema-checked) as a job request. The form shows every default, so a field left
 * empty or as pre-filled is left out: the job's options are what the user changed.
 */
export function requestFromForm(form: Record<string, string>): JobRequest {
  const [keyspace, shard] = form.target.split('/');
  const options: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(form)) {
    if (!key.startsWith(OPTION_FIELD_PREFIX)) continue;
    const name = key.slice(OPTION_FIELD_PREFIX.length);
    const value = raw.trim();
    const def = OPTION_DEFS.find((d) => d.name === name);
    if (value === '' || (def !== undefined && value === optionDefaultText(def))) continue;
    options[name] = value;
  }
  return { command: form.command as CommandName, keyspace, shard, options };
}

/** The option fields of a posted form, by option name, to give them back to the form when it fails. */
export function optionValuesOf(form: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(form ?? {})) {
    if (key.startsWith(OPTION_FIELD_PREFIX) && typeof value === 'string') out[key.slice(OPTION_FIELD_PREFIX.length)] = value;
  }
  return out;
}

/** Parses an `application/x-www-form-urlencoded` body into a plain object (the last of repeated fields wins). */
export function parseForm(body: string): Record<string, string> {
  // Object.fromEntries defines own properties, so a field named __proto__ stays a plain field.
  return Object.fromEntries(new URLSearchParams(body));
}
