// `syngate policy check PATH...` and `syngate policy explain ...`.
// Invariants: check prints every diagnostic as FILE:LINE:COL: FIELD.PATH: message (warnings say
// "warning:") on stdout and sets status 1 iff any is an error; explain prints the verdict, the
// deciding rule and the audit matches (JSON with --json: {"verdict","rule","audit","layers"}) and
// sets 0 for any verdict, 2 when its inputs do not load. Nothing here calls process.exit.
import type { Command } from 'commander';
import { SyngateError } from '../../errors.js';
import {
  compile, evaluate, formatDiagnostic, hasErrors, loadInventoryFile, loadPolicyPaths,
} from '../../policy/index.js';
import type { EvaluateResult, SideResult } from '../../policy/index.js';
import type { SetStatus } from './index.js';

interface ExplainOpts {
  inventory: string;
  policy: string[];
  from: string;
  to: string;
  port: string;
  proto?: string;
  json?: boolean;
  rootNamespace?: string;
  defaultDeny?: boolean;
}

function sideText(name: string, s: SideResult | undefined): string {
  if (s === undefined) return `  ${name}: no inventory workload on this side (not evaluated)\n`;
  let out = `  ${name}: ${s.verdict} by ${s.rule}${s.enforced ? '' : ' (no enforcer: not enforced)'}` +
    `${s.mode === 'enforce' ? '' : ` (mode ${s.mode})`}\n`;
  for (const l of s.layers) out += `    ${l.layer}: ${l.verdict} by ${l.rule}${l.explicit ? '' : ' (no ALLOW policy)'}\n`;
  return out;
}

function explainText(r: EvaluateResult): string {
  let out = `verdict: ${r.verdict}\nrule: ${r.rule}\naudit: ${r.audit.length === 0 ? '(none)' : r.audit.join(', ')}\n`;
  out += sideText('egress (source enforcer)', r.layers.egress);
  out += sideText('ingress (destination enforcer)', r.layers.ingress);
  return out;
}

export function registerPolicy(program: Command, setStatus: SetStatus): void {
  const policy = program.command('policy').description('validate and explain Istio, Kubernetes and syngate policies');

  policy
    .command('check')
    .description('validate policy files or folders; prints FILE:LINE:COL: FIELD.PATH: message per problem')
    .argument('<paths...>', 'YAML files or folders (multi-document)')
    .action((paths: string[]) => {
      const r = loadPolicyPaths(paths);
      for (const d of r.diagnostics) process.stdout.write(`${formatDiagnostic(d)}\n`);
      const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
      const warnings = r.diagnostics.length - errors;
      process.stderr.write(
        `${r.files.length} file(s), ${r.policies.length} valid polic${r.policies.length === 1 ? 'y' : 'ies'}, ` +
          `${errors} error(s), ${warnings} warning(s)\n`,
      );
      setStatus(errors > 0 ? 1 : 0);
    });

  policy
    .command('explain')
    .description('explain the verdict for one connection: deciding rule, audit matches, per-layer detail')
    .requiredOption('--inventory <file>', 'workload inventory YAML')
    .requiredOption('--policy <paths...>', 'policy files or folders')
    .requiredOption('--from <ref>', 'source: NS/NAME of an inventory workload, or an IPv4 address')
    .requiredOption('--to <ref>', 'destination: NS/NAME of an inventory workload, or an IPv4 address')
    .requiredOption('--port <n>', 'destination port')
    .option('--proto <p>', 'TCP (default), UDP or SCTP')
    .option('--root-namespace <ns>', 'mesh root namespace (default: the inventory\'s, else istio-system)')
    .option('--default-deny', 'strict default-deny for every workload')
    .option('--json', 'print {"verdict","rule","audit","layers"} as JSON')
    .action((o: ExplainOpts) => {
      const inv = loadInventoryFile(o.inventory);
      const pol = loadPolicyPaths(o.policy);
      const diags = [...inv.diagnostics, ...pol.diagnostics];
      for (const d of diags) process.stderr.write(`${formatDiagnostic(d)}\n`);
      if (inv.inventory === undefined || hasErrors(diags)) {
        throw new SyngateError('SYNGATE_POLICY_INVALID', 'the inventory or the policies do not load (see the messages above)');
      }
      if (!/^\d{1,5}$/.test(o.port) || Number(o.port) > 65535) {
        throw new SyngateError('SYNGATE_POLICY_USAGE', `--port: expected 0..65535, got "${o.port}"`);
      }
      const opts: { rootNamespace?: string; defaultDeny?: boolean } = {};
      if (o.rootNamespace !== undefined) opts.rootNamespace = o.rootNamespace;
      if (o.defaultDeny === true) opts.defaultDeny = true;
      const table = compile(inv.inventory, pol.policies, opts);
      const q = { from: o.from, to: o.to, port: Number(o.port), ...(o.proto === undefined ? {} : { proto: o.proto }) };
      const r = evaluate(table, q);
      if ('error' in r) throw new SyngateError('SYNGATE_POLICY_USAGE', r.error);
      process.stdout.write(o.json === true ? `${JSON.stringify(r)}\n` : explainText(r));
      setStatus(0);
    });
}
