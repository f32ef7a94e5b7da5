// The lab topology as data: every address in 198.18.0.0/15, every namespace the lab's, nothing
// created outside lab namespaces, and the rogue pod behind a node without an enforcer.
import { describe, expect, it } from 'vitest';
import { loadScenario, parseScenario } from '../../enforcer/sim/scenario.js';
import { inLabRange, planLab, UNENFORCED_NODE, LabPlanError } from '../../enforcer/datapath/lab/plan.js';

const bookinfo = loadScenario('examples/bookinfo/scenario.yaml');

describe('lab plan (bookinfo)', () => {
  for (const dp of ['nfqueue', 'pcap'] as const) {
    const plan = planLab(bookinfo, dp, 'sgabc123');
    it(`${dp}: every namespace carries the lab prefix and every step stays inside lab namespaces`, () => {
      expect(plan.namespaces.every((n) => n.startsWith('sgabc123-'))).toBe(true);
      expect(new Set(plan.namespaces).size).toBe(plan.namespaces.length);
      for (const s of plan.steps) {
        const [bin, a1, a2, a3] = s.argv;
        expect(bin).toBe('ip');
        if (a1 === '-n') expect(plan.namespaces).toContain(a2);
        else if (a1 === 'netns') {
          expect(['add', 'exec']).toContain(a2);
          expect(plan.namespaces).toContain(a3);
        } else expect.fail(`step outside a lab namespace: ${s.argv.join(' ')}`);
        // a veth's peer also goes straight into a lab namespace
        const peerNs = s.argv.indexOf('netns', 3);
        if (s.argv.includes('veth') && peerNs > 0) expect(plan.namespaces).toContain(s.argv[peerNs + 1]);
      }
    });
    it(`${dp}: addresses come from 198.18.0.0/15 only`, () => {
      const addrs = plan.steps.flatMap((s) => s.argv.filter((a) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(a))).map((a) => a.split('/')[0] ?? '');
      expect(addrs.length).toBeGreaterThan(20);
      for (const a of addrs) expect(inLabRange(a), a).toBe(true);
    });
    it(`${dp}: one enforcer per scenario node, the rogue pod behind the unenforced node`, () => {
      const enforced = plan.nodes.filter((n) => n.enforcerNs !== null).map((n) => n.name);
      expect(enforced).toEqual(['node-a', 'node-b', 'node-c']);
      const rogue = plan.pods.find((p) => p.id === 'default/rogue');
      expect(rogue?.node).toBe(UNENFORCED_NODE);
      expect(rogue?.envoy).toBe(false);
      if (dp === 'pcap') expect(plan.nodes.filter((n) => n.bridgeNs !== null)).toHaveLength(3);
      else expect(plan.nodes.every((n) => n.bridgeNs === null)).toBe(true);
    });
  }
  it('pods with Envoy get REDIRECT rules that exclude 15000-15090', () => {
    const plan = planLab(bookinfo, 'nfqueue', 'sgabc123');
    const pp = plan.pods.find((p) => p.id === 'bookinfo/productpage');
    expect(pp?.envoy).toBe(true);
    const rules = plan.steps.filter((s) => s.argv.includes(pp?.ns ?? '?') && s.argv.includes('iptables')).map((s) => s.argv.slice(4).join(' '));
    expect(rules).toContain('iptables -w -t nat -A SG_INBOUND -p tcp --dport 15000:15090 -j RETURN');
    expect(rules).toContain('iptables -w -t nat -A SG_INBOUND -p tcp -j REDIRECT --to-ports 15006');
  });
  it('pcap turns offloads off on every veth end', () => {
    const plan = planLab(bookinfo, 'pcap', 'sgabc123');
    const veths = plan.steps.filter((s) => s.argv.includes('veth')).length;
    const ethtool = plan.steps.filter((s) => s.argv.includes('ethtool') && !s.argv.includes('br0')).length;
    expect(ethtool).toBe(veths * 2);
  });
  it('refuses addresses outside the lab range and bad prefixes', () => {
    const text = 'nodes: [n1]\nworkloads:\n  - {name: a, ip: 10.0.0.1, ports: [80]}\n';
    const sc = parseScenario(text, 'x.yaml', '.');
    expect(() => planLab(sc, 'nfqueue', 'sgabc123')).toThrow(LabPlanError);
    expect(() => planLab(bookinfo, 'nfqueue', 'lab1')).toThrow(/prefix/);
  });
});
