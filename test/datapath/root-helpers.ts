// Shared helpers for root-only datapath and lab tests. Invariants: every namespace is named
// `sg<hex>-...` and recorded for cleanup; every process started here is recorded and ended by PID;
// when not root the suites skip with a message, except under CI=true where they fail.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Call at module level: returns true when the suite must be skipped (and says why). */
export function skipUnlessRoot(what: string): boolean {
  if (isRoot) return false;
  if (process.env['CI'] === 'true') throw new Error(`${what}: root is required and CI=true: refusing to skip`);
  process.stderr.write(`SKIP ${what}: needs root (network namespaces)\n`);
  return true;
}

export function sh(argv: readonly string[], mayFail = false): string {
  const [bin, ...args] = argv;
  const r = spawnSync(bin ?? 'true', args, { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0 && !mayFail) throw new Error(`${argv.join(' ')}: ${r.stderr || r.error?.message || `exit ${r.status}`}`);
  return r.stdout ?? '';
}

export function prefix(): string {
  return `sg${randomBytes(3).toString('hex')}`;
}

export class Procs {
  readonly list: ChildProcess[] = [];
  /** Starts argv inside `ns`; resolves once a stdout line matches `readyLine` (or rejects on exit/timeout). */
  start(ns: string, argv: readonly string[], readyLine: RegExp | null = /^ready$/, timeoutMs = 20_000): Promise<Proc> {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'], cwd: process.cwd() });
    this.list.push(child);
    const p = new Proc(child);
    if (readyLine === null) return Promise.resolve(p);
    return p.waitLine(readyLine, timeoutMs).then(() => p);
  }
  async killAll(): Promise<void> {
    for (const c of this.list) if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await Promise.all(this.list.map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)))));
  }
}

export class Proc {
  readonly lines: string[] = [];
  stderr = '';
  private waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    if (child.stdout !== null) createInterface({ input: child.stdout }).on('line', (l) => {
      this.lines.push(l);
      this.waiters = this.waiters.filter((w) => {
        if (!w.re.test(l)) return true;
        w.resolve(l);
        return false;
      });
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    // 'close' (not 'exit'): resolves after stdout/stderr are fully read
    this.exited = new Promise((r) => child.once('close', (code) => r(code)));
  }
  get pid(): number {
    return this.child.pid ?? -1;
  }
  waitLine(re: RegExp, timeoutMs = 10_000): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; stdout: ${this.lines.join(' | ')}; stderr: ${this.stderr}`)), timeoutMs);
      this.child.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`exited (${code}) before a line matching ${re}; stderr: ${this.stderr}`));
      });
      this.waiters.push({ re, resolve: (l) => {
        clearTimeout(t);
        resolve(l);
      } });
    });
  }
  send(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }
  kill(sig: NodeJS.Signals): void {
    if (this.child.pid !== undefined && this.child.exitCode === null) process.kill(this.child.pid, sig);
  }
}

export function delNamespaces(pfx: string): void {
  const list = sh(['ip', 'netns', 'list'], true).split('\n').map((l) => l.split(' ')[0] ?? '');
  for (const ns of list) if (ns.startsWith(`${pfx}-`)) {
    for (const pid of sh(['ip', 'netns', 'pids', ns], true).split('\n').map(Number).filter((n) => n > 0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    sh(['ip', 'netns', 'del', ns], true);
  }
}

export const RUNNER = ['node', '--import', 'tsx', 'enforcer/datapath/runner.ts'];
export const ECHO = ['node', 'test/datapath/helpers/echo.mjs'];
export const CLIENT = ['node', 'scripts/lab/client.mjs'];

export interface Attempt {
  outcome: string;
  ms: number;
  localPort: number | null;
  status?: number;
  body?: string;
}

export function client(ns: string, ip: string, port: number, timeoutMs = 2000): Attempt {
  const out = sh(['ip', 'netns', 'exec', ns, ...CLIENT, '--to', ip, '--port', String(port), '--timeout', String(timeoutMs)], true);
  const line = out.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Attempt;
  } catch {
    return { outcome: 'error', ms: 0, localPort: null, body: out };
  }
}
