// Positioned reading of YAML documents for the policy and inventory loaders.
// Invariants: nothing here throws on any input (malformed YAML, aliases, cycles, huge nesting);
// every problem becomes a Diagnostic carrying file:line:col and the dotted field path
// (`spec.rules[0].from[0].source.ipBlocks[1]`); positions are 1-based, from the yaml package's
// LineCounter over the original text.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import type { Document, Node, Pair, YAMLMap, YAMLSeq } from 'yaml';

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  /** Dotted field path inside the document ('' for the document itself). */
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

/** `FILE:LINE:COL: FIELD.PATH: message` (warnings say so after the path). */
export function formatDiagnostic(d: Diagnostic): string {
  const where = `${d.file}:${d.line}:${d.col}`;
  const path = d.path === '' ? '(document)' : d.path;
  return d.severity === 'warning' ? `${where}: ${path}: warning: ${d.message}` : `${where}: ${path}: ${d.message}`;
}

const MAX_ALIASES = 1000;

/** Reading context for one document. */
export class Reader {
  readonly file: string;
  readonly lc: LineCounter;
  readonly diags: Diagnostic[];
  private readonly doc: Document.Parsed | undefined;
  /** Alias resolutions so far: bounded so that nested aliases cannot blow up the work (billion laughs). */
  private aliases = 0;

  constructor(file: string, lc: LineCounter, diags: Diagnostic[], doc?: Document.Parsed) {
    this.file = file;
    this.lc = lc;
    this.diags = diags;
    this.doc = doc;
  }

  pos(node: Node | null | undefined): { file: string; line: number; col: number } {
    const off = node?.range?.[0] ?? 0;
    try {
      const p = this.lc.linePos(off);
      return { file: this.file, line: p.line, col: p.col };
    } catch {
      return { file: this.file, line: 1, col: 1 };
    }
  }

  error(node: Node | null | undefined, path: string, message: string): void {
    this.diags.push({ ...this.pos(node), path, message, severity: 'error' });
  }

  warn(node: Node | null | undefined, path: string, message: string): void {
    this.diags.push({ ...this.pos(node), path, message, severity: 'warning' });
  }

  /** Follows aliases (bounded) and returns the node, or undefined for an unresolvable alias. */
  deref(node: unknown, path: string): Node | undefined {
    let n = node as Node | null | undefined;
    for (let i = 0; i < 8 && n !== null && n !== undefined && isAlias(n); i++) {
      if (this.doc === undefined) return undefined;
      if (++this.aliases > MAX_ALIASES) {
        if (this.aliases === MAX_ALIASES + 1) this.error(n, path, `more than ${MAX_ALIASES} alias uses in one document`);
        return undefined;
      }
      let r: Node | undefined;
      try {
        r = n.resolve(this.doc) as Node | undefined;
      } catch {
        r = undefined;
      }
      if (r === undefined) {
        this.error(n, path, 'unresolvable alias');
        return undefined;
      }
      n = r;
    }
    if (n !== null && n !== undefined && isAlias(n)) {
      this.error(n, path, 'alias chain too long');
      return undefined;
    }
    return n ?? undefined;
  }

  /** True iff the node is absent or a YAML null. */
  isNull(node: unknown): boolean {
    if (node === null || node === undefined) return true;
    return isScalar(node) && node.value === null;
  }

  /** The map, or undefined with an error "expected a mapping". */
  map(node: unknown, path: string): YAMLMap | undefined {
    const n = this.deref(node, path);
    if (n !== undefined && isMap(n)) return n;
    this.error(n ?? (node as Node), path, `expected a mapping, got ${describe(n)}`);
    return undefined;
  }

  /** The sequence items, or undefined with an error. */
  seq(node: unknown, path: string): unknown[] | undefined {
    const n = this.deref(node, path);
    if (n !== undefined && isSeq(n)) return (n as YAMLSeq).items;
    this.error(n ?? (node as Node), path, `expected a list, got ${describe(n)}`);
    return undefined;
  }

  /**
   * The fields of a mapping, keyed by their string key. Unknown keys (not in `allowed`) and
   * non-string keys are errors. Null values are kept (callers treat them as absent).
   */
  fields(m: YAMLMap, path: string, allowed: readonly string[]): Map<string, Node | null> {
    const out = new Map<string, Node | null>();
    for (const item of m.items as Pair[]) {
      const keyNode = this.deref(item.key, path);
      const key = keyNode !== undefined && isScalar(keyNode) ? keyNode.value : undefined;
      if (typeof key !== 'string') {
        this.error(keyNode ?? null, path, `field names must be strings, got ${describe(keyNode)}`);
        continue;
      }
      const fp = join(path, key);
      if (!allowed.includes(key)) {
        this.error(keyNode ?? null, fp, `unknown field "${key}"${suggest(key, allowed)}`);
        continue;
      }
      if (out.has(key)) {
        this.error(keyNode ?? null, fp, `duplicate field "${key}"`);
        continue;
      }
      out.set(key, (item.value as Node | null) ?? null);
    }
    return out;
  }

  /** A string scalar (numbers and booleans are refused: wrong type). */
  str(node: unknown, path: string): string | undefined {
    const n = this.deref(node, path);
    if (n !== undefined && isScalar(n) && typeof n.value === 'string') return n.value;
    this.error(n ?? null, path, `expected a string, got ${describe(n)}`);
    return undefined;
  }

  /** A string, also accepting a number written without quotes (ports in Istio, label values). */
  strOrNum(node: unknown, path: string): string | undefined {
    const n = this.deref(node, path);
    if (n !== undefined && isScalar(n) && (typeof n.value === 'string' || typeof n.value === 'number')) {
      return String(n.value);
    }
    this.error(n ?? null, path, `expected a string, got ${describe(n)}`);
    return undefined;
  }

  int(node: unknown, path: string): number | undefined {
    const n = this.deref(node, path);
    if (n !== undefined && isScalar(n) && typeof n.value === 'number' && Number.isInteger(n.value)) return n.value;
    this.error(n ?? null, path, `expected an integer, got ${describe(n)}`);
    return undefined;
  }

  bool(node: unknown, path: string): boolean | undefined {
    const n = this.deref(node, path);
    if (n !== undefined && isScalar(n) && typeof n.value === 'boolean') return n.value;
    this.error(n ?? null, path, `expected true or false, got ${describe(n)}`);
    return undefined;
  }

  /** A list of strings; absent/null gives undefined; an empty list gives []. */
  strList(node: unknown, path: string, numbersOk = false): { value: string; node: Node; path: string }[] | undefined {
    if (this.isNull(node)) return undefined;
    const items = this.seq(node, path);
    if (items === undefined) return undefined;
    const out: { value: string; node: Node; path: string }[] = [];
    items.forEach((it, i) => {
      const p = `${path}[${i}]`;
      const v = numbersOk ? this.strOrNum(it, p) : this.str(it, p);
      if (v !== undefined) out.push({ value: v, node: this.deref(it, p) ?? (it as Node), path: p });
    });
    return out;
  }

  /** A mapping of string to string (labels). Numbers/booleans as values are refused. */
  labelMap(node: unknown, path: string): Record<string, string> | undefined {
    if (this.isNull(node)) return undefined;
    const m = this.map(node, path);
    if (m === undefined) return undefined;
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const item of m.items as Pair[]) {
      const keyNode = this.deref(item.key, path);
      const key = keyNode !== undefined && isScalar(keyNode) ? keyNode.value : undefined;
      if (typeof key !== 'string' || key === '') {
        this.error(keyNode ?? null, path, `label keys must be non-empty strings, got ${describe(keyNode)}`);
        continue;
      }
      const v = this.str(item.value, join(path, key));
      if (v !== undefined) {
        if (Object.prototype.hasOwnProperty.call(out, key)) this.error(keyNode ?? null, join(path, key), 'duplicate label');
        out[key] = v;
      }
    }
    return out;
  }
}

export function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export function describe(n: unknown): string {
  if (n === undefined || n === null) return 'nothing';
  if (isMap(n)) return 'a mapping';
  if (isSeq(n)) return 'a list';
  if (isScalar(n)) {
    const v = n.value;
    if (v === null) return 'null';
    if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
    if (typeof v === 'number') return `the number ${v}`;
    if (typeof v === 'boolean') return `${v}`;
    return typeof v;
  }
  return 'an unsupported value';
}

function suggest(key: string, allowed: readonly string[]): string {
  const lower = key.toLowerCase();
  const hit = allowed.find((a) => a.toLowerCase() === lower);
  return hit === undefined ? ` (allowed: ${allowed.join(', ')})` : ` (did you mean "${hit}"?)`;
}

export interface ParsedYamlFile {
  file: string;
  lc: LineCounter;
  docs: Document.Parsed[];
}

/**
 * Splits a YAML text into documents. Syntax errors become diagnostics; documents with errors are
 * dropped (their content is not trusted). Never throws.
 */
export function parseYamlText(text: string, file: string, diags: Diagnostic[]): ParsedYamlFile {
  const lc = new LineCounter();
  let docs: Document.Parsed[] = [];
  try {
    const all = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    const list = Array.isArray(all) ? all : [];
    for (const d of list) {
      if (d.errors.length > 0) {
        for (const e of d.errors) {
          const off = e.pos?.[0] ?? 0;
          let line = 1;
          let col = 1;
          try {
            const p = lc.linePos(off);
            line = p.line;
            col = p.col;
          } catch {
            // keep 1:1
          }
          diags.push({ file, line, col, path: '', message: `YAML syntax: ${firstLine(e.message)}`, severity: 'error' });
        }
        continue;
      }
      docs.push(d);
    }
  } catch (e) {
    diags.push({ file, line: 1, col: 1, path: '', message: `YAML syntax: ${firstLine(String(e))}`, severity: 'error' });
    docs = [];
  }
  return { file, lc, docs };
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}
