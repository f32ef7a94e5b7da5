// The network-namespace lab: `lab up` builds a scenario's cluster from namespaces with real enforcer
// processes, real servers and a stand-in Envoy; `lab test` drives the scenario's traffic as real TCP
// connections; `lab down` removes everything; `lab status` reports.
// Invariants:
//  - all state lives in the lab directory (default /run/syngate-lab); the state file is written
//    before each resource is created, so `lab down` can always remove everything, after a crash too,
//    and running it twice is harmless;
//  - nothing is created or changed in the namespace the lab runs from (no interface, route, rule or
//    sysctl): every interface is created inside a lab namespace and every firewall rule is installed
//    inside one, so deleting the namespaces removes them;
//  - every process the lab starts is recorded (PID + kernel start time) and ended by that PID;
//    processes still inside a lab namespace at `down` are lab processes and are ended by PID too;
//  - traffic only flows between lab namespaces, to addresses in 198.18.0.0/15.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SyngateError } from '../../errors.js';
import type { FlowRecord } from '../../engine/flow-record.js';
import { loadScenario } from '../../sim/scenario.js';
import type { Scenario } from '../../sim/scenario.js';
import { formatTable, toJson } from '../../sim/output.js';
import { initCaDir, issueToDir } from '../../identity/index.js';
import { stringify } from 'yaml';
import type { ConnectionResult, SimulateJson, SimulationResult } from '../../sim/output.js';
import { planLab, LabPlanError } from './plan.js';
import type { LabDatapath, LabPlan, LabPod } from './plan.js';
import { DEFAULT_LAB_DIR, readState, sameProcess, procStart, statePath, writeState } from './state.js';
import type { LabEnforcer, LabProcess, LabState } from './state.js';
import { LIVE_ATTACKS, runAttack } from './attacks.js';
import type { LiveAttack } from './attacks.js';

export { DEFAULT_LAB_DIR } from './state.js';
export type { LabState, LabProcess } from './state.js';
export type { LabPlan, LabPod, LabNode, LabDatapath } from './plan.js';

export type Log = (line: string) => void;

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root (holds package.json and scripts/lab/): enforcer/datapath/lab -> ../../.. ; dist/... -> one more. */
export function repoRoot(): string {
  let d = here;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'scripts', 'lab', 'app-server.mjs'))) return d;
    d = dirname(d);
  }
  throw new SyngateError('SYNGATE_LAB_FILES', `cannot find the syngate checkout (scripts/lab/app-server.mjs) above ${here}; the lab runs from a source checkout`);
}

/** argv to run a TypeScript-or-compiled module of this project with node. */
export function nodeModuleArgv(relNoExt: string): string[] {
  const root = repoRoot();
  const js = join(root, 'dist', `${relNoExt}.js`);
  const ts = join(root, `${relNoExt}.ts`);
  // Prefer the source when we are running from source (tests under tsx), else the build.
  if (here.includes(`${join(root, 'dist')}`) && existsSync(js)) return [process.execPath, js];
  if (existsSync(ts)) return [process.execPath, '--import', 'tsx', ts];
  return [process.execPath, js];
}

function labError(code: string, msg: string, cause?: unknown): SyngateError {
  return new SyngateError(code, msg, cause === undefined ? undefined : { cause });
}

function run(argv: readonly string[], mayFail = false): boolean {
  const [bin, ...args] = argv;
  if (bin === undefined) return true;
  const r = spawnSync(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
  if (r.status === 0) return true;
  if (mayFail) return false;
  throw labError('SYNGATE_LAB_STEP', `lab step failed: ${argv.join(' ')}: ${r.stderr?.toString().trim() || r.error?.message || `exit ${r.status}`}`);
}

export function listNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').map((l) => l.split(' ')[0] ?? '').filter((s) => s !== '');
}

function nsPids(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tail(file: string, n = 12): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/** Starts `argv` inside `ns`, detached, output appended to a log file; recorded in the state first. */
export function startLabProcess(state: LabState, role: LabProcess['role'], owner: string, ns: string, argv: readonly string[]): LabProcess {
  const logDir = join(state.dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const log = join(logDir, `${role}-${owner.replace(/[^A-Za-z0-9_.-]+/g, '_')}.log`);
  const fd = openSync(log, 'a');
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { detached: true, stdio: ['ignore', fd, fd], cwd: repoRoot() });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw labError('SYNGATE_LAB_PROCESS', `cannot start ${role} for ${owner} in ${ns}: ${argv.join(' ')}`);
  const p: LabProcess = { pid, start: procStart(pid), role, owner, ns, log };
  state.processes.push(p);
  writeState(state);
  return p;
}

/** Waits until `p`'s log has a line exactly `ready`; throws with the log tail if it dies or times out. */
export async function waitReady(p: LabProcess, timeoutMs = 20_000, offset = 0, readyRe: RegExp = /^ready$/m): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
    let text = '';
    try {
      text = readFileSync(p.log, 'utf8').slice(offset);
    } catch {
      // not created yet
    }
    if (readyRe.test(text)) return;
    if (!sameProcess(p)) throw labError('SYNGATE_LAB_PROCESS', `${p.role} for ${p.owner} exited before it was ready:\n${tail(p.log)}`);
    await sleep(50);
  }
  throw labError('SYNGATE_LAB_PROCESS', `${p.role} for ${p.owner} not ready after ${timeoutMs} ms:\n${tail(p.log)}`);
}

export interface LabUpOptions {
  scenario: string;
  datapath: LabDatapath;
  dir?: string;
  /**
   * `daemon` (default): `syngate run --config` per node, with generated credentials, inventory and
   * config; `engine`: the datapath runner with the real engine for each node (lab CA, the scenario's
   * policies); `pass`: the runner with a pass-through handler (topology check, no policy).
   */
  enforcer?: LabEnforcer;
  log?: Log;
}

/** The enforcer command for one node. */
function enforcerArgv(state: LabState, plan: LabPlan, nodeIndex: number): string[] {
  const n = plan.nodes[nodeIndex];
  if (n === undefined) return [];
  const nodeDir = join(state.dir, 'nodes', `${n.index}`);
  mkdirSync(nodeDir, { recursive: true });
  if (state.enforcer === 'daemon') return [...nodeModuleArgv('enforcer/datapath/lab/run-daemon'), 'run', '--config', join(nodeDir, 'syngate.yaml')];
  const runner = nodeModuleArgv('enforcer/datapath/runner');
  const dp = plan.datapath === 'nfqueue' ? ['--datapath', 'nfqueue', '--workload-if', 'lan0'] : ['--datapath', 'pcap', '--inside', 'ein', '--outside', 'eout'];
  const handler =
    state.enforcer === 'pass'
      ? ['--handler', 'pass']
      : ['--handler', 'engine', '--scenario', state.scenario, '--node', n.name, '--ca-cert', join(state.dir, 'ca', 'ca.pem'), '--ca-key', join(state.dir, 'ca', 'ca.key'), '--flows', join(nodeDir, 'flows.jsonl')];
  return [...runner, ...dp, '--status', join(nodeDir, 'runner-status.json'), ...handler];
}

/** The lab's CA: one per lab, `syngate ca init` layout under DIR/ca, removed by `lab down`. */
function writeLabCa(dir: string, trustDomain: string): void {
  initCaDir({ trustDomain, out: join(dir, 'ca'), force: true });
}

/**
 * `--enforcer daemon`: the files `syngate run --config` needs for each node, all under DIR: a node
 * credential folder (`syngate ca issue --node`), the scenario's inventory, its inline policies, and
 * the config itself. The engine does no Envoy rewrite (`envoy.inboundPort: null`): the pod's own
 * REDIRECT does it.
 */
function writeDaemonFiles(state: LabState, sc: Scenario): void {
  const dir = state.dir;
  const inventory = join(dir, 'inventory.yaml');
  writeFileSync(inventory, stringify(sc.inventoryDoc));
  const policyPaths: string[] = [];
  sc.policies.forEach((p, i) => {
    if (p.kind === 'path') policyPaths.push(p.path);
    else {
      mkdirSync(join(dir, 'policies'), { recursive: true });
      const f = join(dir, 'policies', `inline-${i}.yaml`);
      writeFileSync(f, p.text);
      policyPaths.push(f);
    }
  });
  for (const n of state.plan.nodes) {
    if (n.enforcerNs === null) continue;
    const nodeDir = join(dir, 'nodes', `${n.index}`);
    mkdirSync(nodeDir, { recursive: true });
    issueToDir({ caDir: join(dir, 'ca'), spiffeId: `spiffe://${sc.trustDomain}/ns/syngate-system/sa/node-${n.index}`, out: join(nodeDir, 'cred'), node: n.name, force: true });
    const config = {
      node: n.name,
      trustDomain: sc.trustDomain,
      mode: sc.mode,
      datapath: state.datapath === 'nfqueue' ? { type: 'nfqueue', interfaces: ['lan0'], queueBase: 7100, failOpen: false } : { type: 'pcap', inside: 'ein', outside: 'eout' },
      identity: { caBundle: join(nodeDir, 'cred', 'bundle.pem'), credentials: join(nodeDir, 'cred') },
      policy: { paths: policyPaths, rootNamespace: typeof sc.inventoryDoc['rootNamespace'] === 'string' ? sc.inventoryDoc['rootNamespace'] : 'istio-system', defaultDeny: sc.defaultDeny },
      inventory: { source: 'static', file: inventory },
      envoy: { inboundPort: null },
      admin: '127.0.0.1:9901',
      flowLog: { sink: 'file', path: join(nodeDir, 'flows.jsonl') },
      log: { level: 'info' },
    };
    writeFileSync(join(nodeDir, 'syngate.yaml'), stringify(config));
  }
}

export async function startEnforcer(state: LabState, nodeIndex: number): Promise<LabProcess> {
  const n = state.plan.nodes[nodeIndex];
  if (n === undefined || n.enforcerNs === null) throw labError('SYNGATE_LAB_NODE', `node #${nodeIndex} has no enforcer`);
  const argv = enforcerArgv(state, { ...state.plan, steps: [] }, nodeIndex);
  let offset = 0;
  const logFile = join(state.dir, 'logs', `enforcer-${n.name.replace(/[^A-Za-z0-9_.-]+/g, '_')}.log`);
  try {
    offset = readFileSync(logFile, 'utf8').length;
  } catch {
    offset = 0;
  }
  const p = startLabProcess(state, 'enforcer', n.name, n.enforcerNs, argv);
  await waitReady(p, 30_000, offset, state.enforcer === 'daemon' ? /"msg":"ready"/ : /^ready$/m);
  return p;
}

export async function labUp(o: LabUpOptions): Promise<LabState> {
  const dir = resolve(o.dir ?? DEFAULT_LAB_DIR);
  const log = o.log ?? (() => undefined);
  const existing = readState(dir);
  if (existing !== null) throw labError('SYNGATE_LAB_EXISTS', `a lab is already up in ${dir} (prefix ${existing.prefix}, ${existing.phase}); run \`syngate lab down${o.dir === undefined ? '' : ` --dir ${dir}`}\` first`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw labError('SYNGATE_LAB_ROOT', 'the lab creates network namespaces and needs root');
  const sc: Scenario = loadScenario(o.scenario);
  const prefix = `sg${randomBytes(3).toString('hex')}`;
  let plan: LabPlan;
  try {
    plan = planLab(sc, o.datapath, prefix);
  } catch (e) {
    if (e instanceof LabPlanError) throw labError('SYNGATE_LAB_SCENARIO', `${o.scenario}: ${e.message}`, e);
    throw e;
  }
  const { steps, ...planData } = plan;
  const state: LabState = {
    version: 1,
    dir,
    prefix,
    scenario: resolve(o.scenario),
    datapath: o.datapath,
    enforcer: o.enforcer ?? 'daemon',
    createdAt: new Date().toISOString(),
    phase: 'creating',
    namespaces: plan.namespaces,
    processes: [],
    plan: planData,
  };
  writeState(state);
  log(`lab ${prefix}: ${plan.namespaces.length} namespaces, ${plan.nodes.length} nodes, ${plan.pods.length} pods, datapath ${o.datapath} (state ${statePath(dir)})`);
  try {
    if (state.enforcer !== 'pass') writeLabCa(dir, sc.trustDomain);
    if (state.enforcer === 'daemon') writeDaemonFiles(state, sc);
    for (const s of steps) run(s.argv, s.mayFail === true);
    for (const n of plan.nodes) {
      if (n.enforcerNs === null) continue;
      await startEnforcer(state, n.index);
      log(`lab ${prefix}: enforcer for ${n.name} ready in ${n.enforcerNs}`);
    }
    const appArgv = (p: LabPod): string[] => [process.execPath, join(repoRoot(), 'scripts', 'lab', 'app-server.mjs'), '--name', p.id, '--ports', p.ports.join(','), '--log', join(dir, 'logs', `conns-${p.ns}.jsonl`)];
    const started: LabProcess[] = [];
    for (const p of plan.pods) {
      if (p.ports.length > 0) started.push(startLabProcess(state, 'app', p.id, p.ns, appArgv(p)));
      if (p.envoy && plan.envoyPort !== null) {
        started.push(startLabProcess(state, 'envoy', p.id, p.ns, ['python3', join(repoRoot(), 'scripts', 'lab', 'envoy.py'), String(plan.envoyPort), join(dir, 'logs', `envoy-${p.ns}.jsonl`)]));
      }
    }
    for (const p of started) await waitReady(p);
    state.phase = 'up';
    writeState(state);
    log(`lab ${prefix}: up`);
    return state;
  } catch (e) {
    state.phase = 'failed';
    state.error = e instanceof Error ? e.message : String(e);
    writeState(state);
    log(`lab ${prefix}: bring-up failed, removing everything: ${state.error}`);
    await labDown({ dir, log });
    throw e;
  }
}

export interface DownReport {
  prefix: string | null;
  killed: number;
  namespacesDeleted: number;
  /** Lab namespaces still present afterwards (should be empty). */
  leftovers: string[];
}

/** Ends one recorded process by PID: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopLabProcess(p: LabProcess, graceMs = 3000, signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
  if (!sameProcess(p)) return false;
  try {
    process.kill(p.pid, signal);
  } catch {
    return false;
  }
  for (let i = 0; i < graceMs / 50 && sameProcess(p); i++) await sleep(50);
  if (sameProcess(p)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
    for (let i = 0; i < 40 && sameProcess(p); i++) await sleep(25);
  }
  return true;
}

export async function labDown(o: { dir?: string; log?: Log } = {}): Promise<DownReport> {
  const dir = resolve(o.dir ?? DEFAULT_LAB_DIR);
  const log = o.log ?? (() => undefined);
  const state = readState(dir);
  if (state === null) {
    log(`no lab state in ${dir}; nothing to remove`);
    return { prefix: null, killed: 0, namespacesDeleted: 0, leftovers: [] };
  }
  let killed = 0;
  await Promise.all(
    state.processes.map(async (p) => {
      if (await stopLabProcess(p)) killed++;
    }),
  );
  const present = new Set(listNamespaces());
  let deleted = 0;
  for (const ns of state.namespaces) {
    if (!present.has(ns)) continue;
    // Anything still running inside a lab namespace was started by the lab (or by a test in it).
    for (const pid of nsPids(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // gone
      }
    }
  }
  for (const ns of state.namespaces) {
    if (!present.has(ns)) continue;
    if (run(['ip', 'netns', 'del', ns], true)) deleted++;
  }
  const leftovers = listNamespaces().filter((ns) => ns === state.prefix || ns.startsWith(`${state.prefix}-`));
  for (const ns of leftovers) run(['ip', 'netns', 'del', ns], true);
  const still = listNamespaces().filter((ns) => ns.startsWith(`${state.prefix}-`));
  if (still.length === 0) {
    for (const sub of ['logs', 'nodes', 'captures', 'ca', 'policies']) rmSync(join(dir, sub), { recursive: true, force: true });
    rmSync(join(dir, 'inventory.yaml'), { force: true });
    rmSync(statePath(dir), { force: true });
    try {
      if (readdirSync(dir).length === 0) rmdirSync(dir);
    } catch {
      // not empty or already gone
    }
  }
  log(`lab ${state.prefix}: down (${killed} processes ended, ${deleted} namespaces deleted${still.length > 0 ? `, STILL PRESENT: ${still.join(' ')}` : ''})`);
  return { prefix: state.prefix, killed, namespacesDeleted: deleted, leftovers: still };
}

export interface LabStatus {
  up: boolean;
  dir: string;
  prefix?: string;
  phase?: string;
  datapath?: LabDatapath;
  scenario?: string;
  namespaces?: { name: string; present: boolean }[];
  processes?: (LabProcess & { alive: boolean })[];
  enforcers?: { node: string; ns: string; alive: boolean; counters: Record<string, number> | null; ready?: boolean | null; verdicts?: Record<string, number> }[];
}

/**
 * `syngate run` enforcers: /readyz and the verdict totals from /metrics on the admin address the
 * lab configured (127.0.0.1:9901 inside the node's namespace). null when it does not answer.
 */
function daemonProbe(ns: string): { ready: boolean; verdicts: Record<string, number> } | null {
  const code =
    "Promise.all([fetch('http://127.0.0.1:9901/readyz').then((r)=>r.status),fetch('http://127.0.0.1:9901/metrics').then((r)=>r.text())])" +
    '.then(([s,m])=>process.stdout.write(JSON.stringify({s,m})),()=>process.exit(1))';
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0) return null;
  try {
    const { s, m } = JSON.parse(r.stdout) as { s: number; m: string };
    const verdicts: Record<string, number> = {};
    for (const line of m.split('\n')) {
      const x = /^syngate_verdicts_total\{[^}]*action="([a-z]+)"[^}]*\} ([0-9.e+]+)$/.exec(line);
      if (x !== null) verdicts[x[1] ?? '?'] = (verdicts[x[1] ?? '?'] ?? 0) + Number(x[2]);
    }
    return { ready: s === 200, verdicts };
  } catch {
    return null;
  }
}

export function labStatus(o: { dir?: string } = {}): LabStatus {
  const dir = resolve(o.dir ?? DEFAULT_LAB_DIR);
  const state = readState(dir);
  if (state === null) return { up: false, dir };
  const present = new Set(listNamespaces());
  const procs = state.processes.map((p) => ({ ...p, alive: sameProcess(p) }));
  const enforcers = state.plan.nodes
    .filter((n) => n.enforcerNs !== null)
    .map((n) => {
      const alive = procs.some((p) => p.role === 'enforcer' && p.owner === n.name && p.alive);
      let counters: Record<string, number> | null = null;
      try {
        counters = (JSON.parse(readFileSync(join(dir, 'nodes', `${n.index}`, 'runner-status.json'), 'utf8')) as { counters: Record<string, number> }).counters;
      } catch {
        counters = null;
      }
      if (state.enforcer === 'daemon' && alive && n.enforcerNs !== null) {
        const probe = daemonProbe(n.enforcerNs);
        return { node: n.name, ns: n.enforcerNs, alive, counters, ready: probe?.ready ?? null, verdicts: probe?.verdicts ?? {} };
      }
      return { node: n.name, ns: n.enforcerNs ?? '', alive, counters };
    });
  return {
    up: state.phase === 'up',
    dir,
    prefix: state.prefix,
    phase: state.phase,
    datapath: state.datapath,
    scenario: state.scenario,
    namespaces: state.namespaces.map((name) => ({ name, present: present.has(name) })),
    processes: procs,
    enforcers,
  };
}

export function formatStatus(s: LabStatus): string {
  if (s.prefix === undefined) return `no lab in ${s.dir}\n`;
  const lines: string[] = [];
  const nsUp = s.namespaces?.filter((n) => n.present).length ?? 0;
  const alive = s.processes?.filter((p) => p.alive).length ?? 0;
  lines.push(`lab ${s.prefix} (${s.phase}) datapath ${s.datapath} scenario ${s.scenario}`);
  lines.push(`namespaces: ${nsUp}/${s.namespaces?.length ?? 0} present; processes: ${alive}/${s.processes?.length ?? 0} alive`);
  for (const e of s.enforcers ?? []) {
    const c = e.counters;
    const d = e.ready === undefined ? '' : ` (syngate run: ${e.ready === null ? 'admin not answering' : e.ready ? 'ready' : 'NOT READY'}${Object.entries(e.verdicts ?? {}).map(([k, v]) => `, ${k} ${v}`).join('')})`;
    lines.push(`enforcer ${e.node} (${e.ns}): ${e.alive ? 'running' : 'DOWN'}${d}${c === null ? '' : ` frames in ${c['framesIn']} fwd ${c['framesForwarded']} drop ${c['framesDropped']} reset ${c['framesReset']}`}`);
  }
  for (const p of s.processes ?? []) if (!p.alive && p.role !== 'capture') lines.push(`  not running: ${p.role} ${p.owner} (pid ${p.pid}, log ${p.log})`);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------- traffic

export interface ClientAttempt {
  outcome: 'allow' | 'reset' | 'timeout' | 'error' | 'bad-response';
  ms: number;
  localPort: number | null;
  status?: number;
  body?: string;
  error?: string;
}

/** Runs the lab client inside `pod`'s namespace. */
export function runClient(pod: Pick<LabPod, 'ns'>, toIp: string, port: number, opts: { count?: number; timeoutMs?: number } = {}): ClientAttempt[] {
  const argv = ['netns', 'exec', pod.ns, process.execPath, join(repoRoot(), 'scripts', 'lab', 'client.mjs'), '--to', toIp, '--port', String(port), '--count', String(opts.count ?? 1), '--timeout', String(opts.timeoutMs ?? 3000)];
  const r = spawnSync('ip', argv, { encoding: 'utf8', timeout: (opts.timeoutMs ?? 3000) * (opts.count ?? 1) + 15_000 });
  const out: ClientAttempt[] = [];
  for (const line of (r.stdout ?? '').split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as ClientAttempt);
    } catch {
      // ignore noise
    }
  }
  if (out.length === 0) out.push({ outcome: 'error', ms: 0, localPort: null, error: (r.stderr ?? '').trim().slice(0, 300) || 'client produced no result' });
  return out;
}

export interface EnvoyRecord {
  peer: string;
  origDst?: string;
  error?: string;
}

export function envoyRecords(dir: string, podNs: string): EnvoyRecord[] {
  try {
    return readFileSync(join(dir, 'logs', `envoy-${podNs}.jsonl`), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as EnvoyRecord);
  } catch {
    return [];
  }
}

export interface AppRecord {
  port: number;
  peer: string;
  ok: boolean;
  firstHex: string;
}

export function appRecords(dir: string, podNs: string): AppRecord[] {
  try {
    return readFileSync(join(dir, 'logs', `conns-${podNs}.jsonl`), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as AppRecord);
  } catch {
    return [];
  }
}

/** Flow records written by the enforcers (daemon flow logs under the lab dir), newest last. */
export function labFlowRecords(dir: string): FlowRecord[] {
  const out: FlowRecord[] = [];
  const nodesDir = join(dir, 'nodes');
  if (!existsSync(nodesDir)) return out;
  for (const n of readdirSync(nodesDir)) {
    const f = join(nodesDir, n, 'flows.jsonl');
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as FlowRecord);
      } catch {
        // partial line being written
      }
    }
  }
  return out;
}

/**
 * The enforcers' flow record for client ip:port -> server ip, waiting up to `waitMs` for it to be
 * drained to disk. Prefers a rejecting record (the deciding enforcer) over a peer's view of it.
 */
export async function findFlowRecord(dir: string, srcIp: string, srcPort: number, dstIp: string, waitMs: number, want: 'any' | 'deny' = 'any'): Promise<FlowRecord | undefined> {
  const deadline = Date.now() + waitMs;
  for (let i = 0; i < 1000; i++) {
    const recs = labFlowRecords(dir).filter((f) => f.src.ip === srcIp && f.src.port === srcPort && f.dst.ip === dstIp);
    // The deciding enforcer's record: a deny that is not the peer's echo of it, else the server side's.
    const decisive = recs.find((f) => f.verdict === 'deny' && f.reason !== 'peer-reject');
    if (decisive !== undefined) return decisive;
    const fallback = recs.find((f) => f.direction === 'inbound') ?? recs[recs.length - 1];
    if (Date.now() >= deadline || (want === 'any' && fallback !== undefined)) return fallback;
    await sleep(50);
  }
  return undefined;
}

export interface LabConnection extends ConnectionResult {
  attempts: ClientAttempt[];
  /** The stand-in Envoy's SO_ORIGINAL_DST for the first allowed attempt, when the target has one. */
  envoyOrigDst: string | null;
  /** The app saw the client's request as its first bytes (null when no request reached it). */
  appFirstBytesOk: boolean | null;
}

export interface LabTestResult {
  connections: LabConnection[];
  json: SimulateJson;
  table: string;
  unexpected: number;
  /** Traffic entries not run (attacks that need crafted packets). */
  skipped: string[];
}

const ATTACKS_LIVE = new Set(LIVE_ATTACKS);

export async function labTest(o: { dir?: string; timeoutMs?: number; maxCount?: number } = {}): Promise<LabTestResult> {
  const dir = resolve(o.dir ?? DEFAULT_LAB_DIR);
  const state = readState(dir);
  if (state === null || state.phase !== 'up') throw labError('SYNGATE_LAB_NOT_UP', `no lab is up in ${dir}; run \`syngate lab up SCENARIO.yaml\` first`);
  const sc = loadScenario(state.scenario);
  const pods = new Map(state.plan.pods.map((p) => [p.id, p]));
  const wl = new Map(sc.workloads.map((w) => [w.id, w]));
  const spiffeOf = (id: string): string | null => {
    const w = wl.get(id);
    return w === undefined ? null : `spiffe://${sc.trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`;
  };
  const nodeOf = (id: string): string => wl.get(id)?.node ?? 'rogue';
  const t0 = Date.now();
  const conns: LabConnection[] = [];
  const skipped: string[] = [];
  for (const t of sc.traffic) {
    const from = pods.get(t.from);
    const to = pods.get(t.to);
    if (from === undefined || to === undefined) continue;
    const base = { traffic: t.index, from: t.from, to: t.to, port: t.port, attack: t.attack, expect: t.expect, expectReason: t.reason };
    if (t.attack !== null && !ATTACKS_LIVE.has(t.attack)) {
      skipped.push(`traffic[${t.index}] ${t.from} -> ${t.to}:${t.port} attack ${t.attack}: needs an in-flight rewrite the lab does not do`);
      continue;
    }
    if (t.attack !== null && t.attack !== 'no-token') {
      const victim = t.victim === null ? null : (pods.get(t.victim) ?? null);
      const o2 = await runAttack(t.attack as LiveAttack, state, repoRoot(), { trustDomain: sc.trustDomain, spiffeOf, nodeOf }, from, to, t.port, victim, (v) => {
        runClient(v, to.ip, t.port, { timeoutMs: o.timeoutMs ?? 3000 });
      });
      if (!o2.sent) {
        skipped.push(`traffic[${t.index}] ${t.from} -> ${t.to}:${t.port} attack ${t.attack}: ${o2.note}`);
        continue;
      }
      const rec = await findFlowRecord(dir, o2.srcIp, o2.srcPort, to.ip, 3000, 'deny');
      const verdict: 'allow' | 'deny' = rec !== undefined && rec.verdict === 'allow' ? 'allow' : 'deny';
      const reason = rec?.reason ?? 'no-record';
      const problems: string[] = [];
      if (t.expect !== null && t.expect !== verdict) problems.push(`expected ${t.expect}`);
      if (t.reason !== null && reason !== t.reason) problems.push(`expected reason ${t.reason}`);
      conns.push({ ...base, verdict, reason, rule: rec?.rule ?? '', unexpected: problems.length > 0, note: problems.join('; '), attempts: [], envoyOrigDst: null, appFirstBytesOk: null });
      continue;
    }
    const attempts = runClient(from, to.ip, t.port, { count: Math.min(t.count, o.maxCount ?? 3), timeoutMs: o.timeoutMs ?? 3000 });
    for (const a of attempts) {
      const allowed = a.outcome === 'allow' && a.status === 200;
      const rec = a.localPort === null ? undefined : await findFlowRecord(dir, from.ip, a.localPort, to.ip, allowed ? 300 : 1500, allowed ? 'any' : 'deny');
      const reason = rec?.reason ?? (allowed ? 'ok' : a.outcome === 'reset' ? 'reset' : a.outcome);
      const rule = rec?.rule ?? '';
      let envoyOrigDst: string | null = null;
      if (to.envoy && a.localPort !== null) envoyOrigDst = envoyRecords(dir, to.ns).find((r) => r.peer === `${from.ip}:${a.localPort}`)?.origDst ?? null;
      let appFirstBytesOk: boolean | null = null;
      if (a.outcome === 'allow') appFirstBytesOk = a.status === 200;
      const verdict: 'allow' | 'deny' = allowed ? 'allow' : 'deny';
      const problems: string[] = [];
      if (t.expect !== null && t.expect !== verdict) problems.push(`expected ${t.expect}`);
      if (t.reason !== null && verdict === 'deny' && rec !== undefined && rec.reason !== t.reason) problems.push(`expected reason ${t.reason}`);
      if (a.outcome === 'allow' && a.status !== 200) problems.push(`app answered ${a.status ?? '?'} (first bytes were not the request)`);
      conns.push({ ...base, verdict, reason, rule, unexpected: problems.length > 0, note: problems.join('; '), attempts: [a], envoyOrigDst, appFirstBytesOk });
    }
  }
  const summary = {
    allowed: conns.filter((c) => c.verdict === 'allow').length,
    denied: conns.filter((c) => c.verdict === 'deny').length,
    unexpected: conns.filter((c) => c.unexpected).length,
  };
  const result: SimulationResult = { connections: conns, summary, flows: labFlowRecords(dir), workloads: [], metrics: '', seed: sc.seed ?? 0, elapsedMs: Date.now() - t0 };
  let table = formatTable(result);
  if (skipped.length > 0) table += `${skipped.length} traffic entries not run live:\n${skipped.map((s) => `  ${s}`).join('\n')}\n`;
  return { connections: conns, json: toJson(result), table, unexpected: summary.unexpected, skipped };
}
