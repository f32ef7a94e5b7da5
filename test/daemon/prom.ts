// A strict parser for the Prometheus text exposition format (0.0.4), for tests: every line must
// be a `# HELP`, a `# TYPE`, or a sample `name{label="value",...} number`, each sample's family
// declared by a preceding TYPE, label values correctly escaped. Throws on the first bad line.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** Values as Prometheus reads them (Go's strconv.ParseFloat: Inf/NaN in any letter case). */
function parseValue(s: string, line: string): number {
  if (/^\+?inf(inity)?$/i.test(s)) return Infinity;
  if (/^-inf(inity)?$/i.test(s)) return -Infinity;
  if (/^nan$/i.test(s)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value in: ${line}`);
  return Number(s);
}

function familyOf(sample: string, fams: Map<string, Family>): Family | undefined {
  for (const suffix of ['', '_bucket', '_sum', '_count', '_total', '_created']) {
    if (suffix !== '' && !sample.endsWith(suffix)) continue;
    const f = fams.get(sample.slice(0, sample.length - suffix.length));
    if (f !== undefined) return f;
  }
  return undefined;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const fams = new Map<string, Family>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const rest = line.slice(7);
      const sp = rest.indexOf(' ');
      const name = sp < 0 ? rest : rest.slice(0, sp);
      if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      const f = fams.get(name) ?? { name, type: 'untyped', help: '', samples: [] };
      if (line.startsWith('# TYPE ')) {
        const t = rest.slice(sp + 1);
        if (!TYPES.has(t)) throw new Error(`bad type in: ${line}`);
        f.type = t;
      } else f.help = sp < 0 ? '' : rest.slice(sp + 1);
      fams.set(name, f);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (m === null) throw new Error(`bad sample line: ${line}`);
    const labels: Record<string, string> = {};
    let ls = m[3] ?? '';
    while (ls.length > 0) {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)",?/.exec(ls);
      if (lm === null) throw new Error(`bad labels in: ${line}`);
      labels[lm[1] as string] = (lm[2] as string).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      ls = ls.slice(lm[0].length);
    }
    const fam = familyOf(m[1] as string, fams);
    if (fam === undefined) throw new Error(`sample without a TYPE: ${line}`);
    fam.samples.push({ name: m[1] as string, labels, value: parseValue(m[4] as string, line) });
  }
  return fams;
}

/** The value of sample `name` whose labels include `labels`, or undefined. */
export function sample(fams: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of fams.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
