// No syngate option reaches an application, RSTs included: every frame the wire delivers to a pod
// (the `deliver` hop, after the enforcer's INBOUND processing or from its outbox) is checked for an
// option of kind 253 and for valid IPv4/TCP checksums, in each case where an enforcer resets a
// local application: a peer's reject RST (policy, bad-mac), a local refusal (client table full),
// a failed SYN-ACK token (server app reset) and a revoked flow's straggler.
import { describe, expect, it } from 'vitest';
import { Counter, swapTable } from '../../enforcer/engine/index.js';
import { Reason } from '../../enforcer/reasons.js';
import { describeFrame, parseFrame, TCP_RST, TCP_SYN, type WireFrameEvent } from '../../enforcer/sim/index.js';
import { compileTable, DENY_ALL_CART, enc, inventoryYaml, PORT, SERVER_IP, TwoNodes } from './harness.js';

interface Delivered {
  rsts: number;
  violations: string[];
}

/** Watches the deliver hop: counts RSTs, records frames that carry option 253 or a bad checksum. */
function watchDeliveries(t: TwoNodes): Delivered {
  const d: Delivered = { rsts: 0, violations: [] };
  t.hook((ev: WireFrameEvent) => {
    if (ev.hop !== 'deliver') return 'pass';
    const p = parseFrame(ev.frame, 0, ev.frame.length);
    if (p === null) return 'pass';
    if ((p.flags & TCP_RST) !== 0) d.rsts++;
    if (p.hasExperimentalOption) d.violations.push(`option 253 delivered to ${ev.to?.name ?? '?'}: ${describeFrame(ev.frame)}`);
    if (!p.ipChecksumOk || !p.tcpChecksumOk) d.violations.push(`bad checksum delivered to ${ev.to?.name ?? '?'}: ${describeFrame(ev.frame)}`);
    return 'pass';
  });
  return d;
}

describe('two engines: RSTs toward applications carry no syngate option', () => {
  it('policy reject: the client enforcer records peer-reject and delivers a plain RST with valid checksums', () => {
    const t = new TwoNodes();
    const d = watchDeliveries(t);
    const c = t.other.connect(SERVER_IP, PORT);
    t.run();
    expect(c.reset).toBe(true);
    expect(t.clientEvents.find((e) => e.kind === 'peer-reject')).toMatchObject({ reason: 'policy', localClient: true });
    expect(t.clientEngine.peerRejects[Reason.POLICY]).toBe(1);
    // The RST the client application's stack accepted (rx is recorded after checksum checks).
    const rsts = t.other.rx.filter((r) => (r.flags & TCP_RST) !== 0);
    expect(rsts).toHaveLength(1);
    expect(rsts[0]!.hadExperimentalOption).toBe(false);
    expect(rsts[0]!.payloadLen).toBe(0);
    expect(d.rsts).toBe(1);
    expect(d.violations).toEqual([]);
  });

  it('bad-mac on the final ACK: the reject RST reaches the client app plain, the server app gets a plain RST', () => {
    const t = new TwoNodes();
    const d = watchDeliveries(t);
    let done = false;
    t.hook((ev) => {
      if (done || ev.hop !== 'network') return 'pass';
      const p = parseFrame(ev.frame, 0, ev.frame.length);
      if (p === null || (p.flags & TCP_SYN) !== 0 || !p.hasExperimentalOption || p.payloadLen === 0) return 'pass';
      done = true;
      const f = ev.frame.slice();
      f[f.length - 1] = f[f.length - 1]! ^ 1;
      return { replace: f };
    });
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(c.reset).toBe(true);
    expect(t.server.connections()[0]!.reset).toBe(true);
    expect(t.clientEvents.find((e) => e.kind === 'peer-reject')).toMatchObject({ reason: 'bad-mac' });
    expect(t.clientSawOption()).toBe(false);
    expect(t.serverSawOption()).toBe(false);
    expect(d.rsts).toBeGreaterThanOrEqual(2);
    expect(d.violations).toEqual([]);
  });

  it('local refusal (client table full): the client app gets a plain RST', () => {
    const t = new TwoNodes({ clientCt: { capacity: 1, seed: 1 } });
    const d = watchDeliveries(t);
    const a = t.client.connect(SERVER_IP, PORT);
    const b = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(a.state).toBe('ESTABLISHED');
    expect(b.reset).toBe(true);
    expect(t.clientEngine.rejects[Reason.TABLE_FULL]).toBe(1);
    expect(t.client.rx.filter((r) => (r.flags & TCP_RST) !== 0)).toHaveLength(1);
    expect(t.clientSawOption()).toBe(false);
    expect(d.rsts).toBe(1);
    expect(d.violations).toEqual([]);
  });

  it('no SYN-ACK token could be built: the server app is reset with a plain RST', () => {
    const t = new TwoNodes();
    const d = watchDeliveries(t);
    (t.serverAgent as unknown as { buildSynAck: () => Uint8Array }).buildSynAck = () => new Uint8Array(0);
    t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(t.serverEngine.rejects[Reason.INTERNAL]).toBe(1);
    expect(t.server.accepted).toHaveLength(0);
    expect(t.server.rx.filter((r) => (r.flags & TCP_RST) !== 0).length).toBeGreaterThanOrEqual(1);
    expect(t.serverSawOption()).toBe(false);
    expect(d.rsts).toBeGreaterThanOrEqual(1);
    expect(d.violations).toEqual([]);
  });

  it('revoked flow: a straggler from the server app is answered with a plain RST to it and an RST to the client', () => {
    const t = new TwoNodes();
    const d = watchDeliveries(t);
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    const s = t.server.accepted[0]!;
    const r = swapTable(t.serverEngine, compileTable(DENY_ALL_CART, inventoryYaml(), t.table), { node: 'n2' }, t.clock.now());
    expect(r.revoked).toBe(1);
    // The revocation RSTs are not sent: the next packet of the flow meets the REVOKED entry.
    s.send(enc('late'));
    t.run();
    expect(t.serverEngine.counters[Counter.REVOKED]).toBe(1);
    expect(s.reset).toBe(true);
    expect(c.reset).toBe(true);
    expect(c.received()).toHaveLength(0);
    expect(t.serverSawOption()).toBe(false);
    expect(t.clientSawOption()).toBe(false);
    expect(d.rsts).toBeGreaterThanOrEqual(2);
    expect(d.violations).toEqual([]);
  });
});
