// JSON parse errors that say where: the file, line and column.

import { TopologyError } from './errors.ts';

/** JSON.parse with an error naming the file, line and column. */
export function parseTopologyText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TopologyError(`${file}: invalid JSON ${jsonErrorPlace(e, text)}: ${(e as Error).message}`);
  }
}

/** "at line L column C" of the first error: V8 gives "at position N" for most errors, the scanner finds the rest. */
export function jsonErrorPlace(e: unknown, text: string): string {
  const m = /at position (\d+)/.exec(e instanceof Error ? e.message : '');
  const found = m ? Number(m[1]) : jsonErrorOffset(text);
  const pos = found < 0 ? text.length : found;
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `at line ${line} column ${column}`;
}

/** Offset of the first JSON syntax error in `text` (text.length if it is cut short, -1 if it is valid). */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const STOP = Symbol('stop');
  const fail = (): never => {
    throw STOP;
  };
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const expect = (c: string) => (text[i] === c ? i++ : fail());
  const string = () => {
    expect('"');
    for (;;) {
      if (i >= text.length) fail();
      const c = text.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20) fail();
      if (c === 0x5c) {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 5;
        } else if ('"\\/bfnrt'.includes(text[i] ?? 'x')) i++;
        else fail();
      } else i++;
    }
  };
  const number = () => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '-') fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        string();
        ws();
        expect(':');
        value();
        ws();
        if (text[i] === ',') i++;
        else return void expect('}');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else return void expect(']');
      }
    }
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) return void (i += word.length);
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    fail();
  };
  try {
    value();
    ws();
    return i < text.length ? i : -1;
  } catch (e) {
    if (e === STOP) return Math.min(i, text.length);
    throw e;
  }
}
