// The JSON body parser, replacing Fastify's so that each refusal says what is wrong (Fastify's says only "invalid
// JSON"), and so that nothing hostile reaches the handlers: the size is capped by the app's bodyLimit, nesting is
// capped here (option validation and error messages recurse into values and would overflow the stack), and a
// `__proto__` key is refused (Object.assign onto a parsed object would change its prototype).

import { jsonErrorPlace } from '../topology/json.ts';
import { RequestError } from './request-error.ts';

/** Every body the daemon takes is small: a job request is a few hundred bytes. */
export const BODY_LIMIT = 64 * 1024;

/** A job request nests three levels (body, options, a list); this leaves room without risking the stack. */
export const MAX_JSON_DEPTH = 32;

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new RequestError(400, 'the body is empty; expected a JSON object', 'body');
  let value: unknown;
  try {
    value = JSON.parse(text); // V8's parser does not recurse, so deep input cannot overflow it
  } catch (e) {
    throw new RequestError(400, `the body is not valid JSON ${jsonErrorPlace(e, text)}`, 'body');
  }
  checkShape(value, 1, []);
  return value;
}

/** Recurses at most MAX_JSON_DEPTH + 1 levels: deeper input is refused before the stack is at risk. */
function checkShape(value: unknown, depth: number, path: string[]): void {
  if (typeof value !== 'object' || value === null) return;
  if (depth > MAX_JSON_DEPTH) throw new RequestError(400, `the body nests deeper than ${MAX_JSON_DEPTH} levels`, path.length ? path.join('.') : 'body');
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) checkShape(item, depth + 1, [...path, String(i)]);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    if (key === '__proto__') throw new RequestError(400, 'the body holds a key named __proto__, which is never a field', [...path, key].join('.'));
    checkShape(item, depth + 1, [...path, key]);
  }
}
