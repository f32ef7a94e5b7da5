// The nfqueue adapter's netfilter rules, as iptables-restore text (pure; tested without root).
// We use iptables (the iptables-nft variant where present: the rules land in nftables through the
// xtables compat layer) because the kernels we target ship the xt NFQUEUE target but not always
// nft's `queue` expression (CONFIG_NFT_QUEUE is off on this project's CI kernel).
//
// Invariants:
//  - every rule lives in chains named `<prefix>-*`; the only changes to built-in chains are one jump
//    each from mangle FORWARD, mangle POSTROUTING and filter FORWARD (removed by removalCommands);
//  - only TCP is queued, and of TCP only: SYN / SYN-ACK, segments carrying TCP option 253 (the syngate
//    marker: tokens and REJECT RSTs), and segments of flows whose connmark lacks the role's
//    "authorized" bit. Once the engine says a flow is authorized, the verdict's mark bit is saved
//    to the connmark and the rest of the flow stays in the kernel;
//  - four queues, one per (stage, conntrack direction), so the adapter knows the direction and role
//    of every packet without parsing conntrack:
//      base+0 OUTBOUND (arrived from a workload interface), ct ORIGINAL: local workload is the client
//      base+1 OUTBOUND, ct REPLY:   local workload is the server
//      base+2 INBOUND  (leaves through a workload interface), ct ORIGINAL: local workload is the server
//      base+3 INBOUND, ct REPLY:    local workload is the client
//    OUTBOUND runs in mangle FORWARD (priority -150), INBOUND in filter FORWARD (priority 0), so a
//    same-node flow passes both stages in order; the bits are saved in mangle POSTROUTING;
//  - without `failOpen`, a queue with no listener drops (fail closed): new handshakes fail while the
//    daemon is down and connmark-authorized flows keep flowing.

export interface NfqueueRuleSpec {
  prefix: string;
  workloadInterfaces: readonly string[];
  queueBase: number;
  failOpen: boolean;
  markClient: number;
  markServer: number;
}

/** Queue index (0..3) -> role mark and direction. */
export const QUEUE_OUT_CLIENT = 0;
export const QUEUE_OUT_SERVER = 1;
export const QUEUE_IN_SERVER = 2;
export const QUEUE_IN_CLIENT = 3;

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/** nft-style `veth*` -> iptables `veth+`. */
export function iptablesInterface(pattern: string): string {
  return pattern.endsWith('*') ? `${pattern.slice(0, -1)}+` : pattern;
}

export function chainNames(prefix: string): { out: string; outChk: string; outQ: string; inn: string; inChk: string; inQ: string; save: string } {
  return {
    out: `${prefix}-OUT`,
    outChk: `${prefix}-OUTCHK`,
    outQ: `${prefix}-OUTQ`,
    inn: `${prefix}-IN`,
    inChk: `${prefix}-INCHK`,
    inQ: `${prefix}-INQ`,
    save: `${prefix}-SAVE`,
  };
}

/** iptables-restore --noflush input that creates (or re-fills) the chains and jumps. */
export function installScript(s: NfqueueRuleSpec): string {
  const n = chainNames(s.prefix);
  const c = hex(s.markClient);
  const sv = hex(s.markServer);
  const both = hex((s.markClient | s.markServer) >>> 0);
  const bypass = s.failOpen ? ' --queue-bypass' : '';
  const q = (i: number): string => `-j NFQUEUE --queue-num ${s.queueBase + i}${bypass}`;
  const lines: string[] = [];
  lines.push('*mangle');
  for (const ch of [n.out, n.outChk, n.outQ, n.save]) lines.push(`:${ch} - [0:0]`);
  // Nobody else may pre-authorize a packet by setting our bits.
  lines.push(`-A ${n.out} -j MARK --set-xmark 0x0/${both}`);
  for (const w of s.workloadInterfaces) lines.push(`-A ${n.out} -i ${iptablesInterface(w)} -p tcp -g ${n.outChk}`);
  lines.push(`-A ${n.outChk} -p tcp --tcp-flags SYN SYN -g ${n.outQ}`);
  lines.push(`-A ${n.outChk} -p tcp --tcp-option 253 -g ${n.outQ}`);
  lines.push(`-A ${n.outChk} -m conntrack --ctdir ORIGINAL -m connmark --mark ${c}/${c} -j RETURN`);
  lines.push(`-A ${n.outChk} -m conntrack --ctdir REPLY -m connmark --mark ${sv}/${sv} -j RETURN`);
  lines.push(`-A ${n.outChk} -g ${n.outQ}`);
  lines.push(`-A ${n.outQ} -m conntrack --ctdir ORIGINAL ${q(QUEUE_OUT_CLIENT)}`);
  lines.push(`-A ${n.outQ} ${q(QUEUE_OUT_SERVER)}`);
  lines.push(`-A ${n.save} -m mark --mark ${c}/${c} -j CONNMARK --or-mark ${c}`);
  lines.push(`-A ${n.save} -m mark --mark ${sv}/${sv} -j CONNMARK --or-mark ${sv}`);
  lines.push(`-I FORWARD 1 -j ${n.out}`);
  lines.push(`-I POSTROUTING 1 -j ${n.save}`);
  lines.push('COMMIT');
  lines.push('*filter');
  for (const ch of [n.inn, n.inChk, n.inQ]) lines.push(`:${ch} - [0:0]`);
  for (const w of s.workloadInterfaces) lines.push(`-A ${n.inn} -o ${iptablesInterface(w)} -p tcp -g ${n.inChk}`);
  lines.push(`-A ${n.inChk} -p tcp --tcp-flags SYN SYN -g ${n.inQ}`);
  lines.push(`-A ${n.inChk} -p tcp --tcp-option 253 -g ${n.inQ}`);
  lines.push(`-A ${n.inChk} -m conntrack --ctdir ORIGINAL -m connmark --mark ${sv}/${sv} -j RETURN`);
  lines.push(`-A ${n.inChk} -m conntrack --ctdir REPLY -m connmark --mark ${c}/${c} -j RETURN`);
  lines.push(`-A ${n.inChk} -g ${n.inQ}`);
  lines.push(`-A ${n.inQ} -m conntrack --ctdir ORIGINAL ${q(QUEUE_IN_SERVER)}`);
  lines.push(`-A ${n.inQ} ${q(QUEUE_IN_CLIENT)}`);
  lines.push(`-I FORWARD 1 -j ${n.inn}`);
  lines.push('COMMIT');
  return lines.join('\n') + '\n';
}

/**
 * iptables argument lists that remove everything installScript created. Each may fail with
 * "does not exist" (already removed): callers ignore failures, which makes removal idempotent.
 * Jumps are listed a few times so duplicates left by a crash between install steps also go.
 */
export function removalCommands(prefix: string): string[][] {
  const n = chainNames(prefix);
  const cmds: string[][] = [];
  for (let i = 0; i < 3; i++) {
    cmds.push(['-t', 'mangle', '-D', 'FORWARD', '-j', n.out]);
    cmds.push(['-t', 'mangle', '-D', 'POSTROUTING', '-j', n.save]);
    cmds.push(['-t', 'filter', '-D', 'FORWARD', '-j', n.inn]);
  }
  for (const [t, chains] of [
    ['mangle', [n.out, n.outChk, n.outQ, n.save]],
    ['filter', [n.inn, n.inChk, n.inQ]],
  ] as const) {
    for (const ch of chains) cmds.push(['-t', t, '-F', ch]);
    for (const ch of chains) cmds.push(['-t', t, '-X', ch]);
  }
  return cmds;
}

/** Role mark for a queue index. */
export function queueRoleMark(index: number, s: Pick<NfqueueRuleSpec, 'markClient' | 'markServer'>): number {
  return index === QUEUE_OUT_CLIENT || index === QUEUE_IN_CLIENT ? s.markClient : s.markServer;
}
