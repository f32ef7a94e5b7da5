// The lab's topology, computed from a scenario without touching the system (unit-tested as data).
// Invariants:
//  - every address is in 198.18.0.0/15: workloads keep the scenario's addresses; node gateways are
//    198.19.254.(i+1) and node uplinks 198.19.255.(i+1)/24; a collision is an error;
//  - every namespace name starts with the lab prefix (`sg` + hex) and every interface is created
//    directly inside a lab namespace (`ip -n NS link add ... peer ... netns NS2`), so deleting the
//    namespaces removes every interface, bridge, route and rule the lab created; nothing is created
//    in the namespace `lab up` runs in;
//  - per node: a LAN namespace (Linux bridge, one veth per pod), a router namespace (gateway, uplink
//    to the fabric bridge, /32 routes for every pod) and, with the pcap datapath, an enforcer
//    namespace bridging `ein` (toward the LAN) and `eout` (toward the router) in userspace;
//    with nfqueue the enforcer runs in the router namespace and queues what crosses `lan0`;
//  - workloads with `enforcer: false` sit behind an extra router with no enforcer (the "unenforced"
//    node), so they reach the cluster only through other nodes' enforcers;
//  - pods use a /32 address and a default route via their node's gateway: same-node traffic is
//    routed through the node (and its enforcer) instead of being bridged pod to pod.
import type { Scenario, ScenarioWorkload } from '../../sim/scenario.js';

export type LabDatapath = 'nfqueue' | 'pcap';

export interface Step {
  /** argv; argv[0] is the program. */
  argv: string[];
  /** Failure is fatal unless set. */
  mayFail?: boolean;
}

export interface LabNode {
  name: string;
  index: number;
  enforced: boolean;
  routerNs: string;
  lanNs: string;
  /** pcap only: where the userspace bridge runs. */
  bridgeNs: string | null;
  /** Namespace the enforcer process runs in (null for the unenforced node). */
  enforcerNs: string | null;
  gateway: string;
  uplinkIp: string;
}

export interface LabPod {
  id: string;
  name: string;
  namespace: string;
  ns: string;
  ip: string;
  node: string;
  nodeIndex: number;
  ports: number[];
  /** True iff the stand-in Envoy and the REDIRECT rules are installed in this pod. */
  envoy: boolean;
  enforced: boolean;
}

export interface LabPlan {
  prefix: string;
  datapath: LabDatapath;
  fabricNs: string;
  nodes: LabNode[];
  pods: LabPod[];
  envoyPort: number | null;
  envoyExclude: { from: number; to: number }[];
  /** Every namespace, in creation order. */
  namespaces: string[];
  steps: Step[];
}

export const UNENFORCED_NODE = '(unenforced)';
const LAB_NET_BASE = 198 * 2 ** 24 + 18 * 2 ** 16; // 198.18.0.0
const LAB_NET_SIZE = 1 << 17;

function ipU32(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0] ?? 0) * 2 ** 24 + (p[1] ?? 0) * 2 ** 16 + (p[2] ?? 0) * 2 ** 8 + (p[3] ?? 0)) >>> 0;
}

export function inLabRange(ip: string): boolean {
  const v = ipU32(ip);
  return v >= LAB_NET_BASE && v < LAB_NET_BASE + LAB_NET_SIZE;
}

export class LabPlanError extends Error {}

const ipn = (ns: string, ...args: string[]): Step => ({ argv: ['ip', '-n', ns, ...args] });
const inNs = (ns: string, ...args: string[]): Step => ({ argv: ['ip', 'netns', 'exec', ns, ...args] });
const sysctl = (ns: string, key: string, v: string): Step => inNs(ns, 'sysctl', '-qw', `${key}=${v}`);

function nsBasics(ns: string, steps: Step[]): void {
  steps.push({ argv: ['ip', 'netns', 'add', ns] });
  steps.push(ipn(ns, 'link', 'set', 'lo', 'up'));
  steps.push(sysctl(ns, 'net.ipv6.conf.all.disable_ipv6', '1'));
  steps.push(sysctl(ns, 'net.ipv6.conf.default.disable_ipv6', '1'));
}

/** A veth pair created inside `nsA` with its peer moved straight into `nsB`. */
function veth(nsA: string, a: string, nsB: string, b: string, steps: Step[], offloadsOff: boolean): void {
  steps.push(ipn(nsA, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', nsB));
  if (offloadsOff) {
    steps.push(inNs(nsA, 'ethtool', '-K', a, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'));
    steps.push(inNs(nsB, 'ethtool', '-K', b, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'));
  }
}

export function planLab(sc: Scenario, datapath: LabDatapath, prefix: string): LabPlan {
  if (!/^sg[0-9a-f]{4,12}$/.test(prefix)) throw new LabPlanError(`lab prefix '${prefix}' must be 'sg' + 4-12 hex digits`);
  const steps: Step[] = [];
  const namespaces: string[] = [];
  const offOff = datapath === 'pcap';
  const infra = new Set<string>();
  const nodeNames = [...sc.nodes];
  const needUnenforced = sc.workloads.some((w) => !w.enforcer);
  if (needUnenforced) nodeNames.push(UNENFORCED_NODE);
  if (nodeNames.length > 250) throw new LabPlanError('the lab supports at most 250 nodes');
  const nodes: LabNode[] = nodeNames.map((name, i) => {
    const enforced = name !== UNENFORCED_NODE;
    const routerNs = `${prefix}-n${i}`;
    const bridgeNs = enforced && datapath === 'pcap' ? `${prefix}-e${i}` : null;
    const node: LabNode = {
      name,
      index: i,
      enforced,
      routerNs,
      lanNs: `${prefix}-l${i}`,
      bridgeNs,
      enforcerNs: enforced ? (bridgeNs ?? routerNs) : null,
      gateway: `198.19.254.${i + 1}`,
      uplinkIp: `198.19.255.${i + 1}`,
    };
    infra.add(node.gateway);
    infra.add(node.uplinkIp);
    return node;
  });
  const nodeOf = (w: ScenarioWorkload): LabNode => {
    const n = w.enforcer ? nodes.find((x) => x.name === w.node) : nodes[nodes.length - 1];
    if (n === undefined) throw new LabPlanError(`workload ${w.id}: unknown node ${w.node}`);
    return n;
  };
  const pods: LabPod[] = sc.workloads.map((w, j) => {
    if (!inLabRange(w.ip)) throw new LabPlanError(`workload ${w.id}: address ${w.ip} is outside 198.18.0.0/15, the only range the lab uses`);
    if (infra.has(w.ip)) throw new LabPlanError(`workload ${w.id}: address ${w.ip} collides with a lab gateway/uplink address (198.19.254.0/23 is reserved by the lab)`);
    const n = nodeOf(w);
    return {
      id: w.id,
      name: w.name,
      namespace: w.namespace,
      ns: `${prefix}-w${j}`,
      ip: w.ip,
      node: n.name,
      nodeIndex: n.index,
      ports: w.ports.map((p) => p.port),
      envoy: sc.envoy !== null && w.enforcer,
      enforced: w.enforcer,
    };
  });

  // Fabric: one bridge joining every node's uplink.
  const fabricNs = `${prefix}-fab`;
  namespaces.push(fabricNs);
  nsBasics(fabricNs, steps);
  steps.push(ipn(fabricNs, 'link', 'add', 'br0', 'type', 'bridge'));
  steps.push(ipn(fabricNs, 'link', 'set', 'br0', 'up'));

  for (const n of nodes) {
    for (const ns of [n.routerNs, n.lanNs, ...(n.bridgeNs === null ? [] : [n.bridgeNs])]) {
      namespaces.push(ns);
      nsBasics(ns, steps);
    }
    // Router
    steps.push(sysctl(n.routerNs, 'net.ipv4.ip_forward', '1'));
    for (const k of ['all', 'default']) {
      steps.push(sysctl(n.routerNs, `net.ipv4.conf.${k}.send_redirects`, '0'));
      steps.push(sysctl(n.routerNs, `net.ipv4.conf.${k}.rp_filter`, '0'));
    }
    veth(n.routerNs, 'uplink', fabricNs, `n${n.index}`, steps, offOff);
    steps.push(ipn(fabricNs, 'link', 'set', `n${n.index}`, 'master', 'br0'));
    steps.push(ipn(fabricNs, 'link', 'set', `n${n.index}`, 'up'));
    steps.push(ipn(n.routerNs, 'addr', 'add', `${n.uplinkIp}/24`, 'dev', 'uplink'));
    steps.push(ipn(n.routerNs, 'link', 'set', 'uplink', 'up'));
    // LAN bridge
    steps.push(ipn(n.lanNs, 'link', 'add', 'br0', 'type', 'bridge'));
    if (offOff) steps.push({ ...inNs(n.lanNs, 'ethtool', '-K', 'br0', 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'), mayFail: true });
    steps.push(ipn(n.lanNs, 'link', 'set', 'br0', 'up'));
    if (n.bridgeNs === null) {
      veth(n.lanNs, 'trunk', n.routerNs, 'lan0', steps, offOff);
    } else {
      veth(n.lanNs, 'trunk', n.bridgeNs, 'ein', steps, offOff);
      veth(n.bridgeNs, 'eout', n.routerNs, 'lan0', steps, offOff);
      steps.push(ipn(n.bridgeNs, 'link', 'set', 'ein', 'up'));
      steps.push(ipn(n.bridgeNs, 'link', 'set', 'eout', 'up'));
    }
    steps.push(ipn(n.lanNs, 'link', 'set', 'trunk', 'master', 'br0'));
    steps.push(ipn(n.lanNs, 'link', 'set', 'trunk', 'up'));
    steps.push(ipn(n.routerNs, 'addr', 'add', `${n.gateway}/32`, 'dev', 'lan0'));
    steps.push(ipn(n.routerNs, 'link', 'set', 'lan0', 'up'));
    steps.push(sysctl(n.routerNs, 'net.ipv4.conf.lan0.send_redirects', '0'));
    steps.push(sysctl(n.routerNs, 'net.ipv4.conf.lan0.rp_filter', '0'));
    steps.push(sysctl(n.routerNs, 'net.ipv4.conf.uplink.rp_filter', '0'));
  }

  for (const p of pods) {
    const n = nodes[p.nodeIndex];
    if (n === undefined) continue;
    namespaces.push(p.ns);
    nsBasics(p.ns, steps);
    const lanIf = `p${pods.indexOf(p)}`;
    veth(n.lanNs, lanIf, p.ns, 'eth0', steps, offOff);
    steps.push(ipn(n.lanNs, 'link', 'set', lanIf, 'master', 'br0'));
    steps.push(ipn(n.lanNs, 'link', 'set', lanIf, 'up'));
    steps.push(ipn(p.ns, 'addr', 'add', `${p.ip}/32`, 'dev', 'eth0'));
    steps.push(ipn(p.ns, 'link', 'set', 'eth0', 'up'));
    steps.push(ipn(p.ns, 'route', 'add', n.gateway, 'dev', 'eth0', 'scope', 'link'));
    steps.push(ipn(p.ns, 'route', 'add', 'default', 'via', n.gateway, 'dev', 'eth0'));
    // Routes to this pod on every router.
    for (const r of nodes) {
      if (r.index === n.index) steps.push(ipn(r.routerNs, 'route', 'add', `${p.ip}/32`, 'dev', 'lan0', 'src', r.gateway));
      else steps.push(ipn(r.routerNs, 'route', 'add', `${p.ip}/32`, 'via', n.uplinkIp, 'dev', 'uplink'));
    }
    if (p.envoy && sc.envoy !== null) {
      // Istio-style inbound capture: everything arriving for the pod goes to the proxy, except
      // excluded ports. Locally originated connections (the proxy to the app) are not redirected.
      const ipt = (...a: string[]): Step => inNs(p.ns, 'iptables', '-w', '-t', 'nat', ...a);
      steps.push(ipt('-N', 'SG_INBOUND'));
      for (const ex of sc.envoy.excludePorts) steps.push(ipt('-A', 'SG_INBOUND', '-p', 'tcp', '--dport', ex.from === ex.to ? `${ex.from}` : `${ex.from}:${ex.to}`, '-j', 'RETURN'));
      steps.push(ipt('-A', 'SG_INBOUND', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', `${sc.envoy.inboundPort}`));
      steps.push(ipt('-A', 'PREROUTING', '-p', 'tcp', '-j', 'SG_INBOUND'));
    }
  }
  return {
    prefix,
    datapath,
    fabricNs,
    nodes,
    pods,
    envoyPort: sc.envoy?.inboundPort ?? null,
    envoyExclude: sc.envoy?.excludePorts ?? [],
    namespaces,
    steps,
  };
}
