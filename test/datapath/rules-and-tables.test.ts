// The nfqueue rule text, option validation, the original-destination table, the offload parser and
// the adapters' decision wrapper, without root.
import { describe, expect, it } from 'vitest';
import { Direction, LinkType, Verdict } from '../../enforcer/engine/types.js';
import { isSyngateError } from '../../enforcer/errors.js';
import { AdapterCore } from '../../enforcer/datapath/base.js';
import { OrigDstTable, installScript, nfqueueRuleSpec, offloadsOn, passThroughHandler, removalCommands } from '../../enforcer/datapath/index.js';
import type { NfqueueOptions } from '../../enforcer/datapath/index.js';

const base: NfqueueOptions = { kind: 'nfqueue', workloadInterfaces: ['veth*', 'lan0'] };

describe('nfqueue rules', () => {
  const spec = nfqueueRuleSpec(base);
  const text = installScript(spec);

  it('queues only TCP from/to the workload interfaces, in chains of its own', () => {
    expect(text).toContain('-A SYNGATE-OUT -i veth+ -p tcp -g SYNGATE-OUTCHK');
    expect(text).toContain('-A SYNGATE-OUT -i lan0 -p tcp -g SYNGATE-OUTCHK');
    expect(text).toContain('-A SYNGATE-IN -o veth+ -p tcp -g SYNGATE-INCHK');
    const builtinChanges = text.split('\n').filter((l) => /^-[AI] (FORWARD|POSTROUTING|PREROUTING|INPUT|OUTPUT) /.test(l));
    expect(builtinChanges).toEqual(['-I FORWARD 1 -j SYNGATE-OUT', '-I POSTROUTING 1 -j SYNGATE-SAVE', '-I FORWARD 1 -j SYNGATE-IN']);
  });

  it('always queues SYN/SYN-ACK and marker-carrying segments, before the connmark bypass', () => {
    for (const chk of ['SYNGATE-OUTCHK', 'SYNGATE-INCHK']) {
      const lines = text.split('\n').filter((l) => l.startsWith(`-A ${chk} `));
      expect(lines[0]).toContain('--tcp-flags SYN SYN');
      expect(lines[1]).toContain('--tcp-option 253');
      expect(lines[2]).toContain('-j RETURN');
      expect(lines[4]).toMatch(/-g SYNGATE-(OUT|IN)Q$/);
    }
  });

  it('uses four queues (stage x conntrack direction) and the role bits per stage', () => {
    for (const q of [7100, 7101, 7102, 7103]) expect(text).toContain(`--queue-num ${q}`);
    expect(text).toContain('-A SYNGATE-OUTCHK -m conntrack --ctdir ORIGINAL -m connmark --mark 0x10000000/0x10000000 -j RETURN');
    expect(text).toContain('-A SYNGATE-INCHK -m conntrack --ctdir ORIGINAL -m connmark --mark 0x20000000/0x20000000 -j RETURN');
    expect(text).toContain('-A SYNGATE-SAVE -m mark --mark 0x10000000/0x10000000 -j CONNMARK --or-mark 0x10000000');
    // nobody can pre-authorize by setting our bits
    expect(text).toContain('-A SYNGATE-OUT -j MARK --set-xmark 0x0/0x30000000');
  });

  it('is fail-closed unless failOpen is set explicitly', () => {
    expect(text).not.toContain('--queue-bypass');
    const open = installScript(nfqueueRuleSpec({ ...base, failOpen: true }));
    expect(open.match(/--queue-bypass/g)?.length).toBe(4);
  });

  it('removal deletes the jumps (repeatedly) and every chain it created', () => {
    const cmds = removalCommands('SYNGATE').map((a) => a.join(' '));
    expect(cmds).toContain('-t mangle -D FORWARD -j SYNGATE-OUT');
    expect(cmds).toContain('-t filter -D FORWARD -j SYNGATE-IN');
    for (const ch of ['SYNGATE-OUT', 'SYNGATE-OUTCHK', 'SYNGATE-OUTQ', 'SYNGATE-SAVE']) expect(cmds).toContain(`-t mangle -X ${ch}`);
    for (const ch of ['SYNGATE-IN', 'SYNGATE-INCHK', 'SYNGATE-INQ']) expect(cmds).toContain(`-t filter -X ${ch}`);
  });

  it.each([
    ['no interface', { workloadInterfaces: [] }, 'workloadInterfaces'],
    ['bad interface', { workloadInterfaces: ['a b'] }, "'a b'"],
    ['queue range', { queueBase: 65533 }, 'queueBase'],
    ['mark not a bit', { markClient: 3 }, 'markClient'],
    ['same marks', { markClient: 0x100, markServer: 0x100 }, 'must differ'],
    ['table name', { table: '1x' }, 'table'],
  ] as const)('rejects %s', (_n, patch, needle) => {
    try {
      nfqueueRuleSpec({ ...base, ...patch } as NfqueueOptions);
      expect.fail('accepted');
    } catch (e) {
      expect(isSyngateError(e, 'SYNGATE_DATAPATH_CONFIG')).toBe(true);
      expect((e as Error).message).toContain(needle);
    }
  });
});

describe('original-destination table', () => {
  const ip = (s: string): number => s.split('.').reduce((a, b) => a * 256 + Number(b), 0) >>> 0;
  it('answers what was inserted and forgets nothing it still has room for', () => {
    const t = new OrigDstTable(1024);
    for (let i = 0; i < 300; i++) t.insert(ip('198.18.0.2'), 30000 + i, ip('198.18.0.9'), 9080);
    for (let i = 0; i < 300; i++) expect(t.lookup(ip('198.18.0.2'), 30000 + i, ip('198.18.0.9'))).toBe(9080);
    expect(t.query('198.18.0.2', 30001, '198.18.0.9')).toEqual({ ip: '198.18.0.9', port: 9080 });
    expect(t.query('198.18.0.2', 29999, '198.18.0.9')).toBeNull();
    expect(t.query('not-an-ip', 1, '198.18.0.9')).toBeNull();
  });
  it('a newer SYN for the same client replaces the older one', () => {
    const t = new OrigDstTable(16);
    t.insert(1, 2, 3, 80);
    t.insert(1, 2, 3, 81);
    expect(t.lookup(1, 2, 3)).toBe(81);
  });
  it('stays bounded: overfilling overwrites, never grows or throws', () => {
    const t = new OrigDstTable(16);
    for (let i = 0; i < 10_000; i++) t.insert(i, (i % 60000) + 1, 7, 443);
    expect(t.lookup(9999, (9999 % 60000) + 1, 7)).toBe(443);
  });
});

describe('offload check parser', () => {
  it('reports only the features that break a userspace bridge', () => {
    const out = [
      'Features for eth0:',
      'rx-checksumming: on',
      'tx-checksumming: on',
      '\ttx-checksum-ip-generic: on',
      'tcp-segmentation-offload: off',
      'generic-segmentation-offload: on',
      'generic-receive-offload: off [fixed]',
    ].join('\n');
    expect(offloadsOn(out)).toEqual(['tx-checksumming', 'generic-segmentation-offload']);
    expect(offloadsOn('tx-checksumming: off\ngeneric-receive-offload: off\n')).toEqual([]);
  });
});

describe('adapter decision wrapper', () => {
  const frame = new Uint8Array(64 + 768);
  it('starts every call from DROP and fails closed when the handler throws', () => {
    const core = new AdapterCore(LinkType.RAW_IPV4, 16, () => undefined);
    core.handler = () => {
      throw new Error('boom');
    };
    expect(core.decide(frame, 0, 40, Direction.OUTBOUND).verdict).toBe(Verdict.DROP);
    expect(core.counters().handlerErrors).toBe(1);
    expect(core.counters().framesDropped).toBe(1);
    core.handler = passThroughHandler;
    const d = core.decide(frame, 0, 40, Direction.INBOUND);
    expect(d.verdict).toBe(Verdict.FORWARD);
    expect(d.length).toBe(40);
    core.handler = (_f, _o, _l, _d, out) => {
      out.length = 99; // forgot the verdict
    };
    expect(core.decide(frame, 0, 40, Direction.INBOUND).verdict).toBe(Verdict.DROP);
  });
  it('clamps outboxCount to the outbox it was given and counts resets/rewrites', () => {
    const core = new AdapterCore(LinkType.RAW_IPV4, 16, () => undefined);
    core.handler = (_f, _o, len, _d, out) => {
      out.verdict = Verdict.FORWARD;
      out.length = len - 8;
      out.authorized = true;
    };
    core.decide(frame, 0, 48, Direction.OUTBOUND);
    expect(core.counters()).toMatchObject({ framesForwarded: 1, framesRewritten: 1, flowsAuthorized: 1 });
    core.handler = (_f, _o, _l, _d, out) => {
      out.verdict = Verdict.RESET;
      out.outboxCount = 5;
    };
    const d = core.decide(frame, 0, 40, Direction.INBOUND);
    expect(d.outboxCount).toBe(0);
    expect(core.counters().framesReset).toBe(1);
  });
  it('records the original destination of SYNs it sees', () => {
    const core = new AdapterCore(LinkType.RAW_IPV4, 16, () => undefined);
    const f = new Uint8Array(40 + 768);
    f[0] = 0x45;
    f[9] = 6;
    f.set([198, 18, 0, 2], 12);
    f.set([198, 18, 0, 7], 16);
    f.set([0x9c, 0x40, 0x23, 0x78], 20); // 40000 -> 9080
    f[20 + 12] = 0x50;
    f[20 + 13] = 0x02; // SYN
    core.decide(f, 0, 40, Direction.OUTBOUND);
    expect(core.originalDestination('198.18.0.2', 40000, '198.18.0.7')).toEqual({ ip: '198.18.0.7', port: 9080 });
  });
});
