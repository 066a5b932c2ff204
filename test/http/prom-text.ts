// Parsing the Prometheus text exposition format (0.0.4) in tests.
// Uses the npm package parse-prometheus-text-format when it is installed; the strict parser below always runs too,
// and rejects anything the format does not allow (bad names, bad escapes, bad values, interleaved or repeated
// series, a TYPE after its samples).

export interface Sample {
  /** The sample's own name: for a histogram `x_bucket`, `x_sum`, `x_count`. */
  name: string;
  labels: Record<string, string>;
  value: string;
}

export interface Family {
  name: string;
  help: string;
  type: string;
  metrics: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
// As Go's strconv.ParseFloat, which Prometheus uses: NaN and Inf in any case (prom-client writes `Nan`).
const SPECIAL_FLOAT = /^(?:[+-]?inf(?:inity)?|nan)$/i;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count', '_created'],
  summary: ['_sum', '_count', '_created'],
  counter: ['_total', '_created'],
};

function fail(lineNo: number, line: string, why: string): never {
  throw new Error(`prometheus text line ${lineNo}: ${why}: ${JSON.stringify(line)}`);
}

function unescapeHelp(s: string, lineNo: number, line: string): string {
  return s.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    return fail(lineNo, line, `bad escape \\${c} in HELP`);
  });
}

/** Parses `{a="x",b="y"}` starting at `i` (at the `{`); returns the labels and the index after `}`. */
function parseLabels(line: string, i: number, lineNo: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i++; // {
  for (;;) {
    if (line[i] === '}') return [labels, i + 1];
    const eq = line.indexOf('=', i);
    if (eq < 0) fail(lineNo, line, 'label without =');
    const name = line.slice(i, eq).trim();
    if (!LABEL_NAME.test(name)) fail(lineNo, line, `bad label name ${name}`);
    if (Object.hasOwn(labels, name)) fail(lineNo, line, `repeated label ${name}`);
    i = eq + 1;
    if (line[i] !== '"') fail(lineNo, line, 'label value not quoted');
    i++;
    let value = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) fail(lineNo, line, 'unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const n = line[i + 1];
        if (n === '\\') value += '\\';
        else if (n === '"') value += '"';
        else if (n === 'n') value += '\n';
        else fail(lineNo, line, `bad escape \\${n ?? ''} in label value`);
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    labels[name] = value;
    i++; // closing quote
    if (line[i] === ',') i++;
    else if (line[i] !== '}') fail(lineNo, line, 'expected , or } after a label');
  }
}

/** The strict parser: throws on anything the text format does not allow. */
export function parsePrometheusStrict(text: string): Family[] {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('prometheus text must end with a newline');
  const families = new Map<string, Family>();
  const order: string[] = [];
  const seenSeries = new Set<string>();
  const closed = new Set<string>(); // families whose samples ended (a later sample would interleave)
  let currentFamily: string | null = null;
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) {
      f = { name, help: '', type: 'untyped', metrics: [] };
      families.set(name, f);
      order.push(name);
    }
    return f;
  };
  const familyOf = (sampleName: string): string => {
    if (families.has(sampleName) && families.get(sampleName)!.type !== 'untyped') return sampleName;
    for (const [name, f] of families) {
      for (const suffix of SUFFIXES[f.type] ?? []) if (sampleName === name + suffix) return name;
    }
    return sampleName;
  };
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, idx) => {
    const lineNo = idx + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) return; // a comment
      const [, kind, name, rest = ''] = m;
      if (!METRIC_NAME.test(name)) fail(lineNo, line, `bad metric name ${name}`);
      const f = family(name);
      if (kind === 'HELP') {
        if (f.help !== '') fail(lineNo, line, `second HELP for ${name}`);
        f.help = unescapeHelp(rest, lineNo, line);
      } else {
        if (!TYPES.has(rest.trim())) fail(lineNo, line, `bad type ${rest}`);
        if (f.metrics.length > 0) fail(lineNo, line, `TYPE of ${name} after its samples`);
        f.type = rest.trim();
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) fail(lineNo, line, 'bad sample name');
    const name = nameMatch[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') [labels, i] = parseLabels(line, i, lineNo);
    const parts = line.slice(i).trim().split(/\s+/);
    if (line[i] !== ' ' && line[i] !== '\t') fail(lineNo, line, 'no space before the value');
    if (parts.length < 1 || parts.length > 2) fail(lineNo, line, 'expected a value and an optional timestamp');
    const [value, timestamp] = parts;
    if (!(FLOAT.test(value) || SPECIAL_FLOAT.test(value))) fail(lineNo, line, `bad value ${value}`);
    if (timestamp !== undefined && !/^-?\d+$/.test(timestamp)) fail(lineNo, line, `bad timestamp ${timestamp}`);
    const fam = familyOf(name);
    if (closed.has(fam)) fail(lineNo, line, `samples of ${fam} are not together`);
    if (currentFamily !== null && currentFamily !== fam) closed.add(currentFamily);
    currentFamily = fam;
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (seenSeries.has(key)) fail(lineNo, line, 'repeated series');
    seenSeries.add(key);
    family(fam).metrics.push({ name, labels, value });
  });
  return order.map((n) => families.get(n)!);
}

const PARSER_PACKAGE = 'parse-prometheus-text-format';

/** The npm parser's families, or null when the package is not installed. */
export async function parseWithPackage(text: string): Promise<Array<{ name: string; help: string; type: string; metrics: unknown[] }> | null> {
  let mod: { default?: unknown };
  try {
    mod = (await import(PARSER_PACKAGE)) as { default?: unknown };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return null;
    throw err;
  }
  const parse = (mod.default ?? mod) as (text: string) => Array<{ name: string; help: string; type: string; metrics: unknown[] }>;
  return parse(text);
}
