// Builds the simulated cluster's policy side from a validated Scenario: the inventory (policy
// inventory format, with the loader's assigned addresses) and the compiled policy table.
// Invariants: either returns a compiled table or throws SyngateError('SYNGATE_SIM_SETUP') whose
// message lists every error diagnostic as FILE:LINE:COL: FIELD.PATH: message; warnings (e.g. L7
// fields) are returned, never dropped.
import { stringify } from 'yaml';
import { SyngateError } from '../errors.js';
import {
  compile,
  formatDiagnostic,
  hasErrors,
  loadInventoryText,
  loadPolicyPaths,
  loadPolicyTexts,
  type Diagnostic,
  type Inventory,
  type Policy,
  type PolicyTable,
} from '../policy/index.js';
import type { Scenario } from './scenario.js';

export interface ScenarioPolicy {
  inventory: Inventory;
  table: PolicyTable;
  policies: Policy[];
  warnings: string[];
}

function fail(diags: readonly Diagnostic[], what: string): never {
  const errs = diags.filter((d) => d.severity === 'error').map(formatDiagnostic);
  throw new SyngateError('SYNGATE_SIM_SETUP', `${what}:\n${errs.join('\n')}`);
}

export function buildScenarioPolicy(s: Scenario): ScenarioPolicy {
  const inv = loadInventoryText(stringify(s.inventoryDoc), `${s.file} (workloads)`);
  if (inv.inventory === undefined || hasErrors(inv.diagnostics)) fail(inv.diagnostics, `${s.file}: the workloads do not form a valid inventory`);
  const paths = s.policies.filter((p) => p.kind === 'path').map((p) => p.path);
  const inline = s.policies.flatMap((p) => (p.kind === 'inline' ? [{ file: s.file, text: p.text }] : []));
  const diags: Diagnostic[] = [...inv.diagnostics];
  const policies: Policy[] = [];
  if (paths.length > 0) {
    const r = loadPolicyPaths(paths);
    diags.push(...r.diagnostics);
    policies.push(...r.policies);
  }
  if (inline.length > 0) {
    const r = loadPolicyTexts(inline);
    diags.push(...r.diagnostics);
    policies.push(...r.policies);
  }
  if (hasErrors(diags)) fail(diags, `${s.file}: policies do not load`);
  let table: PolicyTable;
  try {
    table = compile(inv.inventory, policies, { defaultDeny: s.defaultDeny });
  } catch (e) {
    throw new SyngateError('SYNGATE_SIM_SETUP', `${s.file}: policies do not compile: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return { inventory: inv.inventory, table, policies, warnings: diags.filter((d) => d.severity === 'warning').map(formatDiagnostic) };
}
