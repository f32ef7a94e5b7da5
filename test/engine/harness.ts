// Two-engine test bench: a client node (n1) and a server node (n2), each with a real IdentityAgent
// and a real compiled PolicyTable, joined by the simulator's in-memory wire; TCP endpoints emit
// real Ethernet/IPv4/TCP bytes.
import { createEngine, Direction, type AgentHandshake, type Engine, type EngineEvent, EVENT_KIND_NAMES, EVENT_VERDICT_NAMES, type OutboxEntry } from '../../enforcer/engine/index.js';
import { LinkType } from '../../enforcer/engine/types.js';
import { bundleOf, createCa, issueNodeCredential, IdentityAgent, type CaMaterial, type IdentityConfig, type PeerIdentity } from '../../enforcer/identity/index.js';
import { compile, loadInventoryText, loadPolicyTexts, type PolicyTable } from '../../enforcer/policy/index.js';
import { reasonLabel } from '../../enforcer/reasons.js';
import { FakeClock, macForIp, Prng, TcpHost, Wire, type SimEnforcer, type WireHook } from '../../enforcer/sim/index.js';
import type { ConntrackOptions } from '../../enforcer/conntrack/index.js';

export const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
export const CLIENT_IP = '198.18.0.1';
export const SERVER_IP = '198.18.0.2';
export const OTHER_IP = '198.18.0.3';
export const LEGACY_IP = '198.18.0.5';
export const PORT = 8080;

export const ALLOW_FRONTEND = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: cart-allow, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/frontend"]}}]
    to: [{operation: {ports: ["8080"]}}]
`;

export const DENY_ALL_CART = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: cart-deny, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  action: DENY
  rules:
  - {}
`;

export function inventoryYaml(opts: { serverMode?: string; legacyAllowed?: boolean } = {}): string {
  return `
trustDomain: cluster.local
namespaces: [{name: shop}]
workloads:
  - {name: frontend, namespace: shop, serviceAccount: frontend, labels: {app: frontend}, ip: ${CLIENT_IP}, node: n1}
  - {name: cart, namespace: shop, serviceAccount: cart, labels: {app: cart}, ip: ${SERVER_IP}, node: n2${opts.serverMode ? `, mode: ${opts.serverMode}` : ''},
     ports: [{name: http, port: 8080}]}
  - {name: other, namespace: shop, serviceAccount: other, labels: {app: other}, ip: ${OTHER_IP}, node: n1}
  - {name: legacy, namespace: shop, labels: {app: legacy}, ip: ${LEGACY_IP}, node: n3, enforcer: false}
`;
}

export function compileTable(policyYaml: string, inv = inventoryYaml(), previous?: PolicyTable): PolicyTable {
  const ir = loadInventoryText(inv, 'inventory.yaml');
  if (ir.inventory === undefined) throw new Error(JSON.stringify(ir.diagnostics));
  const r = loadPolicyTexts(policyYaml.trim() === '' ? [] : [{ file: 'policy.yaml', text: policyYaml }]);
  const errs = r.diagnostics.filter((d) => d.severity === 'error');
  if (errs.length > 0) throw new Error(JSON.stringify(errs));
  return compile(ir.inventory, r.policies, previous === undefined ? {} : { previous });
}

export interface PlainEvent {
  kind: string;
  verdict: string;
  reason: string;
  localClient: boolean;
  sport: number;
  dport: number;
  redirectPort: number;
  peer: string | null;
}

export interface BenchOpts {
  policy?: string;
  inventory?: string;
  serverCt?: ConntrackOptions;
  clientCt?: ConntrackOptions;
  identity?: Partial<IdentityConfig>;
  redirect?: boolean;
  /** The client host has no enforcer. */
  clientWithoutEnforcer?: boolean;
  /** The server engine's reject-RST budget (EngineOptions.rejectRstPerSecond; default the engine's). */
  serverRejectRstPerSecond?: number;
  seed?: number;
  clientClockSkewMs?: number;
  /** CA for the client node (default: the cluster CA). */
  clientCa?: CaMaterial;
}

export class TwoNodes {
  readonly clock = new FakeClock(T0);
  readonly wire = new Wire({ clock: this.clock, trace: false, capture: true });
  readonly ca = createCa({ trustDomain: 'cluster.local', nowMs: T0 });
  readonly clientAgent: IdentityAgent;
  readonly serverAgent: IdentityAgent;
  table: PolicyTable;
  readonly clientEngine: Engine<AgentHandshake, PeerIdentity>;
  readonly serverEngine: Engine<AgentHandshake, PeerIdentity>;
  readonly client: TcpHost;
  readonly other: TcpHost;
  readonly server: TcpHost;
  readonly clientEvents: PlainEvent[] = [];
  readonly serverEvents: PlainEvent[] = [];

  constructor(readonly opts: BenchOpts = {}) {
    const prng = new Prng(opts.seed ?? 7);
    const clientCa = opts.clientCa ?? this.ca;
    this.clientAgent = new IdentityAgent({ node: issueNodeCredential(clientCa, { node: 'n1', nowMs: T0 }), bundle: bundleOf(clientCa), config: opts.identity ?? {} });
    this.serverAgent = new IdentityAgent({ node: issueNodeCredential(this.ca, { node: 'n2', nowMs: T0 }), bundle: bundleOf(this.ca), config: opts.identity ?? {} });
    this.clientAgent.registerWorkload({ spiffeId: 'spiffe://cluster.local/ns/shop/sa/frontend', labels: { app: 'frontend' }, ip: CLIENT_IP }, T0);
    this.clientAgent.registerWorkload({ spiffeId: 'spiffe://cluster.local/ns/shop/sa/other', labels: { app: 'other' }, ip: OTHER_IP }, T0);
    this.serverAgent.registerWorkload({ spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart', labels: { app: 'cart' }, ip: SERVER_IP }, T0);
    this.table = compileTable(opts.policy ?? ALLOW_FRONTEND, opts.inventory ?? inventoryYaml());
    this.clientEngine = createEngine({
      agent: this.clientAgent,
      table: this.table,
      node: 'n1',
      name: 'n1',
      linkType: LinkType.ETHERNET,
      macOf: macForIp,
      conntrack: opts.clientCt ?? { capacity: 1024, seed: 1 },
    });
    this.serverEngine = createEngine({
      agent: this.serverAgent,
      table: this.table,
      node: 'n2',
      name: 'n2',
      linkType: LinkType.ETHERNET,
      macOf: macForIp,
      redirect: opts.redirect ?? false,
      conntrack: opts.serverCt ?? { capacity: 1024, seed: 2 },
      ...(opts.serverRejectRstPerSecond === undefined ? {} : { rejectRstPerSecond: opts.serverRejectRstPerSecond }),
    });
    const clk = () => this.clock.now();
    this.client = new TcpHost({ name: 'frontend', ip: CLIENT_IP, prng: prng.fork('c'), clock: clk });
    this.other = new TcpHost({ name: 'other', ip: OTHER_IP, prng: prng.fork('o'), clock: clk });
    this.server = new TcpHost({ name: 'cart', ip: SERVER_IP, prng: prng.fork('s'), clock: clk });
    const skew = opts.clientClockSkewMs ?? 0;
    const ce = this.clientEngine;
    const clientSide: SimEnforcer =
      skew === 0 ? ce : { name: ce.name, process: (f, o, l, d, now) => ce.process(f, o, l, d, now + skew) };
    this.wire.attach(this.client, opts.clientWithoutEnforcer ? null : clientSide);
    this.wire.attach(this.other, opts.clientWithoutEnforcer ? null : clientSide);
    this.wire.attach(this.server, this.serverEngine);
    this.server.listen(PORT);
  }

  run(max = 10_000): number {
    const n = this.wire.run(max);
    this.drain();
    return n;
  }

  /** Puts packets an engine returned (revocation RSTs) on the wire where their direction says, then runs it. */
  sendEngineOutput(packets: readonly OutboxEntry[]): void {
    for (const p of packets) this.wire.inject(p.buf.subarray(0, p.length), p.direction === Direction.INBOUND ? 'deliver' : 'network');
    this.run();
  }

  hook(h: WireHook): () => void {
    return this.wire.addHook(h);
  }

  drain(): void {
    const conv = (out: PlainEvent[], eng: Engine<AgentHandshake, PeerIdentity>) =>
      eng.events.drain((e: EngineEvent) =>
        out.push({
          kind: EVENT_KIND_NAMES[e.kind] ?? '?',
          verdict: EVENT_VERDICT_NAMES[e.verdict] ?? '?',
          reason: reasonLabel(e.reason),
          localClient: e.localClient,
          sport: e.sport,
          dport: e.dport,
          redirectPort: e.redirectPort,
          peer: e.peerId === 0xffffffff ? null : eng.currentPolicy.identityName(e.peerId),
        }),
      );
    conv(this.clientEvents, this.clientEngine);
    conv(this.serverEvents, this.serverEngine);
  }

  /** Frames the server host's stack accepted that still carried a syngate option, or any data before authorization. */
  serverSawOption(): boolean {
    return this.server.rx.some((r) => r.hadExperimentalOption);
  }

  /** Frames either client-node host's stack accepted that still carried a syngate option (RSTs included). */
  clientSawOption(): boolean {
    return this.client.rx.some((r) => r.hadExperimentalOption) || this.other.rx.some((r) => r.hadExperimentalOption);
  }
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export { Direction };
