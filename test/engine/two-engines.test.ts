import { describe, expect, it } from 'vitest';
import { Counter } from '../../enforcer/engine/index.js';
import { CtState } from '../../enforcer/conntrack/index.js';
import { ipToU32 } from '../../enforcer/sim/index.js';
import { CLIENT_IP, enc, PORT, SERVER_IP, TwoNodes } from './harness.js';

describe('two engines: happy path', () => {
  it('authorizes mutually, carries data both ways byte for byte, closes, and leaks no token bytes', () => {
    const t = new TwoNodes();
    const c = t.client.connect(SERVER_IP, PORT);
    t.run();
    expect(c.state).toBe('ESTABLISHED');
    expect(t.server.accepted).toHaveLength(1);
    const s = t.server.accepted[0]!;
    const req = enc('GET /cart HTTP/1.1\r\n\r\n');
    const resp = new Uint8Array(4000).map((_, i) => (i * 7) & 0xff);
    c.send(req);
    s.send(resp);
    t.run();
    expect(s.received()).toEqual(req);
    expect(c.received()).toEqual(resp);
    c.close();
    t.run();
    s.close();
    t.run();
    expect(t.serverSawOption()).toBe(false);
    expect(t.clientSawOption()).toBe(false);
    const allowS = t.serverEvents.find((e) => e.kind === 'decision');
    expect(allowS).toMatchObject({ verdict: 'allow', reason: 'ok', localClient: false, peer: 'spiffe://cluster.local/ns/shop/sa/frontend', dport: PORT });
    const allowC = t.clientEvents.find((e) => e.kind === 'decision');
    expect(allowC).toMatchObject({ verdict: 'allow', localClient: true, peer: 'spiffe://cluster.local/ns/shop/sa/cart' });
    expect(t.serverEvents.some((e) => e.kind === 'close')).toBe(true);
    expect(t.clientEvents.some((e) => e.kind === 'close')).toBe(true);
    expect(t.serverEngine.counters[Counter.FAST_PATH]).toBeGreaterThan(0);
    // SYN + final ACK + one token-only ACK ahead of the first request segment (the client keeps
    // proving itself until it hears from the server; the server drops that duplicate).
    expect(t.clientEngine.counters[Counter.TOKENS_INSERTED]).toBe(3);
    expect(t.clientEngine.counters[Counter.TOKEN_ACKS_SPLIT]).toBe(1);
    expect(t.serverEngine.counters[Counter.MARKER_DROPPED]).toBe(1);
    expect(t.serverEngine.counters[Counter.TOKENS_INSERTED]).toBe(1); // SYN-ACK
    const slot = t.serverEngine.ct.lookup(ipToU32(CLIENT_IP), ipToU32(SERVER_IP), c.localPort, PORT, t.clock.now());
    expect(slot).toBeGreaterThanOrEqual(0);
    expect(t.serverEngine.ct.state(slot)).toBe(CtState.CLOSED);
  });
});
