// The evidence captured in the lab (test/fixtures/lab/, written by bookinfo.root.test.ts with
// SYNGATE_UPDATE_LAB_FIXTURES=1): one allowed bookinfo connection, reviews-v2 (node-c) -> ratings
// (node-b) :9080, seen on the fabric between the nodes and inside both pods. The token rides the
// wire between the nodes and never appears inside a pod.
import { describe, expect, it } from 'vitest';
import { Marker } from '../../enforcer/packet/index.js';
import { isSyn, isSynAck, readCapture } from './lab-helpers.js';

const F = 'test/fixtures/lab';

describe('lab capture fixtures', () => {
  const wire = readCapture(`${F}/wire-between-nodes.pcap`);
  it('between the nodes: SYN, SYN-ACK and the final ACK carry the syngate marker and a token', () => {
    const syn = wire.find(isSyn);
    const synAck = wire.find(isSynAck);
    expect(syn?.marker).toBe(Marker.TOKEN);
    expect(syn?.tokenLen).toBe(syn?.payloadLen);
    expect(syn?.tokenLen ?? 0).toBeGreaterThan(100);
    expect(synAck?.marker).toBe(Marker.TOKEN);
    const ackTokens = wire.filter((s) => !isSyn(s) && !isSynAck(s) && s.marker === Marker.TOKEN);
    expect(ackTokens.length).toBeGreaterThanOrEqual(1);
    // the application's data segments carry no marker
    expect(wire.filter((s) => s.payloadLen > 0 && s.marker === Marker.NONE).length).toBeGreaterThanOrEqual(2);
  });
  for (const pod of ['inside-server-pod', 'inside-client-pod']) {
    it(`${pod}: the same connection with no marker and no handshake payload`, () => {
      const segs = readCapture(`${F}/${pod}.pcap`);
      expect(segs.filter(isSyn)).toHaveLength(1);
      expect(segs.filter(isSynAck)).toHaveLength(1);
      expect(segs.filter((s) => s.marker !== Marker.NONE)).toEqual([]);
      expect(segs.filter((s) => (isSyn(s) || isSynAck(s)) && s.payloadLen > 0)).toEqual([]);
      // the first data byte in the client->server direction is the HTTP request
      const first = segs.find((s) => s.dport === 9080 && s.payloadLen > 0);
      const ihl = ((first?.ip[0] ?? 0) & 0x0f) * 4;
      const thl = ((first?.ip[ihl + 12] ?? 0) >>> 4) * 4;
      expect(Buffer.from(first?.ip.subarray(ihl + thl, ihl + thl + 4) ?? []).toString('latin1')).toBe('GET ');
    });
  }
});
