// engine.ts (fast path) and conntrack/table.ts (lookup) keep module-local copies of constants they
// import or export, for speed (see the comments above the copies). Every copy must equal the
// value it mirrors, and a new copy without an entry here fails, so a layout change cannot leave a
// stale copy behind.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CtFlag,
  CtState,
  HOT_BYTES_HI,
  HOT_BYTES_LO,
  HOT_LAST_SEEN,
  HOT_PACKETS,
  HOT_SEQ_ORIG,
  HOT_SEQ_REPLY,
  HOT_STRIDE,
  KG_DADDR,
  KG_META,
  KG_PORTS,
  META_FLAGS_SHIFT,
  META_STATE_MASK,
  META_STATE_SHIFT,
  REC_STRIDE,
} from '../../enforcer/conntrack/index.js';
import { Direction, LinkType, Verdict } from '../../enforcer/engine/types.js';
import { IPPROTO_TCP, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN } from '../../enforcer/packet/index.js';
import { Reason } from '../../enforcer/reasons.js';

function copies(rel: string, prefix: string): Array<readonly [string, number]> {
  const src = readFileSync(new URL(rel, import.meta.url), 'utf8');
  const re = new RegExp(`^const (${prefix}[A-Z0-9_]+) = (0x[0-9a-f]+|\\d+);$`, 'gm');
  return [...src.matchAll(re)].map((m) => [m[1]!, Number(m[2])] as const);
}

const ENGINE: Record<string, number> = {
  FP_INBOUND: Direction.INBOUND,
  FP_OUTBOUND: Direction.OUTBOUND,
  FP_ETHERNET: LinkType.ETHERNET,
  FP_RAW_IPV4: LinkType.RAW_IPV4,
  FP_TCP: IPPROTO_TCP,
  FP_SYN_FIN_RST: TCP_FLAG_SYN | TCP_FLAG_FIN | TCP_FLAG_RST,
  FP_META_ESTABLISHED: CtState.ESTABLISHED << META_STATE_SHIFT,
  FP_META_STATE_MASK: META_STATE_MASK,
  FP_META_REDIRECTED: CtFlag.REDIRECTED << META_FLAGS_SHIFT,
  FP_META_LOCAL_CLIENT: CtFlag.LOCAL_CLIENT << META_FLAGS_SHIFT,
  FP_HOT_STRIDE: HOT_STRIDE,
  FP_HOT_LAST_SEEN: HOT_LAST_SEEN,
  FP_HOT_PACKETS: HOT_PACKETS,
  FP_HOT_BYTES_LO: HOT_BYTES_LO,
  FP_HOT_BYTES_HI: HOT_BYTES_HI,
  FP_HOT_SEQ_ORIG: HOT_SEQ_ORIG,
  FP_HOT_SEQ_REPLY: HOT_SEQ_REPLY,
  // NOP (1), NOP (1), timestamp kind 8, length 10.
  FP_NOP_NOP_TS: ((1 << 24) | (1 << 16) | (8 << 8) | 10) >>> 0,
  FP_FORWARD: Verdict.FORWARD,
  FP_OK: Reason.OK,
};

const TABLE: Record<string, number> = {
  L_KG_DADDR: KG_DADDR,
  L_KG_PORTS: KG_PORTS,
  L_KG_META: KG_META,
  L_META_STATE_SHIFT: META_STATE_SHIFT,
  L_REC_STRIDE: REC_STRIDE,
  L_HOT_LAST_SEEN: HOT_LAST_SEEN,
};

for (const [file, prefix, want] of [
  ['../../enforcer/engine/engine.ts', 'FP_', ENGINE],
  ['../../enforcer/conntrack/table.ts', 'L_', TABLE],
] as const) {
  describe(`${file.split('/').slice(-2).join('/')} hot-path constant copies`, () => {
    const found = copies(file, prefix);
    it('every expected copy exists', () => {
      expect(found.map(([n]) => n).sort()).toEqual(Object.keys(want).sort());
    });
    for (const [name, value] of found) {
      it(`${name} = ${value}`, () => {
        expect(want[name], `${name} has no expected value in this test`).toBeDefined();
        expect(value).toBe(want[name]);
      });
    }
  });
}
