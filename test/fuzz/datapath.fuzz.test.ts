// Fuzz properties of the datapath's own parsing (issue 10): the adapters' decision wrapper, the
// same-node splitter and the engine handler never throw on arbitrary frames, never forward what
// the handler did not forward, and never report more outbox entries than exist; the ethtool output
// parser and the option validator never throw anything but their documented SyngateError; the
// nfqueue drain's netlink parser never throws and never points outside the datagram it was given.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Direction, LinkType, Verdict } from '../../enforcer/engine/types.js';
import type { OutboxEntry, ProcessResult } from '../../enforcer/engine/types.js';
import { isSyngateError } from '../../enforcer/errors.js';
import { AdapterCore } from '../../enforcer/datapath/base.js';
import { createEngineHandler, newDecision, nfqueueRuleSpec, offloadsOn, OrigDstTable, SameNodeSplitter } from '../../enforcer/datapath/index.js';
import type { NfqueueOptions } from '../../enforcer/datapath/index.js';
import { NfqKind, NfqMessage, parseNfqMessage } from '../../enforcer/datapath/nfnetlink.js';
import { fuzzParams } from './params.js';

const HEADROOM = 768;
const frameArb = fc.uint8Array({ minLength: 0, maxLength: 200 });
const linkArb = fc.constantFrom(LinkType.ETHERNET, LinkType.RAW_IPV4);
const dirArb = fc.constantFrom(Direction.OUTBOUND, Direction.INBOUND);
const verdictArb = fc.constantFrom(Verdict.FORWARD, Verdict.DROP, Verdict.RESET, 7 as Verdict);

/** A TCP/IPv4 frame with random header fields (so the parsers get past their first checks). */
const tcpFrameArb = fc.record({ link: linkArb, src: fc.nat(), dst: fc.nat(), sport: fc.nat(65535), dport: fc.nat(65535), flags: fc.nat(255), tail: fc.uint8Array({ maxLength: 64 }) }).map((r) => {
  const l2 = r.link === LinkType.ETHERNET ? 14 : 0;
  const f = new Uint8Array(l2 + 40 + r.tail.length);
  if (l2 > 0) f.set([0x08, 0x00], 12);
  f[l2] = 0x45;
  f[l2 + 9] = 6;
  new DataView(f.buffer).setUint32(l2 + 12, r.src >>> 0);
  new DataView(f.buffer).setUint32(l2 + 16, r.dst >>> 0);
  new DataView(f.buffer).setUint16(l2 + 20, r.sport);
  new DataView(f.buffer).setUint16(l2 + 22, r.dport);
  f[l2 + 32] = 0x50;
  f[l2 + 33] = r.flags;
  f.set(r.tail, l2 + 40);
  return { link: r.link, frame: f };
});

describe('datapath fuzz', () => {
  it('the decision wrapper never throws and forwards only what the handler forwarded', () => {
    fc.assert(
      fc.property(fc.oneof(frameArb.map((frame) => ({ link: LinkType.ETHERNET as LinkType, frame })), tcpFrameArb), dirArb, verdictArb, fc.nat(8), fc.boolean(), (f, dir, verdict, count, boom) => {
        const core = new AdapterCore(f.link, 16, () => undefined);
        const buf = new Uint8Array(f.frame.length + HEADROOM);
        buf.set(f.frame);
        core.handler = (_b, _o, len, _d, out) => {
          if (boom) throw new Error('boom');
          out.verdict = verdict;
          out.length = len;
          out.outboxCount = count;
        };
        const d = core.decide(buf, 0, f.frame.length, dir);
        if (boom) expect(d.verdict).toBe(Verdict.DROP);
        if (d.verdict === Verdict.FORWARD) expect(verdict).toBe(Verdict.FORWARD);
        expect(d.outboxCount).toBeLessThanOrEqual(d.outbox.length);
      }),
      fuzzParams(),
    );
  });

  it('the same-node splitter and the engine handler never throw, and never put a foreign outbox count through', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(tcpFrameArb, dirArb), { maxLength: 20 }), fc.nat(3), (frames, nOut) => {
        const local = new Set<number>();
        for (const [f] of frames) if (f.frame.length > 0) local.add(new DataView(f.frame.buffer).getUint32((f.link === LinkType.ETHERNET ? 14 : 0) + 16) >>> 0);
        const outbox: OutboxEntry[] = [];
        const fake = (): { process: (b: Uint8Array, o: number, l: number) => ProcessResult } => ({
          process: (b, _o, l) => {
            outbox.length = 0;
            for (let i = 0; i < nOut; i++) outbox.push({ buf: b.slice(0, Math.max(l, 20)), length: Math.max(l, 20), direction: Direction.OUTBOUND });
            return { verdict: Verdict.FORWARD, length: l, outbox, outboxCount: outbox.length, authorized: false, reason: 0 };
          },
        });
        for (const link of [LinkType.RAW_IPV4, LinkType.ETHERNET]) {
          const split = new SameNodeSplitter(link, (ip) => local.has(ip >>> 0), 16);
          const h = createEngineHandler({ engine: fake(), twin: fake(), linkType: link, isLocal: (ip) => local.has(ip >>> 0) });
          for (const [f, dir] of frames) {
            split.serverSide(f.frame, 0, f.frame.length, dir);
            const out = newDecision();
            h(f.frame, 0, f.frame.length, dir, out);
            expect(out.outboxCount).toBeLessThanOrEqual(out.outbox.length);
          }
        }
      }),
      fuzzParams(0.5),
    );
  });

  it('the original-destination table never throws and answers only what it holds', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 65535 }), fc.nat(), fc.integer({ min: 1, max: 65535 })), { maxLength: 100 }), (ins) => {
        const t = new OrigDstTable(16);
        for (const [s, sp, d, dp] of ins) t.insert(s >>> 0, sp, d >>> 0, dp);
        for (const [s, sp, d] of ins) {
          const p = t.lookup(s >>> 0, sp, d >>> 0);
          if (p >= 0) expect(ins.some(([s2, sp2, d2, dp2]) => s2 >>> 0 === s >>> 0 && sp2 === sp && d2 >>> 0 === d >>> 0 && dp2 === p)).toBe(true);
        }
      }),
      fuzzParams(),
    );
  });

  it('the netlink parser never throws, always advances, and keeps the payload inside the datagram', () => {
    // Random datagrams, and datagrams that start with a plausible packet header (length, type 0x0300).
    const headed = fc.record({ len: fc.nat(300), body: fc.uint8Array({ maxLength: 300 }) }).map((r) => {
      const b = Buffer.alloc(20 + r.body.length);
      b.writeUInt32LE(r.len, 0);
      b.writeUInt16LE(0x0300, 4);
      b.set(r.body, 20);
      return new Uint8Array(b);
    });
    const m = new NfqMessage();
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), headed), fc.nat(8), (bytes, start) => {
        const buf = Buffer.from(bytes);
        let off = Math.min(start, buf.length);
        for (let i = 0; i < 100 && off < buf.length; i++) {
          const next = parseNfqMessage(buf, off, buf.length, m);
          if (next < 0) break;
          expect(next).toBeGreaterThan(off);
          expect(next).toBeLessThanOrEqual(buf.length);
          if (m.kind === NfqKind.PACKET && m.payloadOff >= 0) {
            expect(m.payloadOff).toBeGreaterThan(off);
            expect(m.payloadOff + m.payloadLen).toBeLessThanOrEqual(next);
          }
          off = next;
        }
      }),
      fuzzParams(),
    );
  });

  it('ethtool parsing and option validation never throw anything undocumented', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }), fc.integer(), fc.string({ maxLength: 20 }), (text, ifs, q, table) => {
        expect(Array.isArray(offloadsOn(text))).toBe(true);
        try {
          nfqueueRuleSpec({ kind: 'nfqueue', workloadInterfaces: ifs, queueBase: q, table } as NfqueueOptions);
        } catch (e) {
          expect(isSyngateError(e, 'SYNGATE_DATAPATH_CONFIG')).toBe(true);
        }
      }),
      fuzzParams(),
    );
  });
});
