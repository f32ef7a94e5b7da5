// Fuzz properties of the packet engine (issue 10 convention): no public entry point throws on
// any input (random bytes, mutated real packets, mutated token-carrying packets, random pcap
// files); a successful parse's offsets stay inside the frame; and a packet that carried a token
// never leaves stripToken with token bytes (or a marker) still in it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSyngateError } from '../../enforcer/errors.js';
import { FRAME_HEADROOM, LinkType } from '../../enforcer/engine/types.js';
import {
  canCarryToken,
  findMarker,
  insertToken,
  linkTypeOfPcap,
  Marker,
  PacketKind,
  PacketView,
  parseFrame,
  ParseStatus,
  readPcap,
  readRejectReason,
  stripToken,
  verifyIpv4Checksum,
  verifyTcpChecksum,
  writeBareAck,
  writeRejectRst,
  writeRstForward,
  writeRstReply,
  writeTcpFrame,
} from '../../enforcer/packet/index.js';
import { parseFrameGeneral } from '../../enforcer/packet/view.js';
import { fuzzParams } from './params.js';

const DIR = new URL('../fixtures/pcap/', import.meta.url).pathname;
const REAL: { data: Uint8Array; lt: LinkType }[] = [];
for (const name of readdirSync(DIR).filter((f) => f.endsWith('.pcap'))) {
  const f = readPcap(readFileSync(join(DIR, name)), name);
  for (const r of f.records) REAL.push({ data: Uint8Array.from(r.data), lt: linkTypeOfPcap(f.linkType) });
}
const TOKEN = Uint8Array.from({ length: 64 }, (_, i) => i);
const REUSED = new PacketView();
const MARKED = (() => {
  const b = new Uint8Array(512);
  const n = writeTcpFrame(
    b,
    0,
    {
      srcIp: 1, dstIp: 2, srcPort: 3, dstPort: 4, seq: 5, ack: 6, flags: 0x12,
      options: Uint8Array.of(2, 4, 5, 0xb4, 4, 2, 3, 3, 7, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 253, 8, 0x53, 0x47, 1, 1, 0, 3),
      payload: Uint8Array.of(9, 9, 9),
    },
    LinkType.ETHERNET,
  );
  return b.slice(0, n);
})();

const linkArb = fc.oneof(fc.constantFrom<number>(LinkType.ETHERNET, LinkType.RAW_IPV4), fc.integer({ min: -5, max: 300 }));
const mutationArb = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 });

/** Runs every public entry point on buf[off..off+len) and checks the invariants. */
function exercise(buf: Uint8Array, off: number, len: number, lt: number): void {
  const v = new PacketView();
  const st = parseFrame(buf, off, len, lt as LinkType, v);
  expect(st).toBeGreaterThanOrEqual(0);
  // The fast path of parseFrame agrees with the general parser on every field.
  const g = new PacketView();
  expect(parseFrameGeneral(buf, off, len, lt as LinkType, g)).toBe(st);
  expect({ ...v }).toEqual({ ...g });
  // A view reused after a fully populated frame (marker, token, every option) ends up identical.
  parseFrame(MARKED, 0, MARKED.length, LinkType.ETHERNET, REUSED);
  findMarker(REUSED);
  parseFrame(buf, off, len, lt as LinkType, REUSED);
  expect({ ...REUSED }).toEqual({ ...g });
  if (st !== ParseStatus.OK) return;
  if (v.kind === PacketKind.TCP) {
    const ipEnd = v.l3Off + v.ipTotalLen;
    expect(ipEnd).toBeLessThanOrEqual(off + len);
    expect(v.l4Off + v.tcpHeaderLen).toBeLessThanOrEqual(ipEnd);
    expect(v.payloadOff + v.payloadLen).toBe(ipEnd);
    expect(v.optEnd).toBeLessThanOrEqual(v.l4Off + v.tcpHeaderLen);
    verifyIpv4Checksum(v);
    verifyTcpChecksum(v);
  }
  const out = new Uint8Array(256);
  readRejectReason(v);
  writeRejectRst(out, 0, v, 11);
  writeRstReply(out, 0, v);
  writeRstForward(out, 0, v);
  writeBareAck(new Uint8Array(buf.length + 64), 0, v);
  canCarryToken(v);
  const m = findMarker(v);
  if (m === Marker.TOKEN) {
    const n = stripToken(buf, v);
    expect(n).toBeGreaterThan(0);
    // No token byte survives: the stripped segment has no marker and no payload.
    expect(v.status).toBe(ParseStatus.OK);
    expect(v.markerOff).toBe(-1);
    expect(v.payloadLen).toBe(0);
    expectFresh(v);
  } else {
    expect(stripToken(buf, v)).toBeLessThan(0);
    const n = insertToken(buf, v, TOKEN, 0, TOKEN.length, 65535);
    if (n > 0) {
      expect(v.status).toBe(ParseStatus.OK);
      expect(findMarker(v)).toBe(Marker.TOKEN);
      expectFresh(v);
    }
  }
}

/** The view rewritten in place by insertToken/stripToken equals a fresh parse of the same bytes. */
function expectFresh(v: PacketView): void {
  const f = new PacketView();
  parseFrame(v.buf, v.off, v.len, v.linkType, f);
  for (const k of ['status', 'kind', 'l3Off', 'ipTotalLen', 'l4Off', 'l4Len', 'tcpHeaderLen', 'payloadOff', 'payloadLen', 'optEnd', 'mssOff', 'wscaleOff', 'sackPermOff', 'tsOff', 'markerOff'] as const) {
    expect([k, v[k]]).toEqual([k, f[k]]);
  }
}

describe('packet parser fuzz', () => {
  it('random bytes, link types and bounds never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), linkArb, fc.integer({ min: -4, max: 210 }), fc.integer({ min: -4, max: 210 }), (bytes, lt, off, len) => {
        const buf = new Uint8Array(bytes.length + FRAME_HEADROOM);
        buf.set(bytes);
        exercise(buf, off, len, lt);
        exercise(buf, 0, bytes.length, lt);
      }),
      fuzzParams(2),
    );
  });

  it('mutated real packets never throw', () => {
    fc.assert(
      fc.property(fc.nat(), mutationArb, fc.integer({ min: -20, max: 20 }), (pick, muts, dLen) => {
        const r = REAL[pick % REAL.length]!;
        const buf = new Uint8Array(r.data.length + 20 + FRAME_HEADROOM);
        buf.set(r.data);
        for (const [pos, val] of muts) buf[pos % (r.data.length + 20)] = val;
        exercise(buf, 0, Math.max(0, r.data.length + dLen), r.lt);
      }),
      fuzzParams(2),
    );
  });

  it('mutated token-carrying packets never throw and never leak token bytes', () => {
    const carriers = REAL.filter((r) => {
      const v = new PacketView();
      return parseFrame(r.data, 0, r.data.length, r.lt, v) === ParseStatus.OK && canCarryToken(v) === 0;
    });
    expect(carriers.length).toBeGreaterThan(0);
    fc.assert(
      fc.property(fc.nat(), mutationArb, (pick, muts) => {
        const r = carriers[pick % carriers.length]!;
        const buf = new Uint8Array(r.data.length + FRAME_HEADROOM);
        buf.set(r.data);
        const v = new PacketView();
        parseFrame(buf, 0, r.data.length, r.lt, v);
        const n = insertToken(buf, v, TOKEN, 0, TOKEN.length, 1500);
        expect(n).toBeGreaterThan(0);
        // Mutate inside the headers, marker and token (where an attacker would).
        for (const [pos, val] of muts) buf[pos % n] = val;
        exercise(buf, 0, n, r.lt);
      }),
      fuzzParams(2),
    );
  });

  it('readPcap on random or truncated files throws only SyngateError', () => {
    const real = readFileSync(join(DIR, 'handshake.pcap'));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 100 }), fc.tuple(fc.nat(), mutationArb).map(([cut, muts]) => {
        const b = Uint8Array.from(real.subarray(0, cut % (real.length + 1)));
        for (const [p, x] of muts) if (b.length > 0) b[p % b.length] = x;
        return b;
      })), (bytes) => {
        try {
          readPcap(bytes, 'fuzz');
        } catch (e) {
          expect(isSyngateError(e)).toBe(true);
        }
      }),
      fuzzParams(),
    );
  });
});
