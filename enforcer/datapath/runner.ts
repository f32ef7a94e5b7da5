// A minimal enforcer process for the lab and the datapath tests: one adapter + one frame handler,
// until (and alongside) the daemon's `syngate run`. Usage:
//   node runner.js --datapath nfqueue --workload-if lan0 [--queue-base N] [--fail-open] [--keep-rules]
//   node runner.js --datapath pcap --inside ein --outside eout [--skip-offload-check]
//   common: [--handler pass|auth|engine] [--status FILE]
//   engine: --scenario FILE --node NAME --ca-cert PEM --ca-key PEM [--flows FILE]
// Handlers: `pass` forwards everything unchanged; `auth` also declares a flow authorized at its first
// non-SYN ACK (what the engine does after a verified handshake), to exercise the connmark fast path;
// `engine` runs the real engine for one node of a scenario (engine-handler.ts).
// Invariants: prints exactly one line `ready` on stdout once the adapter is ready (or exits 2 with the
// error on stderr); on SIGTERM/SIGINT stops the adapter (removing rules unless --keep-rules) and
// exits 0; `--status FILE` is rewritten (atomically, by rename) every 200 ms and at exit with the
// adapter's state and counters as JSON.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { SyngateError, isSyngateError } from '../errors.js';
import { buildScenarioEnforcer } from './engine-handler.js';
import type { ScenarioEnforcer } from './engine-handler.js';
import { createDatapath, passThroughHandler } from './index.js';
import type { DatapathAdapter, DatapathOptions, FrameHandler } from './types.js';
import { LinkType, Verdict } from '../engine/types.js';
import { TCP_FLAG_ACK, TCP_FLAG_SYN, TCP_OFF_FLAGS, ipv4Offset, tcpOffset } from './frame.js';

/** Forwards everything; a TCP segment with ACK and without SYN marks its flow authorized. */
export function authAtAckHandler(link: LinkType): FrameHandler {
  return (frame, off, len, _dir, out) => {
    out.verdict = Verdict.FORWARD;
    out.length = len;
    const l3 = ipv4Offset(frame, off, len, link);
    const l4 = l3 < 0 ? -1 : tcpOffset(frame, l3, off + len);
    if (l4 < 0) return;
    const f = frame[l4 + TCP_OFF_FLAGS] ?? 0;
    out.authorized = (f & (TCP_FLAG_SYN | TCP_FLAG_ACK)) === TCP_FLAG_ACK;
  };
}

function arg(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

export async function runnerMain(argv: readonly string[]): Promise<number> {
  const kind = arg(argv, '--datapath');
  const log = (l: string): void => {
    process.stderr.write(`${new Date().toISOString()} ${l}\n`);
  };
  let opts: DatapathOptions;
  if (kind === 'nfqueue') {
    const wif = arg(argv, '--workload-if');
    const qb = arg(argv, '--queue-base');
    opts = {
      kind,
      workloadInterfaces: (wif ?? '').split(',').filter((s) => s !== ''),
      failOpen: argv.includes('--fail-open'),
      log,
      ...(qb === undefined ? {} : { queueBase: Number(qb) }),
    };
  } else if (kind === 'pcap') {
    opts = { kind, inside: arg(argv, '--inside') ?? '', outside: arg(argv, '--outside') ?? '', skipOffloadCheck: argv.includes('--skip-offload-check'), log };
  } else {
    process.stderr.write('runner: --datapath nfqueue|pcap is required\n');
    return 2;
  }
  const handlerName = arg(argv, '--handler') ?? 'pass';
  const link = opts.kind === 'nfqueue' ? LinkType.RAW_IPV4 : LinkType.ETHERNET;
  let handler: FrameHandler | null = handlerName === 'pass' ? passThroughHandler : handlerName === 'auth' ? authAtAckHandler(link) : null;
  let enforcer: ScenarioEnforcer | null = null;
  if (handlerName === 'engine') {
    try {
      const need = (n: string): string => {
        const v = arg(argv, n);
        if (v === undefined) throw new SyngateError('SYNGATE_DATAPATH_CONFIG', `runner: --handler engine needs ${n}`);
        return v;
      };
      enforcer = buildScenarioEnforcer({
        scenario: need('--scenario'),
        node: need('--node'),
        caCertPem: readFileSync(need('--ca-cert'), 'utf8'),
        caKeyPem: readFileSync(need('--ca-key'), 'utf8'),
        linkType: link,
        flowLog: arg(argv, '--flows') ?? null,
        log,
      });
      handler = enforcer.handler;
    } catch (e) {
      process.stderr.write(`runner: ${e instanceof Error ? e.message : String(e)}${isSyngateError(e) ? ` [${e.code}]` : ''}\n`);
      return 2;
    }
  }
  if (handler === null) {
    process.stderr.write(`runner: unknown --handler '${handlerName}' (pass | auth | engine)\n`);
    return 2;
  }
  let adapter: DatapathAdapter;
  try {
    adapter = createDatapath(opts);
    await adapter.start(handler);
  } catch (e) {
    process.stderr.write(`runner: ${e instanceof Error ? e.message : String(e)}${isSyngateError(e) ? ` [${e.code}]` : ''}\n`);
    return 2;
  }
  const statusFile = arg(argv, '--status');
  const writeStatus = (): void => {
    if (statusFile === undefined) return;
    const tmp = `${statusFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ pid: process.pid, state: adapter.state, counters: adapter.counters(), engine: enforcer?.counters() ?? null }) + '\n');
    renameSync(tmp, statusFile);
  };
  writeStatus();
  const timer = setInterval(() => {
    if (enforcer !== null) {
      enforcer.tick();
      enforcer.drain();
    }
    writeStatus();
  }, 100);
  const keepRules = argv.includes('--keep-rules');
  return await new Promise<number>((resolve) => {
    const stop = (sig: string): void => {
      log(`runner: ${sig}, stopping`);
      clearInterval(timer);
      enforcer?.drain();
      void adapter.stop({ removeRules: !keepRules }).then(() => {
        writeStatus();
        resolve(0);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // Only now: whoever waits for `ready` may signal us at once.
    process.stdout.write('ready\n');
  });
}

const isMain = process.argv[1] !== undefined && /runner\.(js|ts)$/.test(process.argv[1]);
if (isMain) {
  // The nfqueue binding keeps its poll handle forever: exit explicitly.
  void runnerMain(process.argv.slice(2)).then((code) => process.exit(code));
}
