/** A small reader for the Prometheus text exposition format, enough for assertions. */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** Metric family name → type (counter, gauge, histogram, summary, untyped). */
  readonly types: ReadonlyMap<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name, type);
    } else if (line !== '' && !line.startsWith('#')) {
      samples.push(parseSample(line));
    }
  }
  return { samples, types };
}

function parseSample(line: string): Sample {
  const m = SAMPLE.exec(line);
  if (!m) throw new Error(`not a sample line: ${line}`);
  const labels: Record<string, string> = {};
  for (const [, k, v] of (m[2] ?? '').matchAll(LABEL)) labels[k] = v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  return { name: m[1], labels, value: Number(m[3]) };
}

/** The value of the one sample with this name whose labels include `labels`; undefined if none. */
export function valueOf(exp: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = exp.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Every sample of a metric name (all label combinations). */
export function samplesOf(exp: Exposition, name: string): Sample[] {
  return exp.samples.filter((s) => s.name === name);
}

/** Names a query may use for a family: a histogram also has _bucket, _sum and _count series. */
export function exposedNames(exp: Exposition): Set<string> {
  const names = new Set(exp.samples.map((s) => s.name));
  for (const [family, type] of exp.types) {
    names.add(family);
    if (type === 'histogram') ['_bucket', '_sum', '_count'].forEach((s) => names.add(family + s));
    if (type === 'summary') ['_sum', '_count'].forEach((s) => names.add(family + s));
  }
  return names;
}
