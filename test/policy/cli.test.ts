// `syngate policy check` and `syngate policy explain` through the CLI entry (run()), on fixtures.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { runCli } from '../helpers/cli.js';

const cli = (args: string[]) => runCli(...args);

const FIX = 'test/fixtures/policy';

afterEach(() => vi.restoreAllMocks());

describe('syngate policy check', () => {
  test('valid files: exit 0, L7 warnings printed with file:line:col and field path', async () => {
    const r = await cli(['policy', 'check', `${FIX}/good`]);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^test\/fixtures\/policy\/good\/istio\.yaml:\d+:\d+: spec\.rules\[0\]\.to\[0\]\.operation\.paths: warning: L7 field "paths"/m);
  });

  test('every error as FILE:LINE:COL: FIELD.PATH: message, exit 1', async () => {
    const r = await cli(['policy', 'check', `${FIX}/bad/bad.yaml`]);
    expect(r.status).toBe(1);
    const lines = r.out.trim().split('\n');
    for (const l of lines) expect(l).toMatch(/^test\/fixtures\/policy\/bad\/bad\.yaml:\d+:\d+: [\w.[\]()]+: .+/);
    const text = r.out;
    expect(text).toContain('bad.yaml:7:11: spec.action: action CUSTOM');
    expect(text).toContain('spec.rules[0].from[0].source.ipBlocks[0]: invalid IP address or CIDR "10.0.0.300/8"');
    expect(text).toContain('spec.rules[0].from[0].source.principal: unknown field "principal"');
    expect(text).toContain('spec.rules[0].to[0].operation.ports[0]: port out of range');
    expect(text).toContain('spec.policyTypes: expected a list');
    expect(text).toContain('spec.ingress[0].ports[0].protocol: unknown protocol "ICMP"');
    expect(text).toContain('spec.ingress[0].ports[0].endPort: endPort 70 must be between port 80 and 65535');
    expect(text).toMatch(/bad\.yaml:32:\d+: kind: unknown kind example\.com\/v1\/Widget/);
  });

  test('a missing path is an error', async () => {
    const r = await cli(['policy', 'check', `${FIX}/does-not-exist.yaml`]);
    expect(r.status).toBe(1);
    expect(r.out).toContain('does-not-exist.yaml:1:1: (document): cannot read');
  });
});

describe('syngate policy explain', () => {
  const base = ['policy', 'explain', '--inventory', `${FIX}/inventory.yaml`, '--policy', `${FIX}/good`];

  test('JSON: verdict, deciding rule, audit, layers', async () => {
    const r = await cli([...base, '--from', 'foo/web', '--to', 'foo/api', '--port', '9080', '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.out) as { verdict: string; rule: string; audit: string[]; layers: Record<string, unknown> };
    expect(j).toMatchObject({ verdict: 'allow', rule: 'AuthorizationPolicy/foo/api-from-web#rules[0]', audit: [] });
    expect(Object.keys(j.layers).sort()).toEqual(['egress', 'ingress']);
  });

  test('JSON: a denied flow with an audit match', async () => {
    const r = await cli([...base, '--from', 'bar/db', '--to', 'foo/api', '--port', '9080', '--json']);
    const j = JSON.parse(r.out) as { verdict: string; rule: string; audit: string[] };
    expect(j).toEqual(expect.objectContaining({ verdict: 'deny', rule: 'default-deny', audit: ['AuthorizationPolicy/foo/audit-db#rules[0]'] }));
  });

  test('NetworkPolicy named port and AND of selectors', async () => {
    const ok = await cli([...base, '--from', 'foo/api', '--to', 'bar/db', '--port', '5432', '--json']);
    expect(JSON.parse(ok.out)).toMatchObject({ verdict: 'allow', rule: 'NetworkPolicy/bar/db-ingress#ingress[0]' });
    const no = await cli([...base, '--from', 'foo/web', '--to', 'bar/db', '--port', '5432', '--json']);
    expect(JSON.parse(no.out)).toMatchObject({ verdict: 'deny', rule: 'k8s-isolation' });
  });

  test('text output names the verdict and rule', async () => {
    const r = await cli([...base, '--from', 'foo/web', '--to', 'foo/api', '--port', '9080']);
    expect(r.out).toContain('verdict: allow');
    expect(r.out).toContain('rule: AuthorizationPolicy/foo/api-from-web#rules[0]');
  });

  test('unknown workload: exit 2 with a clear message', async () => {
    const r = await cli([...base, '--from', 'foo/nope', '--to', 'foo/api', '--port', '9080']);
    expect(r.status).toBe(2);
    expect(r.err).toContain('unknown workload "foo/nope"');
  });

  test('broken policy: exit 2, errors printed', async () => {
    const r = await cli(['policy', 'explain', '--inventory', `${FIX}/inventory.yaml`, '--policy', `${FIX}/bad`, '--from', 'foo/web', '--to', 'foo/api', '--port', '1']);
    expect(r.status).toBe(2);
    expect(r.err).toContain('SYNGATE_POLICY_INVALID');
  });
});
