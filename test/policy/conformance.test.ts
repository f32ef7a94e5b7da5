// Table-driven conformance cases, written from the Istio AuthorizationPolicy and Kubernetes
// NetworkPolicy documentation's semantics (paraphrased in docs/policy.md) plus syngate's native
// policy. Every case goes through the whole pipeline: YAML text -> loader -> compiler -> lookup.
import { describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { loadPolicyTexts } from '../../enforcer/policy/index.js';
import type { CompileOptions } from '../../enforcer/policy/index.js';
import { ev, INVENTORY_YAML, inventory, table } from './helpers.js';

type Obj = Record<string, unknown>;
const AP = (ns: string, name: string, spec: Obj, api = 'security.istio.io/v1'): Obj => ({
  apiVersion: api, kind: 'AuthorizationPolicy', metadata: { name, namespace: ns }, spec,
});
const NP = (ns: string, name: string, spec: Obj): Obj => ({
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns }, spec,
});
const SP = (ns: string, name: string, spec: Obj): Obj => ({
  apiVersion: 'syngate.io/v1alpha1', kind: 'SyngatePolicy', metadata: { name, namespace: ns }, spec,
});
const P = (ns: string, sa: string): string => `cluster.local/ns/${ns}/sa/${sa}`;

interface Check {
  from: string;
  to: string;
  port: number;
  expect: 'allow' | 'deny';
  rule?: string;
  audit?: string[];
  proto?: string;
  srcIp?: string;
}
interface Case {
  name: string;
  policies: Obj[];
  opts?: CompileOptions;
  inventory?: string;
  checks: Check[];
}
const c = (from: string, to: string, port: number, expect: 'allow' | 'deny', rule?: string, extra: Partial<Check> = {}): Check =>
  rule === undefined ? { from, to, port, expect, ...extra } : { from, to, port, expect, rule, ...extra };

const APID = (ns: string, name: string, i = 0): string => `AuthorizationPolicy/${ns}/${name}#rules[${i}]`;
const NPIN = (ns: string, name: string, i = 0): string => `NetworkPolicy/${ns}/${name}#ingress[${i}]`;
const NPEG = (ns: string, name: string, i = 0): string => `NetworkPolicy/${ns}/${name}#egress[${i}]`;
const SPID = (ns: string, name: string, i = 0): string => `SyngatePolicy/${ns}/${name}#rules[${i}]`;
const apiSel = { matchLabels: { app: 'api' } };

const ISTIO: Case[] = [
  { name: 'no policy at all: allowed by default', policies: [], checks: [c('foo/web', 'foo/api', 9080, 'allow', 'default-allow')] },
  {
    name: 'ALLOW policy with no rules allows nothing (empty spec)',
    policies: [AP('foo', 'allow-nothing', {})],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', 'default-deny'), c('bar/client', 'foo/web', 8080, 'deny', 'default-deny')],
  },
  {
    name: 'ALLOW policy with no rules only affects its namespace',
    policies: [AP('foo', 'allow-nothing', { action: 'ALLOW' })],
    checks: [c('foo/web', 'bar/db', 5432, 'allow', 'default-allow')],
  },
  {
    name: 'ALLOW with a rule {} matches everything',
    policies: [AP('foo', 'allow-all', { rules: [{}] })],
    checks: [c('bar/client', 'foo/api', 9080, 'allow', APID('foo', 'allow-all')), c('foo/legacy', 'foo/api', 1, 'allow', APID('foo', 'allow-all'))],
  },
  {
    name: 'DENY with a rule {} denies everything',
    policies: [AP('foo', 'deny-all', { action: 'DENY', rules: [{}] })],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', APID('foo', 'deny-all'))],
  },
  {
    name: 'DENY with no rules matches nothing',
    policies: [AP('foo', 'deny-none', { action: 'DENY' })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow', 'default-allow')],
  },
  {
    name: 'DENY is evaluated before ALLOW',
    policies: [
      AP('foo', 'allow-all', { selector: apiSel, rules: [{}] }),
      AP('foo', 'deny-web', { selector: apiSel, action: 'DENY', rules: [{ from: [{ source: { principals: [P('foo', 'web')] } }] }] }),
    ],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', APID('foo', 'deny-web')), c('bar/client', 'foo/api', 9080, 'allow', APID('foo', 'allow-all'))],
  },
  {
    name: 'no ALLOW policy on the workload: allowed unless a DENY matches',
    policies: [AP('foo', 'deny-client', { action: 'DENY', rules: [{ from: [{ source: { principals: [P('bar', 'client')] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow', 'default-allow'), c('bar/client', 'foo/api', 9080, 'deny', APID('foo', 'deny-client'))],
  },
  {
    name: 'principals: exact match',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { principals: [P('foo', 'web')] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow', APID('foo', 'p')), c('bar/client', 'foo/api', 9080, 'deny', 'default-deny')],
  },
  {
    name: 'principals: prefix wildcard',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { principals: ['cluster.local/ns/foo/*'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow'), c('bar/client', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'principals: suffix wildcard',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { principals: ['*/sa/client'] } }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'allow'), c('foo/web', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'principals: "*" means any authenticated peer',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { principals: ['*'] } }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'allow'), c('foo/legacy', 'foo/api', 9080, 'deny', 'default-deny'), c('203.0.113.9', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'notPrincipals in ALLOW',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { notPrincipals: [P('foo', 'web')] } }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'allow'), c('foo/web', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'notPrincipals "*" in DENY rejects peers without identity',
    policies: [AP('foo', 'require-identity', { action: 'DENY', rules: [{ from: [{ source: { notPrincipals: ['*'] } }] }] })],
    checks: [c('foo/legacy', 'foo/api', 9080, 'deny', APID('foo', 'require-identity')), c('foo/web', 'foo/api', 9080, 'allow', 'default-allow')],
  },
  {
    name: 'namespaces',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { namespaces: ['bar'] } }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'allow'), c('foo/web', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'notNamespaces in DENY',
    policies: [AP('foo', 'p', { action: 'DENY', rules: [{ from: [{ source: { notNamespaces: ['foo'] } }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'deny', APID('foo', 'p')), c('foo/web', 'foo/api', 9080, 'allow')],
  },
  {
    name: 'namespaces: suffix and prefix wildcards',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { namespaces: ['*ar', 'de*'] } }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'allow'), c('dev/tool', 'foo/api', 9080, 'allow'), c('foo/web', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'namespaces never match a peer without identity',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { namespaces: ['foo'] } }] }] })],
    checks: [c('foo/legacy', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'serviceAccounts',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { serviceAccounts: ['bar/client'] } }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'allow'), c('bar/db', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'ipBlocks',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { ipBlocks: ['198.18.0.0/30'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow'), c('bar/client', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'ipBlocks with notIpBlocks',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { ipBlocks: ['198.18.0.0/24'], notIpBlocks: ['198.18.0.4'] } }] }] })],
    checks: [c('bar/db', 'foo/api', 9080, 'allow'), c('bar/client', 'foo/api', 9080, 'deny'), c('dev/tool', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'ipBlocks admit a peer without an enforcer by address',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { ipBlocks: ['203.0.113.0/24'] } }] }] })],
    checks: [c('203.0.113.9', 'foo/api', 9080, 'allow'), c('198.51.100.1', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'to.operation ports',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ to: [{ operation: { ports: ['9080'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow'), c('foo/web', 'foo/api', 15090, 'deny')],
  },
  {
    name: 'to.operation notPorts',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ to: [{ operation: { notPorts: ['15090'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow'), c('foo/web', 'foo/api', 15090, 'deny')],
  },
  {
    name: 'from and to in one rule must both match',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { principals: [P('foo', 'web')] } }], to: [{ operation: { ports: ['9080'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow'), c('foo/web', 'foo/api', 15090, 'deny'), c('bar/client', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'rules are ORed; the first matching rule is reported',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { principals: [P('foo', 'web')] } }] }, { to: [{ operation: { ports: ['15090'] } }] }] })],
    checks: [c('bar/client', 'foo/api', 15090, 'allow', APID('foo', 'p', 1)), c('foo/web', 'foo/api', 15090, 'allow', APID('foo', 'p', 0)), c('bar/client', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'from entries are ORed',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { principals: [P('foo', 'web')] } }, { source: { namespaces: ['dev'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow'), c('dev/tool', 'foo/api', 9080, 'allow'), c('bar/db', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'fields inside one source are ANDed',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { principals: [P('foo', 'web')], namespaces: ['bar'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'when source.ip',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ when: [{ key: 'source.ip', values: ['198.18.0.3/32'] }] }] })],
    checks: [c('bar/db', 'foo/api', 9080, 'allow'), c('bar/client', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'when source.ip notValues',
    policies: [AP('foo', 'p', { action: 'DENY', rules: [{ when: [{ key: 'source.ip', notValues: ['198.18.0.0/30'] }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'deny', APID('foo', 'p')), c('foo/web', 'foo/api', 9080, 'allow')],
  },
  {
    name: 'when destination.port',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ when: [{ key: 'destination.port', values: ['15090'] }] }] })],
    checks: [c('bar/db', 'foo/api', 15090, 'allow'), c('bar/db', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'when source.namespace notValues',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ when: [{ key: 'source.namespace', notValues: ['bar'] }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow'), c('bar/db', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'when source.principal',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ when: [{ key: 'source.principal', values: ['*/sa/tool'] }] }] })],
    checks: [c('dev/tool', 'foo/api', 9080, 'allow'), c('foo/web', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'when destination.ip (the local workload address)',
    policies: [AP('foo', 'p', { action: 'DENY', rules: [{ when: [{ key: 'destination.ip', values: ['198.18.0.2'] }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', APID('foo', 'p')), c('foo/api', 'foo/web', 8080, 'allow')],
  },
  {
    name: 'root namespace policy without selector applies mesh-wide',
    policies: [AP('istio-system', 'deny-dev', { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['dev'] } }] }] })],
    checks: [c('dev/tool', 'foo/api', 9080, 'deny', APID('istio-system', 'deny-dev')), c('dev/tool', 'bar/db', 5432, 'deny'), c('foo/web', 'bar/db', 5432, 'allow')],
  },
  {
    name: 'root namespace policy with a selector applies to matching workloads of every namespace',
    policies: [AP('istio-system', 'front-only', { selector: { matchLabels: { tier: 'front' } }, rules: [{ from: [{ source: { namespaces: ['foo'] } }] }] })],
    checks: [c('bar/db', 'bar/client', 80, 'deny', 'default-deny'), c('foo/api', 'bar/client', 80, 'allow'), c('bar/db', 'foo/api', 9080, 'allow', 'default-allow')],
  },
  {
    name: 'a non-root namespace policy does not reach other namespaces',
    policies: [AP('dev', 'deny-all', { action: 'DENY', rules: [{}] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow'), c('foo/web', 'dev/tool', 80, 'deny')],
  },
  {
    name: 'root namespace is configurable',
    policies: [AP('dev', 'deny-web', { action: 'DENY', rules: [{ from: [{ source: { principals: [P('foo', 'web')] } }] }] })],
    opts: { rootNamespace: 'dev' },
    checks: [c('foo/web', 'bar/db', 5432, 'deny', APID('dev', 'deny-web'))],
  },
  {
    name: 'selector that matches no label leaves the workload alone',
    policies: [AP('foo', 'p', { selector: { matchLabels: { app: 'nothing' } } })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow', 'default-allow')],
  },
  {
    name: 'AUDIT marks the flow without deciding it',
    policies: [AP('foo', 'audit-web', { action: 'AUDIT', rules: [{ from: [{ source: { principals: [P('foo', 'web')] } }] }] })],
    checks: [
      c('foo/web', 'foo/api', 9080, 'allow', 'default-allow', { audit: [APID('foo', 'audit-web')] }),
      c('bar/client', 'foo/api', 9080, 'allow', 'default-allow', { audit: [] }),
    ],
  },
  {
    name: 'AUDIT alongside a DENY still lists the audit rule',
    policies: [
      AP('foo', 'audit-all', { action: 'AUDIT', rules: [{}] }),
      AP('foo', 'deny-all', { action: 'DENY', rules: [{}] }),
    ],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', APID('foo', 'deny-all'), { audit: [APID('foo', 'audit-all')] })],
  },
  {
    name: 'L7 field in ALLOW: the rule never matches',
    policies: [AP('foo', 'get-only', { selector: apiSel, rules: [{ to: [{ operation: { methods: ['GET'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', 'default-deny')],
  },
  {
    name: 'L7 source field in ALLOW (requestPrincipals): the rule never matches',
    policies: [AP('foo', 'jwt', { selector: apiSel, rules: [{ from: [{ source: { requestPrincipals: ['*'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', 'default-deny')],
  },
  {
    name: 'L7 rule in ALLOW does not disable the other L4 rules',
    policies: [AP('foo', 'mixed', { selector: apiSel, rules: [{ to: [{ operation: { paths: ['/x'] } }] }, { from: [{ source: { namespaces: ['foo'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow', APID('foo', 'mixed', 1)), c('bar/db', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'L7 field in DENY: denies on its L4 part',
    policies: [AP('foo', 'no-admin', { action: 'DENY', rules: [{ from: [{ source: { principals: [P('foo', 'web')] } }], to: [{ operation: { paths: ['/admin'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', APID('foo', 'no-admin')), c('bar/client', 'foo/api', 9080, 'allow')],
  },
  {
    name: 'L7 condition in DENY: denies on its L4 part',
    policies: [AP('foo', 'hdr', { action: 'DENY', rules: [{ to: [{ operation: { ports: ['15090'] } }], when: [{ key: 'request.headers[x-debug]', values: ['1'] }] }] })],
    checks: [c('foo/web', 'foo/api', 15090, 'deny', APID('foo', 'hdr')), c('foo/web', 'foo/api', 9080, 'allow')],
  },
  {
    name: 'strict default-deny (global option): no policy means deny',
    policies: [],
    opts: { defaultDeny: true },
    checks: [c('foo/web', 'foo/api', 9080, 'deny', 'default-deny')],
  },
  {
    name: 'strict default-deny per namespace (inventory)',
    policies: [],
    inventory: INVENTORY_YAML.replace('labels: {team: a, env: prod}', 'labels: {team: a, env: prod}\n    defaultDeny: true'),
    checks: [c('bar/db', 'foo/api', 9080, 'deny', 'default-deny'), c('foo/web', 'bar/db', 5432, 'allow', 'default-allow')],
  },
  {
    name: 'strict default-deny per workload (inventory)',
    policies: [],
    inventory: INVENTORY_YAML.replace('ip: 198.18.0.3, node: n2,', 'ip: 198.18.0.3, node: n2, defaultDeny: true,'),
    checks: [c('foo/web', 'bar/db', 5432, 'deny', 'default-deny'), c('bar/db', 'foo/web', 8080, 'allow')],
  },
  {
    name: 'strict default-deny: an explicit ALLOW still allows',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { principals: [P('foo', 'web')] } }] }] })],
    opts: { defaultDeny: true },
    checks: [c('foo/web', 'foo/api', 9080, 'allow', APID('foo', 'p')), c('foo/api', 'foo/web', 8080, 'deny', 'default-deny')],
  },
  {
    name: 'strict default-deny: a layer with only DENY policies does not allow by itself',
    policies: [AP('foo', 'deny-dev', { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['dev'] } }] }] })],
    opts: { defaultDeny: true },
    checks: [c('foo/web', 'foo/api', 9080, 'deny', 'default-deny')],
  },
  {
    name: 'Istio policies decide TCP only',
    policies: [AP('foo', 'deny-all', { action: 'DENY', rules: [{}] })],
    checks: [c('foo/web', 'foo/api', 53, 'allow', 'default-allow', { proto: 'UDP' }), c('foo/web', 'foo/api', 53, 'deny', APID('foo', 'deny-all'))],
  },
  {
    name: 'security.istio.io/v1beta1 is accepted',
    policies: [AP('foo', 'old', { action: 'DENY', rules: [{}] }, 'security.istio.io/v1beta1')],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', APID('foo', 'old'))],
  },
  {
    name: 'several DENY rules match: the first by namespace/name is reported',
    policies: [AP('foo', 'z-deny', { action: 'DENY', rules: [{}] }), AP('foo', 'a-deny', { action: 'DENY', rules: [{}] })],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', APID('foo', 'a-deny'))],
  },
  {
    name: 'spoofed source address: identity rules follow the verified identity, IP rules the address',
    policies: [AP('foo', 'p', { selector: apiSel, rules: [{ from: [{ source: { principals: [P('bar', 'client')], ipBlocks: ['198.18.0.4/32'] } }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'allow'), c('bar/client', 'foo/api', 9080, 'deny', 'default-deny', { srcIp: '198.18.0.99' })],
  },
];

const K8S: Case[] = [
  {
    name: 'NetworkPolicy: default-deny ingress isolates every pod of the namespace',
    policies: [NP('foo', 'deny-all', { podSelector: {}, policyTypes: ['Ingress'] })],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', 'k8s-isolation'), c('foo/web', 'bar/db', 5432, 'allow', 'default-allow')],
  },
  {
    name: 'NetworkPolicy: allow-all ingress ({} rule)',
    policies: [NP('foo', 'allow-all', { podSelector: {}, ingress: [{}] })],
    checks: [c('bar/client', 'foo/api', 9080, 'allow', NPIN('foo', 'allow-all')), c('203.0.113.9', 'foo/api', 9080, 'allow')],
  },
  {
    name: 'NetworkPolicy: podSelector peer means pods of the policy namespace',
    policies: [NP('foo', 'web-to-api', { podSelector: { matchLabels: { app: 'api' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow', NPIN('foo', 'web-to-api')), c('bar/client', 'foo/api', 9080, 'deny', 'k8s-isolation')],
  },
  {
    name: 'NetworkPolicy: podSelector peer in another namespace does not match',
    policies: [NP('foo', 'client', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'deny', 'k8s-isolation')],
  },
  {
    name: 'NetworkPolicy: namespaceSelector alone admits every pod of those namespaces',
    policies: [NP('foo', 'team-b', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'b' } } }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'allow'), c('bar/db', 'foo/api', 9080, 'allow'), c('dev/tool', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'NetworkPolicy: podSelector and namespaceSelector in one element are ANDed',
    policies: [NP('foo', 'and', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'b' } }, podSelector: { matchLabels: { app: 'client' } } }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'allow', NPIN('foo', 'and')), c('bar/db', 'foo/api', 9080, 'deny', 'k8s-isolation')],
  },
  {
    name: 'NetworkPolicy: podSelector and namespaceSelector in two elements are ORed',
    policies: [NP('foo', 'or', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'b' } } }, { podSelector: { matchLabels: { app: 'web' } } }] }] })],
    checks: [c('bar/db', 'foo/api', 9080, 'allow'), c('foo/web', 'foo/api', 9080, 'allow'), c('dev/tool', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'NetworkPolicy: namespaceSelector on the automatic kubernetes.io/metadata.name label',
    policies: [NP('foo', 'by-name', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dev' } } }] }] })],
    checks: [c('dev/tool', 'foo/api', 9080, 'allow'), c('bar/db', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'NetworkPolicy: matchExpressions NotIn on namespaces',
    policies: [NP('foo', 'not-dev', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] } }] }] })],
    checks: [c('bar/db', 'foo/api', 9080, 'allow'), c('dev/tool', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'NetworkPolicy: ipBlock with except',
    policies: [NP('foo', 'ip', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '198.18.0.0/24', except: ['198.18.0.0/30'] } }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'allow'), c('bar/db', 'foo/api', 9080, 'deny'), c('dev/tool', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'NetworkPolicy: ipBlock admits peers without an enforcer',
    policies: [NP('foo', 'ext', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '203.0.113.0/24' } }] }] })],
    checks: [c('203.0.113.9', 'foo/api', 9080, 'allow'), c('198.51.100.9', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'NetworkPolicy: selectors never match a peer without an enforcer',
    policies: [NP('foo', 'legacy', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'legacy' } } }] }] })],
    checks: [c('foo/legacy', 'foo/api', 9080, 'deny', 'k8s-isolation')],
  },
  {
    name: 'NetworkPolicy: numeric port',
    policies: [NP('foo', 'port', { podSelector: {}, ingress: [{ ports: [{ port: 9080 }] }] })],
    checks: [c('bar/db', 'foo/api', 9080, 'allow'), c('bar/db', 'foo/api', 15090, 'deny')],
  },
  {
    name: 'NetworkPolicy: named port resolves on the destination pod',
    policies: [NP('foo', 'named', { podSelector: {}, ingress: [{ ports: [{ port: 'http' }] }] })],
    checks: [c('bar/db', 'foo/api', 9080, 'allow'), c('bar/db', 'foo/web', 8080, 'allow'), c('bar/db', 'foo/api', 8080, 'deny'), c('bar/db', 'foo/api', 15090, 'deny')],
  },
  {
    name: 'NetworkPolicy: endPort range',
    policies: [NP('foo', 'range', { podSelector: {}, ingress: [{ ports: [{ port: 8000, endPort: 9100 }] }] })],
    checks: [c('bar/db', 'foo/api', 8000, 'allow'), c('bar/db', 'foo/api', 9100, 'allow'), c('bar/db', 'foo/api', 9101, 'deny'), c('bar/db', 'foo/api', 7999, 'deny')],
  },
  {
    name: 'NetworkPolicy: protocol',
    policies: [NP('foo', 'dns', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP', port: 53 }] }] })],
    checks: [c('bar/db', 'foo/api', 53, 'allow', undefined, { proto: 'UDP' }), c('bar/db', 'foo/api', 53, 'deny')],
  },
  {
    name: 'NetworkPolicy: peers and ports in one rule are ANDed',
    policies: [NP('foo', 'both', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 9080 }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow'), c('foo/web', 'foo/api', 15090, 'deny'), c('bar/db', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'NetworkPolicy: policies are additive',
    policies: [
      NP('foo', 'a', { podSelector: { matchLabels: { app: 'api' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }] }),
      NP('foo', 'b', { podSelector: { matchLabels: { app: 'api' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'b' } } }] }] }),
    ],
    checks: [c('foo/web', 'foo/api', 9080, 'allow', NPIN('foo', 'a')), c('bar/db', 'foo/api', 9080, 'allow', NPIN('foo', 'b')), c('dev/tool', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'NetworkPolicy: egress isolation denies what the source may not send',
    policies: [NP('foo', 'no-egress', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'] })],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', 'k8s-isolation'), c('foo/api', 'foo/web', 8080, 'allow')],
  },
  {
    name: 'NetworkPolicy: egress to a pod in another namespace on a port',
    policies: [NP('foo', 'to-db', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { team: 'b' } }, podSelector: { matchLabels: { app: 'db' } } }], ports: [{ port: 5432 }] }] })],
    checks: [c('foo/web', 'bar/db', 5432, 'allow', NPEG('foo', 'to-db')), c('foo/web', 'bar/db', 5433, 'deny'), c('foo/web', 'foo/api', 9080, 'deny', 'k8s-isolation')],
  },
  {
    name: 'NetworkPolicy: egress named port resolves on the destination pod',
    policies: [NP('foo', 'named-eg', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'postgres' }] }] })],
    checks: [c('foo/web', 'bar/db', 5432, 'allow'), c('foo/web', 'foo/api', 5432, 'deny')],
  },
  {
    name: 'NetworkPolicy: egress to an external CIDR',
    policies: [NP('foo', 'ext', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }] }] })],
    checks: [c('foo/web', '203.0.113.9', 443, 'allow'), c('foo/web', '198.51.100.1', 443, 'deny')],
  },
  {
    name: 'NetworkPolicy: an egress section alone implies both policy types',
    policies: [NP('foo', 'implied', { podSelector: { matchLabels: { app: 'web' } }, egress: [{}] })],
    checks: [c('foo/api', 'foo/web', 8080, 'deny', 'k8s-isolation'), c('foo/web', 'foo/api', 9080, 'allow')],
  },
  {
    name: 'NetworkPolicy: source egress and destination ingress must both allow',
    policies: [
      NP('foo', 'web-out', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{}] }),
      NP('bar', 'db-in', { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }] }),
    ],
    checks: [c('foo/web', 'bar/db', 5432, 'deny', 'k8s-isolation'), c('bar/client', 'bar/db', 5432, 'allow', NPIN('bar', 'db-in'))],
  },
  {
    name: 'NetworkPolicy: policies do not reach other namespaces',
    policies: [NP('dev', 'deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow'), c('dev/tool', 'foo/api', 9080, 'deny', 'k8s-isolation')],
  },
];

const COMBINED: Case[] = [
  {
    name: 'combined: Istio allows, Kubernetes isolation denies',
    policies: [AP('foo', 'allow', { rules: [{}] }), NP('foo', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', 'k8s-isolation')],
  },
  {
    name: 'combined: Kubernetes allows, Istio DENY denies',
    policies: [AP('foo', 'deny-web', { action: 'DENY', rules: [{ from: [{ source: { principals: [P('foo', 'web')] } }] }] }), NP('foo', 'all', { podSelector: {}, ingress: [{}] })],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', APID('foo', 'deny-web')), c('bar/db', 'foo/api', 9080, 'allow', NPIN('foo', 'all'))],
  },
  {
    name: 'combined: both layers allow; the Istio rule is reported first',
    policies: [AP('foo', 'allow', { rules: [{}] }), NP('foo', 'all', { podSelector: {}, ingress: [{}] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow', APID('foo', 'allow'))],
  },
  {
    name: 'combined: a destination without an enforcer does not enforce its ingress',
    policies: [AP('foo', 'deny-all', { action: 'DENY', rules: [{}] })],
    checks: [c('foo/web', 'foo/legacy', 80, 'allow', 'default-allow')],
  },
];

const NATIVE: Case[] = [
  {
    name: 'native: label selector key=value',
    policies: [SP('foo', 'web', { selector: apiSel, rules: [{ from: [{ source: { labels: ['app=web'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow', SPID('foo', 'web')), c('bar/client', 'foo/api', 9080, 'deny', 'default-deny')],
  },
  {
    name: 'native: key!=value',
    policies: [SP('foo', 'ne', { selector: apiSel, rules: [{ from: [{ source: { labels: ['app!=web'] } }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'allow'), c('foo/web', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'native: key exists and !key',
    policies: [
      SP('foo', 'has-tier', { selector: apiSel, rules: [{ from: [{ source: { labels: ['tier'] } }] }] }),
      SP('foo', 'no-tier', { selector: { matchLabels: { app: 'web' } }, rules: [{ from: [{ source: { labels: ['!tier'] } }] }] }),
    ],
    checks: [c('bar/client', 'foo/api', 9080, 'allow'), c('bar/db', 'foo/api', 9080, 'deny'), c('bar/db', 'foo/web', 8080, 'allow'), c('bar/client', 'foo/web', 8080, 'deny')],
  },
  {
    name: 'native: value prefix and suffix *',
    policies: [SP('foo', 'pre', { selector: apiSel, rules: [{ from: [{ source: { labels: ['app=cl*'] } }] }, { from: [{ source: { labels: ['app=*ol'] } }] }] })],
    checks: [c('bar/client', 'foo/api', 9080, 'allow', SPID('foo', 'pre', 0)), c('dev/tool', 'foo/api', 9080, 'allow', SPID('foo', 'pre', 1)), c('bar/db', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'native: label expressions are ANDed',
    policies: [SP('foo', 'and', { selector: apiSel, rules: [{ from: [{ source: { labels: ['tier=front', 'app=web'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow'), c('bar/client', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'native: labels never match a peer without an enforcer',
    policies: [SP('foo', 'legacy', { selector: apiSel, rules: [{ from: [{ source: { labels: ['!tier'] } }] }] })],
    checks: [c('foo/legacy', 'foo/api', 9080, 'deny')],
  },
  {
    name: 'native: external networks admit only peers without an enforcer',
    policies: [SP('foo', 'ext', { selector: apiSel, rules: [{ from: [{ source: { networks: ['203.0.113.0/24'] } }] }] })],
    checks: [c('203.0.113.9', 'foo/api', 9080, 'allow', SPID('foo', 'ext')), c('foo/web', 'foo/api', 9080, 'deny', 'default-deny', { srcIp: '203.0.113.9' })],
  },
  {
    name: 'native: port ranges',
    policies: [SP('foo', 'range', { selector: apiSel, rules: [{ to: [{ operation: { ports: ['9000-9999'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow'), c('foo/web', 'foo/api', 15090, 'deny')],
  },
  {
    name: 'native: selector by label expression',
    policies: [SP('foo', 'sel', { selector: { labels: ['version'] }, action: 'DENY', rules: [{}] })],
    checks: [c('foo/web', 'foo/api', 9080, 'deny', SPID('foo', 'sel')), c('foo/api', 'foo/web', 8080, 'allow')],
  },
  {
    name: 'native: Egress policy on the source',
    policies: [SP('foo', 'web-out', { selector: { matchLabels: { app: 'web' } }, direction: 'Egress', rules: [{ to: [{ destination: { labels: ['app=db'] }, operation: { ports: ['5432'] } }] }] })],
    checks: [c('foo/web', 'bar/db', 5432, 'allow', SPID('foo', 'web-out')), c('foo/web', 'foo/api', 9080, 'deny', 'default-deny'), c('foo/api', 'bar/db', 5432, 'allow')],
  },
  {
    name: 'native and Istio layers must both allow',
    policies: [AP('foo', 'istio', { selector: apiSel, rules: [{}] }), SP('foo', 'native', { selector: apiSel, rules: [{ from: [{ source: { labels: ['app=web'] } }] }] })],
    checks: [c('foo/web', 'foo/api', 9080, 'allow', APID('foo', 'istio')), c('bar/db', 'foo/api', 9080, 'deny', 'default-deny')],
  },
];

const ALL_CASES = [...ISTIO, ...K8S, ...COMBINED, ...NATIVE];

describe('policy conformance', () => {
  test('at least 60 cases', () => {
    expect(ALL_CASES.length).toBeGreaterThanOrEqual(60);
  });
  for (const k of ALL_CASES) {
    test(k.name, () => {
      const yaml = k.policies.map((p) => stringify(p)).join('---\n');
      const t = table(yaml, k.opts ?? {}, k.inventory === undefined ? inventory() : inventory(k.inventory));
      for (const ch of k.checks) {
        const q = { from: ch.from, to: ch.to, port: ch.port, ...(ch.proto === undefined ? {} : { proto: ch.proto }), ...(ch.srcIp === undefined ? {} : { srcIp: ch.srcIp }) };
        const r = ev(t, q);
        const label = `${ch.from} -> ${ch.to}:${ch.port} ${JSON.stringify(r)}`;
        expect(r.verdict, label).toBe(ch.expect);
        if (ch.rule !== undefined) expect(r.rule, label).toBe(ch.rule);
        if (ch.audit !== undefined) expect(r.audit, label).toEqual(ch.audit);
      }
    });
  }
});

describe('L7 warnings name the field and the file:line', () => {
  test('ALLOW and DENY with L7 fields warn, and are not errors', () => {
    const text = stringify(AP('foo', 'l7', { rules: [{ to: [{ operation: { methods: ['GET'], ports: ['80'] } }] }] }));
    const r = loadPolicyTexts([{ file: 'l7.yaml', text }]);
    expect(r.policies.length).toBe(1);
    const w = r.diagnostics.filter((d) => d.severity === 'warning');
    expect(w.length).toBe(1);
    expect(w[0]?.path).toBe('spec.rules[0].to[0].operation.methods');
    expect(w[0]?.message).toContain('never matches');
    expect(w[0]?.file).toBe('l7.yaml');
    expect(w[0]?.line).toBeGreaterThan(1);
    const d = loadPolicyTexts([{ file: 'd.yaml', text: stringify(AP('foo', 'd', { action: 'DENY', rules: [{ when: [{ key: 'request.headers[x]', values: ['1'] }] }] })) }]);
    expect(d.diagnostics.map((x) => x.message).join()).toContain('denies on its L4 part');
  });
});
