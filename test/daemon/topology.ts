// Shared fixtures for the daemon tests: the demo policy and node files (CA, bundle, inventory,
// per-node credentials and config), the four-namespace topologies (client pod -> node-a -> node-b
// -> server pod, either one bridged L2 segment for pcap or routed subnets for nfqueue), and starting
// the app/echo servers and `syngate run`. Invariants: every namespace is named from the suite's
// `sg<hex>` prefix and removed by `teardown`; every process goes through the suite's Procs and is
// ended by PID; addresses stay in 198.18.0.0/15; every wait is bounded.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createCa, issueNodeCredential } from '../../enforcer/identity/index.js';
import { CREDENTIAL_FILE, NODE_KEY_FILE } from '../../enforcer/daemon/core.js';
import { ECHO, Procs, delNamespaces, prefix, sh, type Proc } from '../datapath/root-helpers.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const NODES = ['node-a', 'node-b'] as const;

/** ALLOW policy for demo/srv from demo/cli on `ports`. */
export function policy(ports: readonly number[]): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: srv-allow, namespace: demo}
spec:
  selector: {matchLabels: {app: srv}}
  action: ALLOW
  rules:
    - from: [{source: {principals: ["cluster.local/ns/demo/sa/cli"]}}]
      to: [{operation: {ports: [${ports.map((p) => `"${p}"`).join(', ')}]}}]
`;
}

/** Polls `fn` every `step` ms until it returns something other than false/undefined; throws after `ms`. */
export async function until<T>(what: string, fn: () => T | undefined | false, ms: number, step = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, step));
  }
}

/** Names for one suite: client, node-a, node-b and server namespaces, and a scratch folder. */
export interface Topology {
  readonly P: string;
  readonly C: string;
  readonly NA: string;
  readonly NB: string;
  readonly S: string;
  readonly DIR: string;
}

export function topology(dirTag: string): Topology {
  const P = prefix();
  return { P, C: `${P}-c`, NA: `${P}-na`, NB: `${P}-nb`, S: `${P}-s`, DIR: join(tmpdir(), `${P}-${dirTag}`) };
}

export interface NodeFiles {
  /** demo/srv's address (demo/cli is 198.18.1.2 on node-a). */
  readonly serverIp: string;
  /** The config's `datapath:` line value, e.g. `{type: pcap, inside: lan0, outside: wan0}`. */
  readonly datapath: string;
  /** host:port of the admin endpoint. */
  readonly admin: string;
  /** Extra config lines for one node. */
  readonly extra?: (node: string) => readonly string[];
}

/** Writes bundle.pem, inventory.yaml, policies/srv.yaml (8080 and 7001 allowed), and per-node credentials and `<node>.yaml` into `dir`. */
export function writeNodeFiles(dir: string, o: NodeFiles): void {
  mkdirSync(join(dir, 'policies'), { recursive: true });
  const ca = createCa({ trustDomain: 'cluster.local' });
  writeFileSync(join(dir, 'bundle.pem'), ca.certPem);
  writeFileSync(join(dir, 'inventory.yaml'), `workloads:
  - {name: cli, namespace: demo, serviceAccount: cli, labels: {app: cli}, ip: 198.18.1.2, node: node-a}
  - {name: srv, namespace: demo, serviceAccount: srv, labels: {app: srv}, ip: ${o.serverIp}, node: node-b, ports: [8080, 7001]}
`);
  writeFileSync(join(dir, 'policies', 'srv.yaml'), policy([8080, 7001]));
  for (const n of NODES) {
    const cred = issueNodeCredential(ca, { node: n });
    mkdirSync(join(dir, n), { recursive: true });
    writeFileSync(join(dir, n, CREDENTIAL_FILE), cred.credential);
    writeFileSync(join(dir, n, NODE_KEY_FILE), cred.nodeKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    writeFileSync(join(dir, `${n}.yaml`), [`node: ${n}`, `datapath: ${o.datapath}`, `identity: {caBundle: bundle.pem, credentials: ${n}}`,
      'policy: {paths: [policies]}', 'inventory: {source: static, file: inventory.yaml}', `admin: ${o.admin}`, 'flowLog: {sink: off}', 'reload: {pollMillis: 100, debounceMillis: 50}',
      ...(o.extra?.(n) ?? []), ''].join('\n'));
  }
}

function addNamespaces(t: Topology): void {
  for (const ns of [t.C, t.NA, t.NB, t.S]) {
    sh(['ip', 'netns', 'add', ns]);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }
  sh(['ip', '-n', t.C, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', t.NA]);
  sh(['ip', '-n', t.NA, 'link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'wan0', 'netns', t.NB]);
  sh(['ip', '-n', t.S, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', t.NB]);
}

/** One L2 segment (client 198.18.1.2, server 198.18.1.3) through two bump-in-the-wire nodes; offloads off on every veth end. */
export function bridgedTopology(t: Topology): void {
  addNamespaces(t);
  sh(['ip', '-n', t.C, 'addr', 'add', '198.18.1.2/24', 'dev', 'eth0']);
  sh(['ip', '-n', t.S, 'addr', 'add', '198.18.1.3/24', 'dev', 'eth0']);
  for (const [ns, dev] of [[t.C, 'eth0'], [t.NA, 'lan0'], [t.NA, 'wan0'], [t.NB, 'wan0'], [t.NB, 'lan0'], [t.S, 'eth0']] as const) {
    sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    sh(['ip', 'netns', 'exec', ns, 'ethtool', '-K', dev, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
  }
}

/** Routed: client 198.18.1.2 -> node-a (198.18.1.1 / 198.18.3.1) -> node-b (198.18.3.2 / 198.18.2.1) -> server 198.18.2.2. */
export function routedTopology(t: Topology): void {
  addNamespaces(t);
  const addrs: [string, string, string][] = [
    [t.C, 'eth0', '198.18.1.2/24'], [t.NA, 'lan0', '198.18.1.1/24'], [t.NA, 'wan0', '198.18.3.1/24'],
    [t.NB, 'wan0', '198.18.3.2/24'], [t.NB, 'lan0', '198.18.2.1/24'], [t.S, 'eth0', '198.18.2.2/24'],
  ];
  for (const [ns, dev, a] of addrs) {
    sh(['ip', '-n', ns, 'addr', 'add', a, 'dev', dev]);
    sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
  }
  sh(['ip', '-n', t.C, 'route', 'add', 'default', 'via', '198.18.1.1']);
  sh(['ip', '-n', t.S, 'route', 'add', 'default', 'via', '198.18.2.1']);
  sh(['ip', '-n', t.NA, 'route', 'add', '198.18.2.0/24', 'via', '198.18.3.2']);
  sh(['ip', '-n', t.NB, 'route', 'add', '198.18.1.0/24', 'via', '198.18.3.1']);
  for (const ns of [t.NA, t.NB]) sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
}

/** In `ns`: the demo app server on 8080 and the echo server on 7001. */
export async function startServers(procs: Procs, ns: string): Promise<void> {
  await procs.start(ns, ['node', join(ROOT, 'scripts/lab/app-server.mjs'), '--name', 'demo/srv', '--ports', '8080']);
  await procs.start(ns, [...ECHO.slice(0, 1), join(ROOT, ECHO[1] as string), 'server', '7001']);
}

/** An echo client in `ns` connected to ip:port (resolves once it printed `connected`). */
export function echoClient(procs: Procs, ns: string, ip: string, port: number): Promise<Proc> {
  return procs.start(ns, [...ECHO.slice(0, 1), join(ROOT, ECHO[1] as string), 'client', ip, String(port)], /^connected$/);
}

/** True when the admin endpoint at `admin` inside `ns` answers /readyz with 200. */
export function ready(ns: string, admin: string): boolean {
  return sh(['ip', 'netns', 'exec', ns, 'curl', '-s', '-m', '2', '-o', '/dev/null', '-w', '%{http_code}', `http://${admin}/readyz`], true).trim() === '200';
}

/** Starts `syngate run --config <dir>/<node>.yaml` in `ns` and waits (20 s) until it is ready; the error carries its stderr. */
export async function startDaemon(procs: Procs, t: Topology, ns: string, node: string, admin: string): Promise<Proc> {
  const d = await procs.start(ns, [process.execPath, join(ROOT, 'bin/syngate.js'), 'run', '--config', join(t.DIR, `${node}.yaml`)], null);
  await until(`${node} ready`, () => ready(ns, admin), 20_000, 100).catch((e: unknown) => {
    throw new Error(`${String(e)}; stderr: ${d.stderr}`);
  });
  return d;
}

/**
 * The whole fixture: node files, the namespaces (`bridged` for pcap, `routed` for nfqueue), the
 * servers in the server pod, then node-a's and node-b's daemons, each ready. Returns [node-a, node-b].
 */
export async function bringUp(procs: Procs, t: Topology, layout: 'bridged' | 'routed', files: NodeFiles): Promise<[Proc, Proc]> {
  writeNodeFiles(t.DIR, files);
  if (layout === 'bridged') bridgedTopology(t);
  else routedTopology(t);
  await startServers(procs, t.S);
  const a = await startDaemon(procs, t, t.NA, 'node-a', files.admin);
  return [a, await startDaemon(procs, t, t.NB, 'node-b', files.admin)];
}

/** Ends every process by PID, deletes the suite's namespaces and scratch folder. */
export async function teardown(procs: Procs, t: Topology): Promise<void> {
  await procs.killAll();
  delNamespaces(t.P);
  rmSync(t.DIR, { recursive: true, force: true });
}
