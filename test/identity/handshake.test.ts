import { describe, expect, it } from 'vitest';
import { Reason, reasonLabel } from '../../enforcer/reasons.js';
import { type Binding, IdentityAgent, bundleOf, createCa, issueNodeCredential } from '../../enforcer/identity/index.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

function setup() {
  const ca = createCa({ trustDomain: 'cluster.local', nowMs: T0 });
  const bundle = bundleOf(ca);
  const clientNode = new IdentityAgent({ node: issueNodeCredential(ca, { node: 'node-a', nowMs: T0 }), bundle });
  const serverNode = new IdentityAgent({ node: issueNodeCredential(ca, { node: 'node-b', nowMs: T0 }), bundle });
  const client = clientNode.registerWorkload({ spiffeId: 'spiffe://cluster.local/ns/shop/sa/frontend', labels: { app: 'frontend' }, ip: '198.18.0.1' }, T0);
  const server = serverNode.registerWorkload({ spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart', labels: { app: 'cart' }, ip: '198.18.0.2' }, T0);
  return { ca, bundle, clientNode, serverNode, client, server };
}

function binding(sport = 40000, isnC = 1000, isnS = 0): Binding {
  return { srcIp: 0xc6120001, dstIp: 0xc6120002, srcPort: sport, dstPort: 8080, proto: 6, isnC, isnS };
}

describe('handshake', () => {
  it('completes cold then warm', () => {
    const s = setup();
    for (let i = 0; i < 3; i++) {
      const now = T0 + i * 1000;
      const b = binding(40000 + i, 1000 + i);
      const chs = s.clientNode.buildSyn(s.client, b, now);
      expect(reasonLabel(chs.reason)).toBe('ok');
      const shs = s.serverNode.verifySyn(s.server, chs.token, b, now);
      expect(reasonLabel(shs.reason)).toBe('ok');
      expect(shs.peer?.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/frontend');
      const sa = s.serverNode.buildSynAck(shs, 777 + i, now);
      const b2 = { ...b, isnS: 777 + i };
      expect(reasonLabel(s.clientNode.verifySynAck(chs, sa, b2, now))).toBe('ok');
      expect(chs.peer?.serviceAccount).toBe('cart');
      const ack = s.clientNode.buildAck(chs);
      expect(reasonLabel(s.serverNode.verifyAck(shs, ack, now))).toBe('ok');
      console.log(i, chs.token.length, sa.length, ack.length, JSON.stringify(s.serverNode.stats), JSON.stringify(s.clientNode.stats));
    }
    expect(Reason.OK).toBe(0);
  });
});
