// Fuzz properties for the simulator's loaders and endpoint model (issue 10 convention).
// Asserted: nothing but a SyngateError escapes the scenario loader; a scenario that loads is
// internally consistent (unique addresses in 198.18.0.0/15, every traffic endpoint known); the TCP
// endpoint never throws on arbitrary frames and never hands an application bytes that the peer
// application did not send (corrupted frames are refused by checksum, duplicates not re-delivered).
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSyngateError } from '../../enforcer/errors.js';
import { PASS_THROUGH, Prng, TcpHost, Wire, ipToU32 } from '../../enforcer/sim/index.js';
import { parseScenario } from '../../enforcer/sim/scenario.js';
import { fuzzParams } from './params.js';

const BOOKINFO = readFileSync('examples/bookinfo/scenario.yaml', 'utf8');
const ATTACKS = readFileSync('examples/attacks/scenario.yaml', 'utf8');

function loadOrSyngateError(text: string): ReturnType<typeof parseScenario> | null {
  try {
    return parseScenario(text, 'fuzz.yaml', '/nonexistent');
  } catch (e) {
    if (!isSyngateError(e, 'SYNGATE_SIM_SCENARIO')) throw e;
    // every line of the message names the file and a position
    for (const line of (e as Error).message.split('\n')) expect(line).toMatch(/^fuzz\.yaml(:\d+:\d+)?: /);
    return null;
  }
}

function consistent(s: ReturnType<typeof parseScenario>): void {
  const ips = new Set<number>();
  const ids = new Set<string>();
  for (const w of s.workloads) {
    const v = ipToU32(w.ip);
    expect(ips.has(v)).toBe(false);
    ips.add(v);
    if (w.ipAssigned) expect(v >>> 17).toBe(ipToU32('198.18.0.0') >>> 17);
    ids.add(w.id);
    expect(s.nodes).toContain(w.node);
  }
  for (const t of s.traffic) {
    expect(ids.has(t.from) && ids.has(t.to)).toBe(true);
    expect(t.port >= 1 && t.port <= 65535).toBe(true);
  }
}

describe('scenario loader fuzz', () => {
  it('arbitrary text never throws anything but SYNGATE_SIM_SCENARIO', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        const s = loadOrSyngateError(text);
        if (s !== null) consistent(s);
      }),
      fuzzParams(1),
    );
  });

  it('mutated example scenarios load consistently or fail with positioned errors', () => {
    const mutation = fc.record({
      base: fc.constantFrom(BOOKINFO, ATTACKS),
      edits: fc.array(
        fc.record({
          at: fc.nat(),
          del: fc.nat({ max: 8 }),
          ins: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(':', '- ', '{', '}', '[', ']', '\n', '  ', 'port: 0', 'ip: 1.2.3.4', '&a', '*a', '!!binary', 'null', '9080', 'x/y')),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    });
    fc.assert(
      fc.property(mutation, ({ base, edits }) => {
        let t = base;
        for (const e of edits) {
          const at = e.at % (t.length + 1);
          t = t.slice(0, at) + e.ins + t.slice(at + e.del);
        }
        const s = loadOrSyngateError(t);
        if (s !== null) consistent(s);
      }),
      fuzzParams(0.5),
    );
  });

  it('generated scenarios load and assign unique deterministic addresses', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}[a-z0-9]$/);
    const gen = fc.record({
      nodes: fc.uniqueArray(name, { minLength: 1, maxLength: 3 }),
      workloads: fc.uniqueArray(fc.record({ name, ns: fc.constantFrom('a', 'b', 'c'), port: fc.integer({ min: 1, max: 65535 }), explicit: fc.option(fc.integer({ min: 2, max: 250 })) }), {
        minLength: 2,
        maxLength: 12,
        selector: (w) => `${w.ns}/${w.name}`,
      }),
    });
    fc.assert(
      fc.property(gen, ({ nodes, workloads }) => {
        const seen = new Set<number>();
        const wl = workloads.map((w) => {
          const ip = w.explicit !== null && !seen.has(w.explicit) ? (seen.add(w.explicit), `, ip: 198.18.3.${w.explicit}`) : '';
          return `  - {name: ${w.name}, namespace: ${w.ns}${ip}, ports: [${w.port}]}`;
        });
        const a = workloads[0]!;
        const b = workloads[1]!;
        const text = `nodes: [${nodes.join(', ')}]\nworkloads:\n${wl.join('\n')}\ntraffic:\n  - {from: ${a.ns}/${a.name}, to: ${b.ns}/${b.name}, port: ${b.port}}\n`;
        const s = parseScenario(text, 'gen.yaml', '/tmp');
        consistent(s);
        expect(parseScenario(text, 'gen.yaml', '/tmp')).toEqual(s);
      }),
      fuzzParams(0.5),
    );
  });
});

describe('TCP endpoint fuzz', () => {
  it('arbitrary frames never make a host throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.nat({ max: 200 }), (bytes, off) => {
        const h = new TcpHost({ name: 'h', ip: '198.18.0.9', prng: new Prng(1), clock: () => 0 });
        h.listen(80);
        const o = Math.min(off, bytes.length);
        h.receive(bytes, o, bytes.length - o);
      }),
      fuzzParams(1),
    );
  });

  it('a hostile wire (drop, duplicate, corrupt) never delivers bytes the peer did not send', () => {
    const action = fc.oneof(
      fc.constant({ kind: 'pass' as const, at: 0, xor: 0 }),
      fc.constant({ kind: 'drop' as const, at: 0, xor: 0 }),
      fc.constant({ kind: 'dup' as const, at: 0, xor: 0 }),
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
    );
    fc.assert(
      fc.property(fc.array(action, { maxLength: 40 }), fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.integer({ min: 0, max: 1000 }), (actions, data, seed) => {
        const wire = new Wire();
        const prng = new Prng(seed);
        const clock = () => wire.clock.now();
        const a = new TcpHost({ name: 'a', ip: '198.18.0.1', prng: prng.fork('a'), clock });
        const b = new TcpHost({ name: 'b', ip: '198.18.0.2', prng: prng.fork('b'), clock });
        wire.attach(a, PASS_THROUGH);
        wire.attach(b, PASS_THROUGH);
        b.listen(80);
        let i = 0;
        wire.addHook((ev) => {
          if (ev.hop !== 'network') return 'pass';
          const act = actions[i++] ?? { kind: 'pass', at: 0, xor: 0 };
          if (act.kind === 'drop') return 'drop';
          if (act.kind === 'dup') return { duplicate: 1 };
          if (act.kind === 'flip') {
            const f = ev.frame.slice();
            const k = act.at % f.length;
            f[k] = f[k]! ^ act.xor;
            return { replace: f };
          }
          return 'pass';
        });
        const c = a.connect(b.ip, 80);
        wire.run(10_000);
        if (c.state === 'ESTABLISHED') c.send(data);
        wire.run(10_000);
        for (const s of b.connections()) {
          const got = s.received();
          // in-order delivery only: whatever arrived is a prefix of what was sent
          expect(Buffer.from(got).equals(Buffer.from(data.subarray(0, got.length)))).toBe(true);
        }
      }),
      fuzzParams(0.3),
    );
  });
});
