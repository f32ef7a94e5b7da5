// Shared fixtures for the policy tests: a small two-namespace inventory and a one-call evaluator.
import { compile, evaluate, loadInventoryText, loadPolicyTexts } from '../../enforcer/policy/index.js';
import type { CompileOptions, EvaluateQuery, EvaluateResult, Inventory, PolicyTable } from '../../enforcer/policy/index.js';

export const INVENTORY_YAML = `
trustDomain: cluster.local
namespaces:
  - name: foo
    labels: {team: a, env: prod}
  - name: bar
    labels: {team: b, env: prod}
  - name: dev
    labels: {team: a, env: dev}
  - name: istio-system
workloads:
  - {name: web, namespace: foo, serviceAccount: web, labels: {app: web, tier: front}, ip: 198.18.0.1, node: n1,
     ports: [{name: http, port: 8080}]}
  - {name: api, namespace: foo, serviceAccount: api, labels: {app: api, version: v1}, ip: 198.18.0.2, node: n1,
     ports: [{name: http, port: 9080}, {name: metrics, port: 15090}, {name: dns, port: 53, protocol: UDP}]}
  - {name: db, namespace: bar, serviceAccount: db, labels: {app: db}, ip: 198.18.0.3, node: n2,
     ports: [{name: postgres, port: 5432}]}
  - {name: client, namespace: bar, serviceAccount: client, labels: {app: client, tier: front}, ip: 198.18.0.4, node: n2}
  - {name: legacy, namespace: foo, labels: {app: legacy}, ip: 198.18.0.5, node: n2, enforcer: false}
  - {name: tool, namespace: dev, serviceAccount: tool, labels: {app: tool}, ip: 198.18.1.6, node: n1}
  - {name: gw, namespace: istio-system, serviceAccount: gw, labels: {app: gw}, ip: 198.18.1.7, node: n1}
`;

export function inventory(text = INVENTORY_YAML): Inventory {
  const r = loadInventoryText(text, 'inventory.yaml');
  if (r.inventory === undefined) throw new Error(r.diagnostics.map((d) => `${d.line}:${d.col} ${d.path}: ${d.message}`).join('\n'));
  return r.inventory;
}

export function table(policyYaml: string, opts: CompileOptions = {}, inv: Inventory = inventory()): PolicyTable {
  const r = loadPolicyTexts([{ file: 'policy.yaml', text: policyYaml }]);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((d) => `${d.line}:${d.col} ${d.path}: ${d.message}`).join('\n'));
  return compile(inv, r.policies, opts);
}

export function ev(t: PolicyTable, q: EvaluateQuery): EvaluateResult {
  const r = evaluate(t, q);
  if ('error' in r) throw new Error(r.error);
  return r;
}
