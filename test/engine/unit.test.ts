// Single-engine cases written as named tables: what happens to frames that are not part of a
// tracked TCP flow, and the flow record built from events.
import { describe, expect, it } from 'vitest';
import {
  Counter,
  Direction,
  Engine,
  EngineEvent,
  EventKind,
  EventVerdict,
  LinkType,
  Mode,
  packDecision,
  toFlowRecord,
  Verdict,
  type EngineIdentity,
  type EnginePolicy,
} from '../../enforcer/engine/index.js';
import { isSyngateError } from '../../enforcer/errors.js';
import { Reason } from '../../enforcer/reasons.js';
import { insertToken, PacketView, parseFrame, TCP_FLAG_ACK, TCP_FLAG_SYN, writeTcpFrame } from '../../enforcer/packet/index.js';

const LOCAL = 0xc6120002;
const PEER = 0xc6120001;
const failing: EngineIdentity<unknown, unknown> = {
  clientSyn: (_t, _i, _n, o) => void (o.reason = Reason.INTERNAL),
  serverSyn: (_t, _i, _k, _n, o) => void (o.reason = Reason.BAD_SIGNATURE),
  serverSynAck: (_h, _i, _n, o) => void (o.reason = Reason.INTERNAL),
  clientSynAck: (_h, _i, _k, _n, o) => void (o.reason = Reason.INTERNAL),
  clientAck: (_h, _n, o) => void (o.reason = Reason.INTERNAL),
  serverAck: (_h, _k, _n, o) => void (o.reason = Reason.INTERNAL),
};
const throwing: EngineIdentity<unknown, unknown> = { ...failing, serverSyn: () => { throw new Error('boom'); } };
function policy(mode: Mode = Mode.ENFORCE): EnginePolicy<unknown> {
  return {
    revision: 1,
    workloadOf: (ip) => (ip === LOCAL ? 0 : -1),
    mode: () => mode,
    redirect: () => false,
    peerId: () => 7,
    ipPeerId: () => 0,
    expectedPeerId: () => 0,
    ingress: () => packDecision(true, 1),
    egress: () => packDecision(false, 0),
    ruleName: (r) => (r === 1 ? 'default-deny' : `rule${r}`),
    identityName: (id) => (id === 7 ? 'spiffe://cluster.local/ns/shop/sa/frontend' : null),
    workloadName: (ip) => (ip === LOCAL ? 'shop/cart' : null),
  };
}
const eng = (identity = failing, mode: Mode = Mode.ENFORCE) => new Engine({ linkType: LinkType.ETHERNET, identity, policy: policy(mode), conntrack: { capacity: 64, seed: 1 } });

function frame(over: Partial<{ flags: number; proto: number; ethType: number; frag: boolean; srcIp: number; dstIp: number }> = {}): { buf: Uint8Array; len: number } {
  const buf = new Uint8Array(2048);
  const len = writeTcpFrame(buf, 0, { srcIp: over.srcIp ?? PEER, dstIp: over.dstIp ?? LOCAL, srcPort: 40000, dstPort: 8080, seq: 1, ack: 0, flags: over.flags ?? TCP_FLAG_SYN }, LinkType.ETHERNET);
  if (over.proto !== undefined) buf[14 + 9] = over.proto;
  if (over.ethType !== undefined) {
    buf[12] = over.ethType >> 8;
    buf[13] = over.ethType & 0xff;
  }
  if (over.frag) buf[14 + 6] = 0x20; // MF
  return { buf, len };
}

describe('engine: frames outside tracked TCP flows', () => {
  const cases: Array<[string, Parameters<typeof frame>[0], Direction, Verdict]> = [
    ['ARP passes (L2 housekeeping)', { ethType: 0x0806 }, Direction.INBOUND, Verdict.FORWARD],
    ['IPv6 is dropped (not enforceable here, fail closed)', { ethType: 0x86dd }, Direction.INBOUND, Verdict.DROP],
    ['ICMP passes (PMTU discovery)', { proto: 1 }, Direction.INBOUND, Verdict.FORWARD],
    ['UDP is dropped by default', { proto: 17 }, Direction.INBOUND, Verdict.DROP],
    ['an IP fragment is dropped', { frag: true }, Direction.INBOUND, Verdict.DROP],
    ['a stray ACK of no flow is dropped', { flags: TCP_FLAG_ACK }, Direction.INBOUND, Verdict.DROP],
    ['a SYN to an address that is no local workload is dropped', { dstIp: 0xc6120063 }, Direction.INBOUND, Verdict.DROP],
    ['a SYN without token in enforce mode is rejected with a RST', {}, Direction.INBOUND, Verdict.RESET],
  ];
  it.each(cases)('%s', (_name, over, dir, verdict) => {
    const e = eng();
    const f = frame(over);
    const r = e.process(f.buf, 0, f.len, dir, 1000);
    expect(r.verdict).toBe(verdict);
  });

  it('a throwing identity port is contained: the SYN is rejected with INTERNAL, nothing forwarded, counted', () => {
    const e = eng(throwing);
    const f = frame();
    const v = new PacketView();
    parseFrame(f.buf, 0, f.len, LinkType.ETHERNET, v);
    const n = insertToken(f.buf, v, Uint8Array.of(0x11, 1, 2, 3), 0, 4, 1500);
    expect(n).toBeGreaterThan(0);
    const r = e.process(f.buf, 0, n, Direction.INBOUND, 1000);
    expect(r.verdict).toBe(Verdict.RESET);
    expect(r.reason).toBe(Reason.INTERNAL);
    expect(e.counters[Counter.INTERNAL_ERRORS]).toBe(1);
  });

  it('audit mode forwards a tokenless SYN and reports an audit decision', () => {
    const e = eng(failing, Mode.AUDIT);
    const f = frame();
    const r = e.process(f.buf, 0, f.len, Direction.INBOUND, 1000);
    expect(r.verdict).toBe(Verdict.FORWARD);
    const kinds: number[] = [];
    e.events.drain((ev) => kinds.push(ev.kind, ev.verdict, ev.reason));
    expect(kinds).toEqual([EventKind.DECISION, EventVerdict.AUDIT, Reason.NO_TOKEN]);
  });

  it('rejects bad options with a coded error', () => {
    for (const o of [{ mtu: 100 }, { envoyPort: 0 }, { redirectExclude: [[20, 10]] as Array<[number, number]> }, { linkType: 7 as LinkType }]) {
      try {
        new Engine({ linkType: LinkType.ETHERNET, identity: failing, policy: policy(), ...o });
        expect.fail('accepted');
      } catch (e) {
        expect(isSyngateError(e, 'SYNGATE_ENGINE_CONFIG')).toBe(true);
      }
    }
  });
});

describe('flow records from events', () => {
  it('names identities, workloads and rules; rejected handshakes are `rejected`', () => {
    const ev = new EngineEvent();
    Object.assign(ev, { kind: EventKind.DECISION, verdict: EventVerdict.DENY, reason: Reason.POLICY, localClient: false, saddr: PEER, daddr: LOCAL, sport: 40000, dport: 8080, rule: 1, peerId: 7, time: 1_700_000_000_000, start: 1_700_000_000_000, packets: 1, bytes: 60 });
    const rec = toFlowRecord(ev, policy(), 'n2');
    expect(rec).toMatchObject({
      enforcer: 'n2',
      direction: 'inbound',
      src: { ip: '198.18.0.1', port: 40000, workload: null, identity: 'spiffe://cluster.local/ns/shop/sa/frontend' },
      dst: { ip: '198.18.0.2', port: 8080, workload: 'shop/cart', identity: null },
      verdict: 'deny',
      reason: 'policy',
      rule: 'default-deny',
      state: 'rejected',
    });
    expect(rec.redirectPort).toBeUndefined();
  });
});
